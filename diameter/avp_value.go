package diameter

import (
	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
)

// The accessors below read an AVP's value whatever go-diameter decoded it
// as: an application decodes requests by walking their AVPs (no reflection
// on the hot path), and a dictionary that does not know an AVP hands it over
// as datatype.Unknown, which is read the same way.

// AVPOctets returns the payload of an OctetString, UTF8String or
// DiameterIdentity AVP. go-diameter holds these as strings, so it does not
// copy.
func AVPOctets(a *diam.AVP) (string, bool) {
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

// AVPUnsigned returns the value of an Unsigned32, Enumerated or Integer32 AVP.
func AVPUnsigned(a *diam.AVP) (uint32, bool) {
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

// AVPGrouped returns the members of a Grouped AVP.
func AVPGrouped(a *diam.AVP) ([]*diam.AVP, bool) {
	g, ok := a.Data.(*diam.GroupedAVP)
	if !ok {
		return nil, false
	}
	return g.AVP, true
}
