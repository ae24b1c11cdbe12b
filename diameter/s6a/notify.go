package s6a

import (
	"context"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/datatype"

	"github.com/rcmhss/rcmhss/hss"

	"github.com/rcmhss/rcmhss/diameter"
)

// SubscriberDeleted implements hss.SubscriberObserver: an MME that still holds
// the subscriber gets a CLR with SUBSCRIPTION_WITHDRAWAL (TS 29.272 5.2.1.2.1).
// A purged registration holds nothing, so it is left alone.
func (p *Plugin) SubscriberDeleted(ctx context.Context, s *hss.Subscriber, regs hss.Registrations) {
	if regs.MME == nil || regs.MME.Purged {
		return
	}
	p.cancelLocation(context.WithoutCancel(ctx), s.IMSI, regs.MME, CancelSubscriptionWithdrawal)
}

// SubscriberUpdated implements hss.SubscriberObserver: the MME that holds the
// subscriber is told of the change, a DSR for withdrawn APN configurations
// (TS 29.272 5.2.2.2) and then an IDR with the changed Subscription-Data
// (5.2.2.1). Nothing is sent when nothing the MME holds changed.
func (p *Plugin) SubscriberUpdated(ctx context.Context, before, after *hss.Subscriber, regs hss.Registrations) {
	if regs.MME == nil || regs.MME.Purged || before == nil || after == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	d := subscriptionDelta(before, after)
	if d.dsrFlags != 0 {
		p.deleteSubscriberData(ctx, after.IMSI, regs.MME, d.dsrFlags, d.removed)
	}
	if d.idr != nil {
		p.insertSubscriberData(ctx, after.IMSI, regs.MME, d.idr)
	}
}

// delta is what an MME must be told after a subscriber changed.
type delta struct {
	// idr is the Subscription-Data of an IDR, nil when nothing to insert.
	idr *diam.AVP
	// dsrFlags and removed are the DSR-Flags and Context-Identifiers of a DSR.
	dsrFlags uint32
	removed  []uint32
}

// subscriptionDelta compares what an MME holds (TS 29.272 7.3.2) before and
// after a change.
func subscriptionDelta(before, after *hss.Subscriber) delta {
	var d delta
	var members []*diam.AVP
	if after.MSISDN != before.MSISDN && after.MSISDN != "" {
		members = append(members, msisdnAVP(after.MSISDN))
	}
	if after.Status != before.Status {
		members = append(members, diam.NewAVP(codeSubscriberStatus, flagsMV, VendorID, datatype.Enumerated(after.Status)))
	}
	if after.NetworkAccessMode != before.NetworkAccessMode {
		members = append(members, diam.NewAVP(codeNetworkAccessMode, flagsMV, VendorID, datatype.Enumerated(after.NetworkAccessMode)))
	}
	if after.AccessRestriction != before.AccessRestriction {
		members = append(members, diam.NewAVP(codeAccessRestrictionData, flagsMV, VendorID, datatype.Unsigned32(after.AccessRestriction)))
	}
	if after.AMBR != before.AMBR {
		members = append(members, diameter.AMBRAVP(after.AMBR))
	}

	// APN configurations: added or modified ones go in an IDR with
	// MODIFIED_ADDED_APN_CONFIGURATIONS_INCLUDED (7.3.33); withdrawn ones in
	// a DSR (7.3.25 bit 3), or the whole profile (bit 1) when none is left.
	var changed []hss.APNConfiguration
	for _, a := range after.APNs {
		if old, ok := before.APN(a.ContextID); !ok || old != a {
			changed = append(changed, a)
		}
	}
	for _, b := range before.APNs {
		if _, ok := after.APN(b.ContextID); !ok {
			d.removed = append(d.removed, b.ContextID)
		}
	}
	switch {
	case len(after.APNs) == 0 && len(before.APNs) > 0:
		d.dsrFlags = dsrCompleteAPNConfigurationProfileWithdrawal
		d.removed = nil
	case len(d.removed) > 0:
		d.dsrFlags = dsrPDNSubscriptionContextsWithdrawal
	}
	if len(after.APNs) > 0 && (len(changed) > 0 || after.DefaultContextID != before.DefaultContextID) {
		members = append(members, apnConfigurationProfile(after.DefaultContextID, modifiedAddedAPNConfigurationsIncluded, changed))
	}
	if after.PeriodicRAUTAUTimer != before.PeriodicRAUTAUTimer && after.PeriodicRAUTAUTimer != 0 {
		members = append(members, diam.NewAVP(codePeriodicRAUTAUTimer, flagsMV, VendorID, datatype.Unsigned32(after.PeriodicRAUTAUTimer)))
	}
	if len(members) > 0 {
		d.idr = diam.NewAVP(codeSubscriptionData, flagsMV, VendorID, &diam.GroupedAVP{AVP: members})
	}
	return d
}
