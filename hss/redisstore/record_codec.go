package redisstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"time"

	"github.com/rcmhss/rcmhss/hss"
)

// Record encodings. Compact binary rather than JSON keeps a subscriber well
// under 1 KiB of Redis memory and lets ReserveSQN read K, OPc and AMF from the
// head of the record without decoding the profile. Integers are uvarints,
// strings and byte strings are uvarint length || bytes, times are zigzag varint
// Unix nanoseconds (0: unset).
//
//	subscriber v1: 0x01 | AMF(2) | sealed K | sealed OPc | sealed OP (empty: none)
//	  | MSISDN | status | network access mode | AMBR UL | AMBR DL
//	  | default context id | access restriction | flags (bit0 roaming allowed,
//	    bit1 non-3GPP access allowed) | periodic RAU/TAU timer
//	  | count | PLMN(3)...      allowed visited PLMNs
//	  | count | APN...          context id | name | PDN type | QCI | ARP priority
//	                            | ARP flags (bit0 capability, bit1 vulnerability)
//	                            | AMBR UL | AMBR DL | static IPv4 | static IPv6
//	                            (netip binary form, empty: none)
//	  | count | context id...  non-3GPP APNs
//	  | created at | updated at
//	mme v1: 0x01 | host | realm | visited PLMN(3) | RAT type | ULR flags | IMEI
//	  | software version | purged(1) | NOR flags | updated at
//	aaa v1: 0x01 | server name | realm | updated at
const (
	recordV1 byte = 0x01
	mmeV1    byte = 0x01
	aaaV1    byte = 0x01
)

// errCorrupt marks a record that does not decode: written by something else,
// or damaged. It is never the caller's fault, so it does not wrap ErrInvalidInput.
var errCorrupt = errors.New("corrupt record")

// Bounds that keep a damaged length from allocating wildly.
const (
	maxString = 1 << 12
	maxItems  = 1 << 10
)

type encoder struct{ b []byte }

func (e *encoder) byte1(v byte)    { e.b = append(e.b, v) }
func (e *encoder) uint(v uint64)   { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) bytes(v []byte)  { e.uint(uint64(len(v))); e.b = append(e.b, v...) }
func (e *encoder) string(v string) { e.uint(uint64(len(v))); e.b = append(e.b, v...) }
func (e *encoder) time(t time.Time) {
	if t.IsZero() {
		e.b = binary.AppendVarint(e.b, 0)
		return
	}
	e.b = binary.AppendVarint(e.b, t.UnixNano())
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%s: %w", what, errCorrupt)
	}
}

func (d *decoder) byte1() byte {
	if d.err != nil || len(d.b) < 1 {
		d.fail("truncated")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	// Only the shortest form is accepted, so that a record has one encoding.
	if n <= 0 || n != uvarintLen(v) {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// uvarintLen is the length of the shortest uvarint encoding of v.
func uvarintLen(v uint64) int { return max(1, (bits.Len64(v)+6)/7) }

// zigzag maps a signed value to the unsigned one binary.AppendVarint encodes.
func zigzag(v int64) uint64 { return uint64(v<<1) ^ uint64(v>>63) }

func (d *decoder) uint32() uint32 {
	v := d.uint()
	if v > 1<<32-1 {
		d.fail("value exceeds 32 bits")
	}
	return uint32(v)
}

func (d *decoder) count() int {
	v := d.uint()
	if v > maxItems {
		d.fail("implausible count")
		return 0
	}
	return int(v)
}

func (d *decoder) bytes() []byte {
	n := d.uint()
	if d.err != nil {
		return nil
	}
	if n > maxString || n > uint64(len(d.b)) {
		d.fail("bad length")
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string { return string(d.bytes()) }

func (d *decoder) fixed(dst []byte) {
	if d.err != nil || len(d.b) < len(dst) {
		d.fail("truncated")
		return
	}
	copy(dst, d.b)
	d.b = d.b[len(dst):]
}

func (d *decoder) time() time.Time {
	if d.err != nil {
		return time.Time{}
	}
	v, n := binary.Varint(d.b)
	if n <= 0 || n != uvarintLen(zigzag(v)) {
		d.fail("bad time")
		return time.Time{}
	}
	d.b = d.b[n:]
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(0, v).UTC()
}

func (d *decoder) addr() netip.Addr {
	var a netip.Addr
	b := d.bytes()
	if d.err == nil && a.UnmarshalBinary(b) != nil {
		d.fail("bad address")
	}
	return a
}

func (d *decoder) end() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	return d.err
}

// sealedKeys is the head of a subscriber record.
type sealedKeys struct {
	AMF        [2]byte
	K, OPc, OP []byte // OP empty when none
}

func encodeSubscriber(keys sealedKeys, s *hss.Subscriber) []byte {
	e := encoder{b: make([]byte, 0, 256)}
	e.byte1(recordV1)
	e.b = append(e.b, keys.AMF[:]...)
	e.bytes(keys.K)
	e.bytes(keys.OPc)
	e.bytes(keys.OP)
	e.string(string(s.MSISDN))
	e.uint(uint64(s.Status))
	e.uint(uint64(s.NetworkAccessMode))
	e.uint(uint64(s.AMBR.UL))
	e.uint(uint64(s.AMBR.DL))
	e.uint(uint64(s.DefaultContextID))
	e.uint(uint64(s.AccessRestriction))
	var flags byte
	if s.RoamingAllowed {
		flags |= 1
	}
	if s.Non3GPP.AccessAllowed {
		flags |= 2
	}
	e.byte1(flags)
	e.uint(uint64(s.PeriodicRAUTAUTimer))
	e.uint(uint64(len(s.AllowedVisitedPLMNs)))
	for _, p := range s.AllowedVisitedPLMNs {
		e.b = append(e.b, p[:]...)
	}
	e.uint(uint64(len(s.APNs)))
	for _, a := range s.APNs {
		e.uint(uint64(a.ContextID))
		e.string(a.Name)
		e.uint(uint64(a.PDNType))
		e.byte1(a.QCI)
		e.byte1(a.ARP.PriorityLevel)
		var arp byte
		if a.ARP.PreemptionCapability {
			arp |= 1
		}
		if a.ARP.PreemptionVulnerability {
			arp |= 2
		}
		e.byte1(arp)
		e.uint(uint64(a.AMBR.UL))
		e.uint(uint64(a.AMBR.DL))
		v4, _ := a.StaticIPv4.MarshalBinary()
		e.bytes(v4)
		v6, _ := a.StaticIPv6.MarshalBinary()
		e.bytes(v6)
	}
	e.uint(uint64(len(s.Non3GPP.APNContextIDs)))
	for _, id := range s.Non3GPP.APNContextIDs {
		e.uint(uint64(id))
	}
	e.time(s.CreatedAt)
	e.time(s.UpdatedAt)
	return e.b
}

// decodeKeys reads only the head of a subscriber record (the ReserveSQN path).
func decodeKeys(b []byte) (sealedKeys, *decoder) {
	d := &decoder{b: b}
	var k sealedKeys
	if v := d.byte1(); d.err == nil && v != recordV1 {
		d.err = fmt.Errorf("unknown record version %d: %w", v, errCorrupt)
	}
	d.fixed(k.AMF[:])
	k.K = d.bytes()
	k.OPc = d.bytes()
	k.OP = d.bytes()
	return k, d
}

// decodeSubscriber decodes a full record; the keys stay sealed. The IMSI and SQN
// are not in the record: the caller sets them.
func decodeSubscriber(b []byte) (sealedKeys, *hss.Subscriber, error) {
	keys, d := decodeKeys(b)
	s := &hss.Subscriber{AMF: keys.AMF}
	s.MSISDN = hss.MSISDN(d.string())
	s.Status = hss.SubscriberStatus(d.uint32())
	s.NetworkAccessMode = hss.NetworkAccessMode(d.uint32())
	s.AMBR.UL = d.uint32()
	s.AMBR.DL = d.uint32()
	s.DefaultContextID = d.uint32()
	s.AccessRestriction = hss.AccessRestriction(d.uint32())
	flags := d.byte1()
	if flags > 3 {
		d.fail("unknown flags")
	}
	s.RoamingAllowed = flags&1 != 0
	s.Non3GPP.AccessAllowed = flags&2 != 0
	s.PeriodicRAUTAUTimer = d.uint32()
	if n := d.count(); n > 0 {
		s.AllowedVisitedPLMNs = make([]hss.PLMN, n)
		for i := range s.AllowedVisitedPLMNs {
			d.fixed(s.AllowedVisitedPLMNs[i][:])
		}
	}
	if n := d.count(); n > 0 {
		s.APNs = make([]hss.APNConfiguration, n)
		for i := range s.APNs {
			a := &s.APNs[i]
			a.ContextID = d.uint32()
			a.Name = d.string()
			a.PDNType = hss.PDNType(d.uint32())
			a.QCI = d.byte1()
			a.ARP.PriorityLevel = d.byte1()
			arp := d.byte1()
			if arp > 3 {
				d.fail("unknown arp flags")
			}
			a.ARP.PreemptionCapability = arp&1 != 0
			a.ARP.PreemptionVulnerability = arp&2 != 0
			a.AMBR.UL = d.uint32()
			a.AMBR.DL = d.uint32()
			a.StaticIPv4 = d.addr()
			a.StaticIPv6 = d.addr()
		}
	}
	if n := d.count(); n > 0 {
		s.Non3GPP.APNContextIDs = make([]uint32, n)
		for i := range s.Non3GPP.APNContextIDs {
			s.Non3GPP.APNContextIDs[i] = d.uint32()
		}
	}
	s.CreatedAt = d.time()
	s.UpdatedAt = d.time()
	if err := d.end(); err != nil {
		return sealedKeys{}, nil, err
	}
	return keys, s, nil
}

// checkLen refuses strings the decoder would take for damage.
func checkLen(field string, v string) error {
	if len(v) > maxString {
		return fmt.Errorf("%s longer than %d bytes: %w", field, maxString, hss.ErrInvalidInput)
	}
	return nil
}

func encodeMME(r *hss.MMERegistration) ([]byte, error) {
	if err := errors.Join(checkLen("host", r.Host), checkLen("realm", r.Realm),
		checkLen("imei", r.IMEI), checkLen("software version", r.SoftwareVersion)); err != nil {
		return nil, err
	}
	e := encoder{b: make([]byte, 0, 128)}
	e.byte1(mmeV1)
	e.string(r.Host)
	e.string(r.Realm)
	e.b = append(e.b, r.VisitedPLMN[:]...)
	e.uint(uint64(r.RATType))
	e.uint(uint64(r.ULRFlags))
	e.string(r.IMEI)
	e.string(r.SoftwareVersion)
	var purged byte
	if r.Purged {
		purged = 1
	}
	e.byte1(purged)
	e.uint(uint64(r.NORFlags))
	e.time(r.UpdatedAt)
	return e.b, nil
}

func decodeMME(b []byte) (*hss.MMERegistration, error) {
	d := &decoder{b: b}
	if v := d.byte1(); d.err == nil && v != mmeV1 {
		return nil, fmt.Errorf("unknown mme registration version %d: %w", v, errCorrupt)
	}
	r := &hss.MMERegistration{}
	r.Host = d.string()
	r.Realm = d.string()
	d.fixed(r.VisitedPLMN[:])
	r.RATType = hss.RATType(d.uint32())
	r.ULRFlags = hss.ULRFlags(d.uint32())
	r.IMEI = d.string()
	r.SoftwareVersion = d.string()
	switch d.byte1() {
	case 0:
	case 1:
		r.Purged = true
	default:
		d.fail("bad purged flag")
	}
	r.NORFlags = d.uint32()
	r.UpdatedAt = d.time()
	if err := d.end(); err != nil {
		return nil, err
	}
	return r, nil
}

func encodeAAA(r *hss.AAARegistration) ([]byte, error) {
	if err := errors.Join(checkLen("server name", r.ServerName), checkLen("realm", r.Realm)); err != nil {
		return nil, err
	}
	e := encoder{b: make([]byte, 0, 64)}
	e.byte1(aaaV1)
	e.string(r.ServerName)
	e.string(r.Realm)
	e.time(r.UpdatedAt)
	return e.b, nil
}

func decodeAAA(b []byte) (*hss.AAARegistration, error) {
	d := &decoder{b: b}
	if v := d.byte1(); d.err == nil && v != aaaV1 {
		return nil, fmt.Errorf("unknown aaa registration version %d: %w", v, errCorrupt)
	}
	r := &hss.AAARegistration{}
	r.ServerName = d.string()
	r.Realm = d.string()
	r.UpdatedAt = d.time()
	if err := d.end(); err != nil {
		return nil, err
	}
	return r, nil
}
