package swx

import (
	"context"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/hss"
)

// MAR is a Multimedia-Auth-Request (TS 29.273 8.2.2.1) in domain terms plus
// what the answer echoes.
type MAR struct {
	Auth hss.Non3GPPAuthRequest
	// UserName is the User-Name as received (an IMSI or a root NAI).
	UserName string
	// Scheme is the SIP-Authentication-Scheme asked for.
	Scheme string
}

// DecodeMAR reads a MAR. Errors are *diameter.AVPError (5005 for a missing
// User-Name, SIP-Auth-Data-Item, scheme, or ANID with EAP-AKA'; 5004 for a
// bad value) or hss.ErrAuthSchemeNotSupported (5006).
func DecodeMAR(m *diam.Message) (MAR, error) {
	var (
		r              MAR
		user, item     *diam.AVP
		anid, numItems *diam.AVP
	)
	for _, a := range m.AVP {
		switch {
		case is(a, avp.UserName, 0):
			user = a
		case is(a, avp.OriginHost, 0):
			r.Auth.AAAServer, _ = diameter.AVPOctets(a)
		case is(a, avp.OriginRealm, 0):
			r.Auth.AAARealm, _ = diameter.AVPOctets(a)
		case is(a, codeSIPAuthDataItem, VendorID):
			item = a
		case is(a, codeSIPNumberAuthItems, VendorID):
			numItems = a
		case is(a, codeANID, VendorID):
			anid = a
		case is(a, codeRATType, VendorID):
			v, ok := diameter.AVPUnsigned(a)
			if !ok {
				return MAR{}, invalid(a, "rat-type is not an Enumerated")
			}
			r.Auth.RATType = hss.RATType(v)
		}
	}
	if user == nil {
		return MAR{}, missing(avp.UserName, 0)
	}
	name, ok := diameter.AVPOctets(user)
	if !ok {
		return MAR{}, invalid(user, "user-name is not a string")
	}
	imsi, err := hss.ParseNAIIdentity(name)
	if err != nil {
		// TS 29.273 8.2.2.1: User-Name is the permanent identity.
		return MAR{}, invalid(user, "user-name is not an imsi or a permanent-identity nai")
	}
	r.UserName, r.Auth.IMSI = name, imsi
	r.Auth.N = 1
	if numItems != nil {
		v, ok := diameter.AVPUnsigned(numItems)
		if !ok || v == 0 {
			return MAR{}, invalid(numItems, "sip-number-auth-items must be a positive Unsigned32")
		}
		r.Auth.N = int(v)
	}
	if item == nil {
		return MAR{}, missing(codeSIPAuthDataItem, VendorID)
	}
	if err := decodeSIPAuthDataItem(item, &r); err != nil {
		return MAR{}, err
	}
	if r.Auth.Prime {
		// TS 29.273 8.2.2.1: ANID is present for EAP-AKA'; CK'/IK' cannot be
		// derived without it (TS 33.402 A.2).
		if anid == nil {
			return MAR{}, missing(codeANID, VendorID)
		}
		s, ok := diameter.AVPOctets(anid)
		if !ok || s == "" || len(s) > 0xffff {
			return MAR{}, invalid(anid, "anid must be a non-empty UTF8String")
		}
		r.Auth.AccessNetworkID = s
	}
	return r, nil
}

// decodeSIPAuthDataItem reads the scheme and, for a resynchronisation, RAND
// || AUTS in SIP-Authorization (TS 29.273 8.1.2.1.1, TS 33.102 6.3.3).
func decodeSIPAuthDataItem(g *diam.AVP, r *MAR) error {
	members, ok := diameter.AVPGrouped(g)
	if !ok {
		return invalid(g, "sip-auth-data-item is not grouped")
	}
	var scheme *diam.AVP
	for _, a := range members {
		switch {
		case is(a, codeSIPAuthScheme, VendorID):
			scheme = a
		case is(a, codeSIPAuthorization, VendorID):
			b, ok := diameter.AVPOctets(a)
			if !ok || len(b) != resyncInfoLen {
				return invalid(a, "sip-authorization must be RAND (16) || AUTS (14)")
			}
			rs := new(hss.Resync)
			copy(rs.RAND[:], b[:16])
			copy(rs.AUTS[:], b[16:])
			r.Auth.Resync = rs
		}
	}
	if scheme == nil {
		return missing(codeSIPAuthScheme, VendorID)
	}
	s, ok := diameter.AVPOctets(scheme)
	if !ok {
		return invalid(scheme, "sip-authentication-scheme is not a string")
	}
	switch s {
	case SchemeEAPAKA:
	case SchemeEAPAKAPrime:
		r.Auth.Prime = true
	default:
		return hss.ErrAuthSchemeNotSupported
	}
	r.Scheme = s
	return nil
}

// serveMAR answers a Multimedia-Auth-Request (TS 29.273 8.1.2.1).
func (p *Plugin) serveMAR(ctx context.Context, req *diameter.Request) *diam.Message {
	r, err := DecodeMAR(req.Msg)
	if err != nil {
		return p.errorAnswer(ctx, req, "MAR", r.Auth.IMSI, err)
	}
	if r.Auth.AAAServer == "" {
		r.Auth.AAAServer, r.Auth.AAARealm = req.Peer.OriginHost, req.Peer.OriginRealm
	}
	vs, err := p.backend.Non3GPPAuthentication(ctx, r.Auth)
	if err != nil {
		return p.errorAnswer(ctx, req, "MAR", r.Auth.IMSI, err)
	}
	a := p.answer(req.Msg)
	a.AddAVP(userNameAVP(r.UserName))
	a.NewAVP(codeSIPNumberAuthItems, flagsMV, VendorID, datatype.Unsigned32(len(vs)))
	for i := range vs {
		a.AddAVP(sipAuthDataItem(i+1, r.Scheme, &vs[i]))
	}
	return a
}

// sipAuthDataItem builds one SIP-Auth-Data-Item of an MAA (TS 29.273
// 8.2.3.9): SIP-Authenticate = RAND || AUTN, SIP-Authorization = XRES,
// Confidentiality-Key = CK (CK' for EAP-AKA'), Integrity-Key = IK (IK').
func sipAuthDataItem(n int, scheme string, v *hss.EAPVector) *diam.AVP {
	challenge := make([]byte, 0, 32)
	challenge = append(challenge, v.RAND[:]...)
	challenge = append(challenge, v.AUTN[:]...)
	return diam.NewAVP(codeSIPAuthDataItem, flagsMV, VendorID, &diam.GroupedAVP{AVP: []*diam.AVP{
		diam.NewAVP(codeSIPItemNumber, flagsMV, VendorID, datatype.Unsigned32(n)),
		diam.NewAVP(codeSIPAuthScheme, flagsMV, VendorID, datatype.UTF8String(scheme)),
		diam.NewAVP(codeSIPAuthenticate, flagsMV, VendorID, datatype.OctetString(challenge)),
		diam.NewAVP(codeSIPAuthorization, flagsMV, VendorID, datatype.OctetString(v.XRES)),
		diam.NewAVP(codeConfidentialityKey, flagsMV, VendorID, datatype.OctetString(v.CK[:])),
		diam.NewAVP(codeIntegrityKey, flagsMV, VendorID, datatype.OctetString(v.IK[:])),
	}})
}
