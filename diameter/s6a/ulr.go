package s6a

import (
	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"

	"github.com/rcmhss/rcmhss/hss"

	"github.com/rcmhss/rcmhss/diameter"
)

// ULR is an Update-Location-Request (TS 29.272 7.2.3) in domain terms plus the
// Supported-Features the MME offered.
type ULR struct {
	Location hss.UpdateLocationRequest
	// Features are the Feature-List bits of Feature-List-ID 1 the MME offered
	// (TS 29.272 7.3.10); FeaturesOffered is false when it sent none.
	Features        uint32
	FeaturesOffered bool
}

// DecodeULR reads an Update-Location-Request (TS 29.272 5.2.1.1.2). Errors
// are *diameter.AVPError: 5005 for a missing User-Name, RAT-Type, ULR-Flags or
// Visited-PLMN-Id, 5004 for a value S6a does not allow.
func DecodeULR(m *diam.Message) (ULR, error) {
	var (
		r                      ULR
		user, plmn, rat, flags *diam.AVP
	)
	for _, a := range m.AVP {
		switch {
		case is(a, avp.UserName, 0):
			user = a
		case is(a, avp.OriginHost, 0):
			r.Location.Host, _ = identity(a)
		case is(a, avp.OriginRealm, 0):
			r.Location.Realm, _ = identity(a)
		case is(a, codeVisitedPLMNID, VendorID):
			plmn = a
		case is(a, codeRATType, VendorID):
			rat = a
		case is(a, codeULRFlags, VendorID):
			flags = a
		case is(a, codeTerminalInformation, VendorID):
			imei, sv, err := decodeTerminalInformation(a)
			if err != nil {
				return ULR{}, err
			}
			r.Location.IMEI, r.Location.SoftwareVersion = imei, sv
		case is(a, codeSupportedFeatures, VendorID):
			id, list, err := decodeSupportedFeatures(a)
			if err != nil {
				return ULR{}, err
			}
			if id == featureListID1 {
				r.Features, r.FeaturesOffered = list, true
			}
		}
	}
	imsi, err := decodeUserName(user)
	if err != nil {
		return ULR{}, err
	}
	r.Location.IMSI = imsi
	if r.Location.VisitedPLMN, err = decodeVisitedPLMN(plmn); err != nil {
		return ULR{}, err
	}
	if rat == nil {
		return ULR{}, missing(codeRATType, VendorID)
	}
	v, ok := diameter.AVPUnsigned(rat)
	if !ok {
		return ULR{}, invalid(rat, "rat-type is not an Enumerated")
	}
	r.Location.RATType = hss.RATType(v)
	if flags == nil {
		return ULR{}, missing(codeULRFlags, VendorID)
	}
	if v, ok = diameter.AVPUnsigned(flags); !ok {
		return ULR{}, invalid(flags, "ulr-flags is not an Unsigned32")
	}
	r.Location.Flags = hss.ULRFlags(v)
	return r, nil
}

// decodeTerminalInformation reads Terminal-Information (TS 29.272 7.3.3):
// IMEI of 14 digits, or 15 with the check digit (7.3.4), and a 2-digit
// Software-Version (7.3.5).
func decodeTerminalInformation(g *diam.AVP) (imei, sv string, err error) {
	members, ok := diameter.AVPGrouped(g)
	if !ok {
		return "", "", invalid(g, "terminal-information is not grouped")
	}
	for _, a := range members {
		switch {
		case is(a, codeIMEI, VendorID):
			s, ok := diameter.AVPOctets(a)
			if !ok || (len(s) != 14 && len(s) != 15) || !digits(s) {
				return "", "", invalid(a, "imei must be 14 or 15 digits")
			}
			imei = s
		case is(a, codeSoftwareVersion, VendorID):
			s, ok := diameter.AVPOctets(a)
			if !ok || len(s) != 2 || !digits(s) {
				return "", "", invalid(a, "software-version must be 2 digits")
			}
			sv = s
		}
	}
	return imei, sv, nil
}

// decodeSupportedFeatures reads Supported-Features (TS 29.229 6.3.29).
func decodeSupportedFeatures(g *diam.AVP) (id, list uint32, err error) {
	members, ok := diameter.AVPGrouped(g)
	if !ok {
		return 0, 0, invalid(g, "supported-features is not grouped")
	}
	for _, a := range members {
		switch {
		case is(a, codeFeatureListID, VendorID):
			id, _ = diameter.AVPUnsigned(a)
		case is(a, codeFeatureList, VendorID):
			list, _ = diameter.AVPUnsigned(a)
		}
	}
	return id, list, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// supportedFeatures builds Supported-Features for Feature-List-ID 1
// (TS 29.229 6.3.29, TS 29.272 7.3.10).
func supportedFeatures(list uint32) *diam.AVP {
	return diam.NewAVP(codeSupportedFeatures, flagsV, VendorID, &diam.GroupedAVP{AVP: []*diam.AVP{
		diam.NewAVP(avp.VendorID, flagsM, 0, datatype.Unsigned32(VendorID)),
		diam.NewAVP(codeFeatureListID, flagsV, VendorID, datatype.Unsigned32(featureListID1)),
		diam.NewAVP(codeFeatureList, flagsV, VendorID, datatype.Unsigned32(list)),
	}})
}

// subscriptionData builds the complete Subscription-Data of a subscriber
// (TS 29.272 7.3.2) as ULA carries it.
func subscriptionData(s *hss.Subscriber) *diam.AVP {
	members := make([]*diam.AVP, 0, 8)
	if s.MSISDN != "" {
		members = append(members, msisdnAVP(s.MSISDN))
	}
	members = append(members,
		diam.NewAVP(codeSubscriberStatus, flagsMV, VendorID, datatype.Enumerated(s.Status)),
		diam.NewAVP(codeNetworkAccessMode, flagsMV, VendorID, datatype.Enumerated(s.NetworkAccessMode)),
	)
	if s.AccessRestriction != 0 {
		members = append(members, diam.NewAVP(codeAccessRestrictionData, flagsMV, VendorID, datatype.Unsigned32(s.AccessRestriction)))
	}
	members = append(members, diameter.AMBRAVP(s.AMBR))
	if len(s.APNs) > 0 {
		members = append(members, apnConfigurationProfile(s.DefaultContextID, allAPNConfigurationsIncluded, s.APNs))
	}
	if s.PeriodicRAUTAUTimer != 0 {
		members = append(members, diam.NewAVP(codePeriodicRAUTAUTimer, flagsMV, VendorID, datatype.Unsigned32(s.PeriodicRAUTAUTimer)))
	}
	return diam.NewAVP(codeSubscriptionData, flagsMV, VendorID, &diam.GroupedAVP{AVP: members})
}

func msisdnAVP(m hss.MSISDN) *diam.AVP {
	// TS 29.329 6.3.2: MSISDN is the TBCD of the E.164 number.
	return diam.NewAVP(codeMSISDN, flagsMV, VendorID, datatype.OctetString(m.TBCD()))
}

// apnConfigurationProfile builds APN-Configuration-Profile (TS 29.272 7.3.34).
// included is All-APN-Configurations-Included-Indicator (7.3.33): ULA always
// carries all of them; an IDR may carry only the added or modified ones.
func apnConfigurationProfile(defaultID, included uint32, apns []hss.APNConfiguration) *diam.AVP {
	members := make([]*diam.AVP, 0, 2+len(apns))
	members = append(members,
		diam.NewAVP(codeContextIdentifier, flagsMV, VendorID, datatype.Unsigned32(defaultID)),
		diam.NewAVP(codeAllAPNConfigsIncluded, flagsMV, VendorID, datatype.Enumerated(included)),
	)
	for i := range apns {
		members = append(members, diameter.APNConfigurationAVP(&apns[i]))
	}
	return diam.NewAVP(codeAPNConfigurationProfile, flagsMV, VendorID, &diam.GroupedAVP{AVP: members})
}
