package diameter

import (
	"encoding/binary"
	"errors"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
)

var errNilAVPData = errors.New("diameter: serialize: avp without data")

// serializeMessage is diam.Message.Serialize writing the same bytes with one
// allocation: go-diameter converts every string value to a fresh []byte to
// copy it (Session-Id, Origin-Host, Origin-Realm, ... of every answer);
// here string values are copied straight into the message buffer. Types
// without a fast path are written by go-diameter itself.
func serializeMessage(m *diam.Message) ([]byte, error) {
	b := make([]byte, m.Len())
	m.Header.SerializeTo(b[:diam.HeaderLength])
	off := diam.HeaderLength
	for _, a := range m.AVP {
		n, err := serializeAVP(b[off:], a)
		if err != nil {
			return nil, err
		}
		off += n
	}
	return b, nil
}

// serializeAVP writes a into b (zeroed, long enough) and returns its padded
// length.
func serializeAVP(b []byte, a *diam.AVP) (int, error) {
	if a.Data == nil {
		return 0, errNilAVPData
	}
	var s string
	switch d := a.Data.(type) {
	case datatype.OctetString:
		s = string(d)
	case datatype.UTF8String:
		s = string(d)
	case datatype.DiameterIdentity:
		s = string(d)
	case datatype.DiameterURI:
		s = string(d)
	case *diam.GroupedAVP:
		hl := avpHeader(b, a, d.Len())
		off := hl
		for _, in := range d.AVP {
			n, err := serializeAVP(b[off:], in)
			if err != nil {
				return 0, err
			}
			off += n
		}
		return off, nil
	default:
		if err := a.SerializeTo(b); err != nil {
			return 0, err
		}
		return a.Len(), nil
	}
	hl := avpHeader(b, a, len(s))
	copy(b[hl:], s)
	return hl + pad4(len(s)), nil
}

// avpHeader writes the header of a with a value of n octets (RFC 6733 4.1)
// and returns the header length.
func avpHeader(b []byte, a *diam.AVP, n int) int {
	binary.BigEndian.PutUint32(b[0:4], a.Code)
	b[4] = a.Flags
	hl := 8
	if a.Flags&avp.Vbit != 0 {
		hl = 12
		binary.BigEndian.PutUint32(b[8:12], a.VendorID)
	}
	l := hl + n
	b[5], b[6], b[7] = byte(l>>16), byte(l>>8), byte(l)
	return hl
}
