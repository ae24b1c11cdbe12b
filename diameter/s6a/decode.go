package s6a

import (
	"github.com/fiorix/go-diameter/v4/diam"

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

// identity returns the text of a DiameterIdentity/UTF8String AVP.
func identity(a *diam.AVP) (string, bool) {
	return diameter.AVPOctets(a)
}
