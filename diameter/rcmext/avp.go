package rcmext

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/rcm"
)

// RCM AVP codes (docs/rcm-crypto.md section 1, dict/rcm.xml).
const (
	CodeBootstrapInfo       uint32 = 32401
	CodeConnectionType      uint32 = 32402
	CodeIMEI                uint32 = 32403
	CodeCertificateChain    uint32 = 32404
	CodeDeviceEphemeralKey  uint32 = 32405
	CodeTimestamp           uint32 = 32406
	CodeDeviceSignature     uint32 = 32407
	CodeBindingInfo         uint32 = 32408
	CodeHSSEphemeralKey     uint32 = 32409
	CodeHSSSignature        uint32 = 32410
	CodeHSSCertificateChain uint32 = 32411
)

// rawAVP is one AVP parsed from the bytes of a group.
type rawAVP struct {
	code   uint32
	flags  uint8
	vendor uint32
	data   []byte
}

func (r rawAVP) avp() *diam.AVP {
	return diam.NewAVP(r.code, r.flags, r.vendor, datatype.OctetString(r.data))
}

var errFraming = errors.New("bad avp framing")

// parseAVPs splits the payload of a Grouped AVP (RFC 6733 4.1, 4.4). It does
// not depend on go-diameter's dictionary, which knows the RCM AVPs only under
// the vendor id of dict/rcm.xml. The data slices alias b.
func parseAVPs(b []byte) ([]rawAVP, error) {
	var out []rawAVP
	for len(b) > 0 {
		if len(b) < 8 {
			return nil, errFraming
		}
		r := rawAVP{code: binary.BigEndian.Uint32(b), flags: b[4]}
		n := int(b[5])<<16 | int(b[6])<<8 | int(b[7])
		hdr := 8
		if r.flags&avp.Vbit != 0 {
			hdr = 12
		}
		if n < hdr || n > len(b) {
			return nil, errFraming
		}
		if hdr == 12 {
			r.vendor = binary.BigEndian.Uint32(b[8:])
		}
		r.data = b[hdr:n:n]
		padded := (n + 3) &^ 3
		if padded > len(b) {
			padded = len(b) // RFC 6733 4.1: the last AVP's padding may be missing
		}
		out = append(out, r)
		b = b[padded:]
	}
	return out, nil
}

// findBootstrap returns the RCM-Bootstrap-Info AVP of an AIR (nil if none);
// more than one is DIAMETER_AVP_OCCURS_TOO_MANY_TIMES (RFC 6733 7.1.5).
func findBootstrap(m *diam.Message, vendor uint32) (*diam.AVP, error) {
	var found *diam.AVP
	for _, a := range m.AVP {
		if a == nil || a.Code != CodeBootstrapInfo || a.VendorID != vendor {
			continue
		}
		if found != nil {
			return nil, &diameter.AVPError{Code: diameter.CodeAVPOccursTooManyTimes, AVP: a, Reason: "more than one rcm-bootstrap-info"}
		}
		found = a
	}
	return found, nil
}

// DecodeBootstrap reads the payload of RCM-Bootstrap-Info (docs/rcm-crypto.md
// section 2): framing and lengths only; rcm.Bootstrap.Check and the Verifier
// judge the values. Errors are *diameter.AVPError naming the offending AVP
// (5004, or 5005 for a missing member) and wrap nothing secret.
func DecodeBootstrap(group []byte, vendor uint32) (*rcm.Bootstrap, error) {
	members, err := parseAVPs(group)
	if err != nil {
		return nil, &diameter.AVPError{Code: diameter.CodeInvalidAVPValue,
			AVP: diam.NewAVP(CodeBootstrapInfo, avp.Vbit, vendor, datatype.OctetString(group)), Reason: "rcm-bootstrap-info: " + err.Error()}
	}
	var b rcm.Bootstrap
	seen := map[uint32]bool{}
	for _, m := range members {
		if m.vendor != vendor || m.code < CodeConnectionType || m.code > CodeDeviceSignature {
			continue // *[AVP]
		}
		if seen[m.code] {
			return nil, &diameter.AVPError{Code: diameter.CodeAVPOccursTooManyTimes, AVP: m.avp(), Reason: "rcm-bootstrap-info member repeated"}
		}
		seen[m.code] = true
		switch m.code {
		case CodeConnectionType:
			if len(m.data) != 4 {
				return nil, invalid(m, "rcm-connection-type must be 4 octets")
			}
			b.ConnectionType = rcm.ConnectionType(binary.BigEndian.Uint32(m.data))
		case CodeIMEI:
			b.IMEI = rcm.IMEI(m.data)
		case CodeCertificateChain:
			chain, err := rcm.DecodeCertChain(m.data)
			if err != nil {
				return nil, invalid(m, "rcm-certificate-chain framing")
			}
			b.CertChain = chain
		case CodeDeviceEphemeralKey:
			b.DeviceEphemeral = m.data
		case CodeTimestamp:
			ts, err := rcm.DecodeTimestamp(m.data)
			if err != nil {
				return nil, invalid(m, "rcm-timestamp must be 8 octets")
			}
			b.Timestamp = ts
		case CodeDeviceSignature:
			b.Signature = m.data
		}
	}
	// docs/rcm-crypto.md section 1: every member is required.
	for _, c := range []uint32{CodeConnectionType, CodeIMEI, CodeCertificateChain, CodeDeviceEphemeralKey, CodeTimestamp, CodeDeviceSignature} {
		if !seen[c] {
			return nil, diameter.MissingAVP(c, vendor)
		}
	}
	return &b, nil
}

func invalid(m rawAVP, reason string) error {
	return &diameter.AVPError{Code: diameter.CodeInvalidAVPValue, AVP: m.avp(), Reason: reason}
}

// avpData returns the payload bytes of a decoded AVP, whatever type
// go-diameter gave it (Grouped under dict/rcm.xml's vendor id, an opaque
// value under another).
func avpData(a *diam.AVP) []byte {
	if a.Data == nil {
		return nil
	}
	return a.Data.Serialize()
}

// EncodeBootstrap builds RCM-Bootstrap-Info as an MME relays it (device
// simulator, tests).
func EncodeBootstrap(b *rcm.Bootstrap, vendor uint32) (*diam.AVP, error) {
	chain, err := rcm.EncodeCertChain(b.CertChain)
	if err != nil {
		return nil, err
	}
	f := uint8(avp.Vbit)
	return diam.NewAVP(CodeBootstrapInfo, f, vendor, &diam.GroupedAVP{AVP: []*diam.AVP{
		diam.NewAVP(CodeConnectionType, f, vendor, datatype.Enumerated(b.ConnectionType)),
		diam.NewAVP(CodeIMEI, f, vendor, datatype.UTF8String(b.IMEI)),
		diam.NewAVP(CodeCertificateChain, f, vendor, datatype.OctetString(chain)),
		diam.NewAVP(CodeDeviceEphemeralKey, f, vendor, datatype.OctetString(b.DeviceEphemeral)),
		diam.NewAVP(CodeTimestamp, f, vendor, datatype.Unsigned64(b.Timestamp)),
		diam.NewAVP(CodeDeviceSignature, f, vendor, datatype.OctetString(b.Signature)),
	}}), nil
}

// bindingInfo builds RCM-Binding-Info (docs/rcm-crypto.md section 4).
func bindingInfo(p *rcm.BindingProof, vendor uint32) (*diam.AVP, error) {
	chain, err := rcm.EncodeCertChain(p.CertChain)
	if err != nil {
		return nil, err
	}
	f := uint8(avp.Vbit)
	return diam.NewAVP(CodeBindingInfo, f, vendor, &diam.GroupedAVP{AVP: []*diam.AVP{
		diam.NewAVP(CodeHSSEphemeralKey, f, vendor, datatype.OctetString(p.HSSEphemeral)),
		diam.NewAVP(CodeHSSSignature, f, vendor, datatype.OctetString(p.Signature)),
		diam.NewAVP(CodeHSSCertificateChain, f, vendor, datatype.OctetString(chain)),
	}}), nil
}

// DecodeBindingInfo reads RCM-Binding-Info from an AIA (device side).
func DecodeBindingInfo(m *diam.Message, vendor uint32) (*rcm.BindingProof, error) {
	for _, a := range m.AVP {
		if a == nil || a.Code != CodeBindingInfo || a.VendorID != vendor {
			continue
		}
		members, err := parseAVPs(avpData(a))
		if err != nil {
			return nil, fmt.Errorf("rcmext: rcm-binding-info: %w", err)
		}
		var p rcm.BindingProof
		for _, mb := range members {
			if mb.vendor != vendor {
				continue
			}
			switch mb.code {
			case CodeHSSEphemeralKey:
				p.HSSEphemeral = mb.data
			case CodeHSSSignature:
				p.Signature = mb.data
			case CodeHSSCertificateChain:
				if p.CertChain, err = rcm.DecodeCertChain(mb.data); err != nil {
					return nil, err
				}
			}
		}
		if p.HSSEphemeral == nil || p.Signature == nil || p.CertChain == nil {
			return nil, errors.New("rcmext: rcm-binding-info: member missing")
		}
		return &p, nil
	}
	return nil, errors.New("rcmext: no rcm-binding-info")
}
