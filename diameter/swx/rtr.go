package swx

import (
	"context"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/datatype"

	"github.com/rcmhss/rcmhss/hss"
)

// SubscriberDeleted implements hss.SubscriberObserver: the AAA server that
// held the user gets an RTR with PERMANENT_TERMINATION (TS 29.273
// 8.1.2.2.2); the store already dropped the registration.
func (p *Plugin) SubscriberDeleted(ctx context.Context, s *hss.Subscriber, regs hss.Registrations) {
	if regs.AAA == nil || s == nil {
		return
	}
	p.terminate(context.WithoutCancel(ctx), s.IMSI, regs.AAA)
}

// terminate sends an RTR and reports whether the AAA server accepted it.
func (p *Plugin) terminate(ctx context.Context, imsi hss.IMSI, reg *hss.AAARegistration) bool {
	req := p.newRequest(cmdRegistrationTermination, imsi, reg)
	req.NewAVP(codeDeregistrationReason, flagsMV, VendorID, &diam.GroupedAVP{AVP: []*diam.AVP{
		diam.NewAVP(codeReasonCode, flagsMV, VendorID, datatype.Enumerated(reasonPermanentTerm)),
	}})
	if err := p.send(ctx, reg.ServerName, req); err != nil {
		p.log.WarnContext(ctx, "rtr failed", "imsi", imsi, "aaa", reg.ServerName, "error", err)
		return false
	}
	p.log.InfoContext(ctx, "rtr sent", "imsi", imsi, "aaa", reg.ServerName)
	return true
}
