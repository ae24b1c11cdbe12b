package diameter

import (
	"encoding/binary"
	"strings"
	"sync"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	diamdict "github.com/fiorix/go-diameter/v4/diam/dict"
)

// avpDecoder decodes the AVPs of one validated message into the same
// go-diameter values diam.DecodeAVP produces, with fewer allocations (it is
// the request hot path: every request is decoded before it is dispatched).
// The AVP structs of the message come from one slice. diam.DecodeAVP copies
// every string value twice; here OctetString values are substrings of one
// copy of the message body, UTF8String and DiameterURI values are copied
// once (a User-Name may become a long-lived map key, which must not pin the
// whole request), and DiameterIdentity values (Origin-Host, realms: a small
// set per deployment, often kept in registrations) come from a bounded
// intern table, without allocating once seen.
//
// It only runs after validateAVPs accepted the structure. Anything it does
// not handle itself (an AVP the dictionary does not know, a type without a
// fast path that fails to decode) makes decode report false, and the
// caller decodes that top-level AVP with diam.DecodeAVP, so errors and odd
// values come out exactly as before.
type avpDecoder struct {
	d      *diamdict.Parser
	app    uint32
	body   string // one copy of the message body
	arena  []diam.AVP
	intern *internTable
}

// maxInterned bounds the intern table: peers choose identities, and
// beyond this many distinct ones each is simply copied.
const maxInterned = 4096

// internTable maps identities to one shared copy.
type internTable struct {
	mu sync.RWMutex
	m  map[string]string
}

func (t *internTable) get(s string) string {
	if t == nil {
		return strings.Clone(s)
	}
	t.mu.RLock()
	v, ok := t.m[s]
	t.mu.RUnlock()
	if ok {
		return v
	}
	v = strings.Clone(s)
	t.mu.Lock()
	if t.m == nil {
		t.m = make(map[string]string)
	}
	if len(t.m) < maxInterned {
		t.m[v] = v
	}
	t.mu.Unlock()
	return v
}

func (x *avpDecoder) alloc() *diam.AVP {
	if len(x.arena) == 0 {
		x.arena = make([]diam.AVP, 8)
	}
	a := &x.arena[0]
	x.arena = x.arena[1:]
	return a
}

// decode decodes the AVP at body[off:off+l] (l its length field).
func (x *avpDecoder) decode(off, l int, depth int) (*diam.AVP, bool) {
	if depth > maxGroupDepth {
		return nil, false
	}
	b := x.body[off : off+l]
	code := binary.BigEndian.Uint32([]byte(b[0:4]))
	flags := b[4]
	hl := 8
	var vendor uint32
	if flags&avp.Vbit != 0 {
		hl = 12
		vendor = binary.BigEndian.Uint32([]byte(b[8:12]))
	}
	da, err := x.d.FindAVPByCode(x.app, code, vendor)
	if err != nil || da == nil {
		return nil, false
	}
	ps, pe := off+hl, off+l
	var data datatype.Type
	switch da.Data.Type {
	case datatype.OctetStringType:
		data = datatype.OctetString(x.body[ps:pe])
	case datatype.UTF8StringType:
		data = datatype.UTF8String(strings.Clone(x.body[ps:pe]))
	case datatype.DiameterIdentityType:
		data = datatype.DiameterIdentity(x.intern.get(x.body[ps:pe]))
	case datatype.DiameterURIType:
		data = datatype.DiameterURI(strings.Clone(x.body[ps:pe]))
	case datatype.Unsigned32Type:
		data = datatype.Unsigned32(x.u32(ps, pe))
	case datatype.EnumeratedType:
		data = datatype.Enumerated(x.u32(ps, pe))
	case datatype.Integer32Type:
		data = datatype.Integer32(x.u32(ps, pe))
	case datatype.GroupedType:
		g := &diam.GroupedAVP{}
		for moff := ps; moff < pe; {
			if pe-moff < 8 {
				return nil, false
			}
			ml := int(uint24([]byte(x.body[moff+5 : moff+8])))
			if ml < 8 || moff+ml > pe {
				return nil, false
			}
			m, ok := x.decode(moff, ml, depth+1)
			if !ok {
				return nil, false
			}
			g.AVP = append(g.AVP, m)
			moff += min(pad4(ml), pe-moff)
		}
		data = g
	default:
		d, err := datatype.Decode(da.Data.Type, []byte(x.body[ps:pe]))
		if err != nil {
			return nil, false
		}
		data = d
	}
	a := x.alloc()
	*a = diam.AVP{Code: code, Flags: flags, Length: l, VendorID: vendor, Data: data}
	return a, true
}

// u32 reads a 4-octet value as go-diameter does: any other length is 0
// (validateAVPs has refused those already).
func (x *avpDecoder) u32(ps, pe int) uint32 {
	if pe-ps != 4 {
		return 0
	}
	b := x.body[ps:pe]
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
