package diameter

import (
	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"

	"github.com/rcmhss/rcmhss/hss"
)

// Subscription data that several applications carry in the same layout:
// S6a's Subscription-Data (TS 29.272 7.3.2) and SWx's Non-3GPP-User-Data
// (TS 29.273 8.2.3.1) both use the APN-Configuration and AMBR of TS 29.272.

const (
	avpMV = avp.Mbit | avp.Vbit
	avpV  = avp.Vbit
)

// AMBRAVP builds AMBR (TS 29.272 7.3.41).
func AMBRAVP(a hss.AMBR) *diam.AVP {
	return diam.NewAVP(avp.AMBR, avpMV, VendorID3GPP, &diam.GroupedAVP{AVP: []*diam.AVP{
		diam.NewAVP(avp.MaxRequestedBandwidthUL, avpMV, VendorID3GPP, datatype.Unsigned32(a.UL)),
		diam.NewAVP(avp.MaxRequestedBandwidthDL, avpMV, VendorID3GPP, datatype.Unsigned32(a.DL)),
	}})
}

// APNConfigurationAVP builds APN-Configuration (TS 29.272 7.3.35).
func APNConfigurationAVP(a *hss.APNConfiguration) *diam.AVP {
	members := []*diam.AVP{
		diam.NewAVP(avp.ContextIdentifier, avpMV, VendorID3GPP, datatype.Unsigned32(a.ContextID)),
	}
	// 7.3.35: Served-Party-IP-Address carries a static address, one per family.
	if a.StaticIPv4.IsValid() {
		members = append(members, diam.NewAVP(avp.ServedPartyIPAddress, avpMV, VendorID3GPP, datatype.Address(a.StaticIPv4.AsSlice())))
	}
	if a.StaticIPv6.IsValid() {
		members = append(members, diam.NewAVP(avp.ServedPartyIPAddress, avpMV, VendorID3GPP, datatype.Address(a.StaticIPv6.AsSlice())))
	}
	members = append(members,
		diam.NewAVP(avp.PDNType, avpMV, VendorID3GPP, datatype.Enumerated(a.PDNType)),
		diam.NewAVP(avp.ServiceSelection, avp.Mbit, 0, datatype.UTF8String(a.Name)),
		diam.NewAVP(avp.EPSSubscribedQoSProfile, avpMV, VendorID3GPP, &diam.GroupedAVP{AVP: []*diam.AVP{
			diam.NewAVP(avp.QoSClassIdentifier, avpMV, VendorID3GPP, datatype.Enumerated(a.QCI)),
			diam.NewAVP(avp.AllocationRetentionPriority, avpV, VendorID3GPP, &diam.GroupedAVP{AVP: []*diam.AVP{
				diam.NewAVP(avp.PriorityLevel, avpV, VendorID3GPP, datatype.Unsigned32(a.ARP.PriorityLevel)),
				// TS 29.212 5.3.46/47: ENABLED is 0, DISABLED is 1.
				diam.NewAVP(avp.PreemptionCapability, avpV, VendorID3GPP, datatype.Enumerated(enabledDisabled(a.ARP.PreemptionCapability))),
				diam.NewAVP(avp.PreemptionVulnerability, avpV, VendorID3GPP, datatype.Enumerated(enabledDisabled(a.ARP.PreemptionVulnerability))),
			}}),
		}}),
	)
	if a.AMBR != (hss.AMBR{}) {
		members = append(members, AMBRAVP(a.AMBR))
	}
	return diam.NewAVP(avp.APNConfiguration, avpMV, VendorID3GPP, &diam.GroupedAVP{AVP: members})
}

func enabledDisabled(enabled bool) int32 {
	if enabled {
		return 0
	}
	return 1
}
