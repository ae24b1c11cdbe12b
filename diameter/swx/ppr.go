package swx

import (
	"context"
	"errors"
	"fmt"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	diamdict "github.com/fiorix/go-diameter/v4/diam/dict"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/hss"
)

// ErrRejected is returned when the AAA server answers a PPR or RTR with
// anything but DIAMETER_SUCCESS.
var ErrRejected = errors.New("swx: request rejected by peer")

// SubscriberUpdated implements hss.SubscriberObserver. When a 3GPP AAA
// server holds the user: losing non-3GPP access ends the registration with
// an RTR (TS 29.273 8.1.2.2.2); any other change of what it holds
// (Non-3GPP-User-Data) is pushed with a PPR (8.1.2.3).
func (p *Plugin) SubscriberUpdated(ctx context.Context, before, after *hss.Subscriber, regs hss.Registrations) {
	if regs.AAA == nil || before == nil || after == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	if before.Non3GPP.AccessAllowed && !after.Non3GPP.AccessAllowed {
		if p.terminate(ctx, after.IMSI, regs.AAA) {
			if err := p.backend.Non3GPPDeregister(ctx, after.IMSI, regs.AAA.ServerName); err != nil {
				p.log.ErrorContext(ctx, "rta received but registration not cleared", "imsi", after.IMSI, "error", err)
			}
		}
		return
	}
	if !hss.Non3GPPDataChanged(before, after) {
		return
	}
	d := hss.Non3GPPData(after)
	req := p.newRequest(cmdPushProfile, after.IMSI, regs.AAA)
	req.AddAVP(non3GPPUserData(&d))
	if err := p.send(ctx, regs.AAA.ServerName, req); err != nil {
		p.log.WarnContext(ctx, "ppr failed", "imsi", after.IMSI, "aaa", regs.AAA.ServerName, "error", err)
		return
	}
	p.log.InfoContext(ctx, "ppr sent", "imsi", after.IMSI, "aaa", regs.AAA.ServerName)
}

// newRequest starts an HSS-initiated SWx request (PPR, RTR: TS 29.273
// 8.2.2) to the AAA server of reg for imsi.
func (p *Plugin) newRequest(cmd uint32, imsi hss.IMSI, reg *hss.AAARegistration) *diam.Message {
	m := diam.NewRequest(cmd, AppID, diamdict.Default)
	m.Header.CommandFlags |= diam.ProxiableFlag
	m.NewAVP(avp.SessionID, flagsM, 0, datatype.UTF8String(diameter.NewSessionID(p.cfg.OriginHost)))
	m.AddAVP(vendorSpecificAppID())
	m.NewAVP(avp.AuthSessionState, flagsM, 0, datatype.Enumerated(noStateMaintained))
	m.NewAVP(avp.OriginHost, flagsM, 0, datatype.DiameterIdentity(p.cfg.OriginHost))
	m.NewAVP(avp.OriginRealm, flagsM, 0, datatype.DiameterIdentity(p.cfg.OriginRealm))
	m.NewAVP(avp.DestinationHost, flagsM, 0, datatype.DiameterIdentity(reg.ServerName))
	realm := reg.Realm
	if realm == "" {
		realm = p.cfg.OriginRealm
	}
	m.NewAVP(avp.DestinationRealm, flagsM, 0, datatype.DiameterIdentity(realm))
	m.NewAVP(avp.UserName, flagsM, 0, datatype.UTF8String(imsi))
	return m
}

// send delivers req to host within the configured timeout and checks the
// answer's result.
func (p *Plugin) send(ctx context.Context, host string, req *diam.Message) error {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.RequestTimeout)
	defer cancel()
	ans, err := p.sender.Send(ctx, host, req)
	if err != nil {
		return err
	}
	r, ok := diameter.ResultOf(ans)
	if !ok {
		return fmt.Errorf("%w: answer has no result", ErrRejected)
	}
	if r.Experimental || r.Code != diameter.CodeSuccess {
		return fmt.Errorf("%w: %s", ErrRejected, r)
	}
	return nil
}
