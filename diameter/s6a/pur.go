package s6a

import (
	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"

	"github.com/rcmhss/rcmhss/hss"

	"github.com/rcmhss/rcmhss/diameter"
)

// PUR is a Purge-UE-Request (TS 29.272 7.2.13).
type PUR struct {
	IMSI hss.IMSI
	// Host is the Origin-Host of the purging MME.
	Host string
	// Flags is PUR-Flags (7.3.149); absent means "UE purged in MME" for a
	// request received over S6a (5.2.3.1.2: a Rel-8 MME does not send it).
	Flags uint32
}

// DecodePUR reads a Purge-UE-Request (TS 29.272 5.2.3.1.2).
func DecodePUR(m *diam.Message) (PUR, error) {
	var (
		r     PUR
		user  *diam.AVP
		flags bool
	)
	for _, a := range m.AVP {
		switch {
		case is(a, avp.UserName, 0):
			user = a
		case is(a, avp.OriginHost, 0):
			r.Host, _ = identity(a)
		case is(a, codePURFlags, VendorID):
			v, ok := diameter.AVPUnsigned(a)
			if !ok {
				return PUR{}, invalid(a, "pur-flags is not an Unsigned32")
			}
			r.Flags, flags = v, true
		}
	}
	imsi, err := decodeUserName(user)
	if err != nil {
		return PUR{}, err
	}
	r.IMSI = imsi
	if !flags {
		r.Flags = purUEPurgedInMME
	}
	return r, nil
}
