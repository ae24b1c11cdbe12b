package swx

import (
	"context"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/hss"
)

// SAR is a Server-Assignment-Request (TS 29.273 8.2.2.3) in domain terms.
type SAR struct {
	Assignment hss.ServerAssignmentRequest
	UserName   string
}

// DecodeSAR reads a SAR. Errors are *diameter.AVPError: 5005 for a missing
// User-Name or Server-Assignment-Type, 5004 for a bad value.
func DecodeSAR(m *diam.Message) (SAR, error) {
	var (
		r          SAR
		user, kind *diam.AVP
	)
	for _, a := range m.AVP {
		switch {
		case is(a, avp.UserName, 0):
			user = a
		case is(a, avp.OriginHost, 0):
			r.Assignment.AAAServer, _ = diameter.AVPOctets(a)
		case is(a, avp.OriginRealm, 0):
			r.Assignment.AAARealm, _ = diameter.AVPOctets(a)
		case is(a, codeServerAssignmentType, VendorID):
			kind = a
		}
	}
	if user == nil {
		return SAR{}, missing(avp.UserName, 0)
	}
	name, ok := diameter.AVPOctets(user)
	if !ok {
		return SAR{}, invalid(user, "user-name is not a string")
	}
	imsi, err := hss.ParseNAIIdentity(name)
	if err != nil {
		return SAR{}, invalid(user, "user-name is not an imsi or a permanent-identity nai")
	}
	r.UserName, r.Assignment.IMSI = name, imsi
	if kind == nil {
		return SAR{}, missing(codeServerAssignmentType, VendorID)
	}
	v, ok := diameter.AVPUnsigned(kind)
	if !ok {
		return SAR{}, invalid(kind, "server-assignment-type is not an Enumerated")
	}
	r.Assignment.Type = hss.ServerAssignmentType(v)
	return r, nil
}

// serveSAR answers a Server-Assignment-Request (TS 29.273 8.1.2.2.1).
func (p *Plugin) serveSAR(ctx context.Context, req *diameter.Request) *diam.Message {
	r, err := DecodeSAR(req.Msg)
	if err != nil {
		return p.errorAnswer(ctx, req, "SAR", r.Assignment.IMSI, err)
	}
	if r.Assignment.AAAServer == "" {
		r.Assignment.AAAServer, r.Assignment.AAARealm = req.Peer.OriginHost, req.Peer.OriginRealm
	}
	res, err := p.backend.ServerAssignment(ctx, r.Assignment)
	if err != nil {
		return p.errorAnswer(ctx, req, "SAR", r.Assignment.IMSI, err)
	}
	a := p.answer(req.Msg)
	a.AddAVP(userNameAVP(r.UserName))
	if res.Data != nil {
		a.AddAVP(non3GPPUserData(res.Data))
	}
	return a
}

// non3GPPUserData builds Non-3GPP-User-Data (TS 29.273 8.2.3.1): the MSISDN
// as Subscription-Id END_USER_E164, Non-3GPP-IP-Access, whether APNs are
// usable (Non-3GPP-IP-Access-APN, 8.2.3.4), the subscribed AMBR, the default
// APN's Context-Identifier and the APN configurations.
func non3GPPUserData(d *hss.Non3GPPUserData) *diam.AVP {
	members := make([]*diam.AVP, 0, 5+len(d.APNs))
	if d.MSISDN != "" {
		members = append(members, diam.NewAVP(codeSubscriptionID, flagsM, 0, &diam.GroupedAVP{AVP: []*diam.AVP{
			diam.NewAVP(codeSubscriptionIDType, flagsM, 0, datatype.Enumerated(endUserE164)),
			diam.NewAVP(codeSubscriptionIDData, flagsM, 0, datatype.UTF8String(d.MSISDN)),
		}}))
	}
	access := non3GPPAllowed
	if !d.AccessAllowed {
		access = non3GPPBarred
	}
	members = append(members, diam.NewAVP(codeNon3GPPIPAccess, flagsMV, VendorID, datatype.Enumerated(access)))
	apns := non3GPPAPNsEnable
	if len(d.APNs) == 0 {
		apns = non3GPPAPNsDisable
	}
	members = append(members,
		diam.NewAVP(codeNon3GPPIPAccessAPN, flagsMV, VendorID, datatype.Enumerated(apns)),
		diameter.AMBRAVP(d.AMBR),
	)
	if len(d.APNs) > 0 {
		members = append(members, diam.NewAVP(codeContextIdentifier, flagsMV, VendorID, datatype.Unsigned32(d.DefaultContextID)))
	}
	for i := range d.APNs {
		members = append(members, diameter.APNConfigurationAVP(&d.APNs[i]))
	}
	return diam.NewAVP(codeNon3GPPUserData, flagsMV, VendorID, &diam.GroupedAVP{AVP: members})
}
