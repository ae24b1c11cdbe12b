package s6a

import (
	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/datatype"

	"github.com/rcmhss/rcmhss/diameter"
)

// missing and invalid are the request errors S6a decoding reports: RFC 6733
// 7.1.5 DIAMETER_MISSING_AVP (5005) and DIAMETER_INVALID_AVP_VALUE (5004),
// each answered with Failed-AVP by diameter.ErrorAnswer.
func missing(code, vendor uint32) error { return diameter.MissingAVP(code, vendor) }

func invalid(a *diam.AVP, reason string) error { return diameter.InvalidAVP(a, reason) }

// is reports whether a is the AVP code of vendor (0 for IETF AVPs).
func is(a *diam.AVP, code, vendor uint32) bool {
	return a.Code == code && a.VendorID == vendor
}

// octets returns the payload of an OctetString-like AVP (go-diameter holds
// them as strings, so this does not copy). A dictionary that does not know
// the AVP hands it over as Unknown, which is read the same way.
func octets(a *diam.AVP) (string, bool) {
	switch d := a.Data.(type) {
	case datatype.OctetString:
		return string(d), true
	case datatype.UTF8String:
		return string(d), true
	case datatype.DiameterIdentity:
		return string(d), true
	case datatype.Unknown:
		return string(d), true
	}
	return "", false
}

// unsigned returns the value of an Unsigned32 or Enumerated AVP.
func unsigned(a *diam.AVP) (uint32, bool) {
	switch d := a.Data.(type) {
	case datatype.Unsigned32:
		return uint32(d), true
	case datatype.Enumerated:
		return uint32(d), true
	case datatype.Integer32:
		return uint32(d), true
	case datatype.Unknown:
		if len(d) == 4 {
			return uint32(d[0])<<24 | uint32(d[1])<<16 | uint32(d[2])<<8 | uint32(d[3]), true
		}
	}
	return 0, false
}

// grouped returns the members of a Grouped AVP.
func grouped(a *diam.AVP) ([]*diam.AVP, bool) {
	g, ok := a.Data.(*diam.GroupedAVP)
	if !ok {
		return nil, false
	}
	return g.AVP, true
}

// identity returns the text of a DiameterIdentity/UTF8String AVP.
func identity(a *diam.AVP) (string, bool) {
	return octets(a)
}
