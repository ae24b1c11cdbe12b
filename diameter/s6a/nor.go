package s6a

import (
	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"

	"github.com/rcmhss/rcmhss/hss"

	"github.com/rcmhss/rcmhss/diameter"
)

// DecodeNOR reads a Notify-Request (TS 29.272 5.2.5.1.2, 7.2.17): NOR-Flags
// (7.3.49) and Terminal-Information (7.3.3) are what the HSS stores.
func DecodeNOR(m *diam.Message) (hss.NotifyRequest, error) {
	var (
		r    hss.NotifyRequest
		user *diam.AVP
	)
	for _, a := range m.AVP {
		switch {
		case is(a, avp.UserName, 0):
			user = a
		case is(a, avp.OriginHost, 0):
			r.Host, _ = identity(a)
		case is(a, codeNORFlags, VendorID):
			v, ok := diameter.AVPUnsigned(a)
			if !ok {
				return hss.NotifyRequest{}, invalid(a, "nor-flags is not an Unsigned32")
			}
			r.Flags = v
		case is(a, codeTerminalInformation, VendorID):
			imei, sv, err := decodeTerminalInformation(a)
			if err != nil {
				return hss.NotifyRequest{}, err
			}
			r.IMEI, r.SoftwareVersion = imei, sv
		}
	}
	imsi, err := decodeUserName(user)
	if err != nil {
		return hss.NotifyRequest{}, err
	}
	r.IMSI = imsi
	return r, nil
}
