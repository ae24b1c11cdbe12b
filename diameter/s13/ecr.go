package s13

import (
	"context"
	"log/slog"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/hss"
)

// DecodeECR reads an ME-Identity-Check-Request (TS 29.272 5.3.2.1.2,
// 7.2.19). Errors are *diameter.AVPError: 5005 for a missing
// Terminal-Information or IMEI, 5004 for an IMEI that is not 14 to 16 digits
// (TS 23.003 6.2), a Software-Version that is not 2 digits, or a User-Name
// that is not an IMSI.
func DecodeECR(m *diam.Message) (hss.EquipmentCheckRequest, error) {
	var r hss.EquipmentCheckRequest
	var ti *diam.AVP
	for _, a := range m.AVP {
		switch {
		case a.Code == codeTerminalInformation && a.VendorID == VendorID:
			ti = a
		case a.Code == avp.UserName && a.VendorID == 0:
			s, ok := diameter.AVPOctets(a)
			if !ok {
				return r, diameter.InvalidAVP(a, "user-name is not a string")
			}
			imsi, err := hss.ParseIMSI(s)
			if err != nil {
				return r, diameter.InvalidAVP(a, "user-name is not an imsi")
			}
			r.IMSI = imsi
		}
	}
	if ti == nil {
		return r, diameter.MissingAVP(codeTerminalInformation, VendorID)
	}
	g, ok := ti.Data.(*diam.GroupedAVP)
	if !ok {
		return r, diameter.InvalidAVP(ti, "terminal-information is not grouped")
	}
	var imei *diam.AVP
	for _, a := range g.AVP {
		switch {
		case a.Code == codeIMEI && a.VendorID == VendorID:
			imei = a
		case a.Code == codeSoftwareVersion && a.VendorID == VendorID:
			s, ok := diameter.AVPOctets(a)
			if !ok || len(s) != 2 || !digits(s) {
				return r, diameter.InvalidAVP(a, "software-version must be 2 digits")
			}
			r.SoftwareVersion = s
		}
	}
	if imei == nil {
		return r, diameter.MissingAVP(codeIMEI, VendorID)
	}
	s, ok := diameter.AVPOctets(imei)
	if !ok {
		return r, diameter.InvalidAVP(imei, "imei is not a string")
	}
	eq, err := hss.ParseIMEI(s)
	if err != nil {
		return r, diameter.InvalidAVP(imei, "imei must be 14 or 15 digits, or 16 for an imeisv")
	}
	r.IMEI = s
	if r.SoftwareVersion == "" {
		r.SoftwareVersion = eq.SVN
	}
	return r, nil
}

// serveECR answers an ECR (TS 29.272 5.3.2.1.3).
func (p *Plugin) serveECR(ctx context.Context, req *diameter.Request) *diam.Message {
	r, err := DecodeECR(req.Msg)
	if err == nil {
		var st hss.EquipmentStatus
		st, err = p.backend.CheckEquipment(ctx, r)
		if err == nil {
			a := diameter.NewAnswer(req.Msg, diameter.Success)
			addAppAVPs(a)
			a.NewAVP(codeEquipmentStatus, flagsMV, VendorID, datatype.Enumerated(st))
			return a
		}
	}
	a := diameter.ErrorAnswer(req.Msg, err)
	addAppAVPs(a)
	res := diameter.ResultFor(err)
	level := slog.LevelDebug
	if !res.Experimental && res.Code == diameter.CodeUnableToComply {
		level = slog.LevelWarn
	}
	p.log.Log(ctx, level, "request failed", "cmd", "ECR", "imsi", r.IMSI, "peer", req.Peer.OriginHost, "result", res.String(), "error", err)
	return a
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
