package swx

import (
	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"

	"github.com/rcmhss/rcmhss/diameter"
)

// Application identity (TS 29.273 8.2.1).
const (
	AppID    uint32 = 16777265
	VendorID uint32 = 10415 // 3GPP
)

// Command codes (TS 29.273 8.2.2, table 8.2.2.1/1).
const (
	cmdServerAssignment        uint32 = 301
	cmdMultimediaAuth          uint32 = 303
	cmdRegistrationTermination uint32 = 304
	cmdPushProfile             uint32 = 305
)

// AVP codes used by SWx, with the clause that defines each.
const (
	codeAAAServerName        uint32 = 318  // 3GPP-AAA-Server-Name, TS 29.234 10.1.34 (reused by TS 29.273)
	codeSIPNumberAuthItems   uint32 = 607  // TS 29.229 6.3.8
	codeSIPAuthScheme        uint32 = 608  // TS 29.229 6.3.9
	codeSIPAuthenticate      uint32 = 609  // TS 29.229 6.3.10
	codeSIPAuthorization     uint32 = 610  // TS 29.229 6.3.11
	codeSIPAuthDataItem      uint32 = 612  // TS 29.229 6.3.13
	codeSIPItemNumber        uint32 = 613  // TS 29.229 6.3.14
	codeServerAssignmentType uint32 = 614  // TS 29.229 6.3.15
	codeDeregistrationReason uint32 = 615  // TS 29.229 6.3.16
	codeReasonCode           uint32 = 616  // TS 29.229 6.3.17
	codeConfidentialityKey   uint32 = 625  // TS 29.229 6.3.27
	codeIntegrityKey         uint32 = 626  // TS 29.229 6.3.28
	codeRATType              uint32 = 1032 // TS 29.212 5.3.31
	codeNon3GPPUserData      uint32 = 1500 // TS 29.273 8.2.3.1
	codeNon3GPPIPAccess      uint32 = 1501 // TS 29.273 8.2.3.3
	codeNon3GPPIPAccessAPN   uint32 = 1502 // TS 29.273 8.2.3.4
	codeANID                 uint32 = 1504 // TS 29.273 5.2.3.7

	codeContextIdentifier       uint32 = 1423 // TS 29.272 7.3.27
	codeAPNConfiguration        uint32 = 1430 // TS 29.272 7.3.35
	codeAMBR                    uint32 = 1435 // TS 29.272 7.3.41
	codeMaxRequestedBandwidthDL uint32 = 515  // TS 29.214 5.3.14
	codeMaxRequestedBandwidthUL uint32 = 516  // TS 29.214 5.3.15
	codeServedPartyIPAddress    uint32 = 848  // TS 32.299 7.2.187
	codeServiceSelection        uint32 = 493  // RFC 5778 6.2 (no vendor)
	codeSubscriptionID          uint32 = 443  // RFC 4006 8.46 (no vendor)
	codeSubscriptionIDData      uint32 = 444  // RFC 4006 8.48
	codeSubscriptionIDType      uint32 = 450  // RFC 4006 8.47
)

// SIP-Authentication-Scheme values of SWx (TS 29.273 8.2.3.9 and the MAR
// of 8.2.2.1: "EAP-AKA" and "EAP-AKA'").
const (
	SchemeEAPAKA      = "EAP-AKA"
	SchemeEAPAKAPrime = "EAP-AKA'"
)

// Enumerated values.
const (
	noStateMaintained   uint32 = 1 // Auth-Session-State (RFC 6733 8.11)
	non3GPPAllowed      uint32 = 0 // Non-3GPP-IP-Access (8.2.3.3)
	non3GPPBarred       uint32 = 1
	non3GPPAPNsEnable   uint32 = 0 // Non-3GPP-IP-Access-APN (8.2.3.4)
	non3GPPAPNsDisable  uint32 = 1
	endUserE164         uint32 = 0 // Subscription-Id-Type (RFC 4006 8.47)
	reasonPermanentTerm uint32 = 0 // Reason-Code PERMANENT_TERMINATION (TS 29.229 6.3.17)
	resyncInfoLen              = 16 + 14
	flagsMV                    = avp.Mbit | avp.Vbit
	flagsV                     = avp.Vbit
	flagsM                     = avp.Mbit
)

func missing(code, vendor uint32) error { return diameter.MissingAVP(code, vendor) }

func invalid(a *diam.AVP, reason string) error { return diameter.InvalidAVP(a, reason) }

func is(a *diam.AVP, code, vendor uint32) bool { return a.Code == code && a.VendorID == vendor }

func vendorSpecificAppID() *diam.AVP {
	return diam.NewAVP(avp.VendorSpecificApplicationID, flagsM, 0, &diam.GroupedAVP{AVP: []*diam.AVP{
		diam.NewAVP(avp.VendorID, flagsM, 0, datatype.Unsigned32(VendorID)),
		diam.NewAVP(avp.AuthApplicationID, flagsM, 0, datatype.Unsigned32(AppID)),
	}})
}

func addAppAVPs(m *diam.Message) {
	m.AddAVP(vendorSpecificAppID())
	m.AddAVP(diam.NewAVP(avp.AuthSessionState, flagsM, 0, datatype.Enumerated(noStateMaintained)))
}
