package s6a

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

// ErrRejected is returned when the MME answers a request we originated with
// anything but DIAMETER_SUCCESS.
var ErrRejected = errors.New("request rejected by peer")

// ErrNoSender is returned when the plugin was built without a Sender and
// must originate a request.
var ErrNoSender = errors.New("s6a: no sender to originate requests")

// newRequest starts an HSS-initiated S6a request to the MME of reg for imsi
// (TS 29.272 7.2.7 CLR, 7.2.9 IDR, 7.2.11 DSR share this head). The server's
// Sender sets the Hop-by-Hop and End-to-End identifiers.
func (p *Plugin) newRequest(cmd uint32, imsi hss.IMSI, reg *hss.MMERegistration) *diam.Message {
	m := p.requestHead(cmd, reg.Host, reg.Realm)
	m.NewAVP(avp.UserName, flagsM, 0, datatype.UTF8String(imsi))
	return m
}

// requestHead is what every request the HSS originates on S6a starts with
// (TS 29.272 7.2.7 CLR, 7.2.9 IDR, 7.2.11 DSR, 7.2.15 RSR): a fresh
// Session-Id, Vendor-Specific-Application-Id, NO_STATE_MAINTAINED, our
// identity and the peer's.
func (p *Plugin) requestHead(cmd uint32, host, realm string) *diam.Message {
	m := diam.NewRequest(cmd, AppID, diamdict.Default)
	// Table 7.2.2/1: S6a commands are proxiable.
	m.Header.CommandFlags |= diam.ProxiableFlag
	m.NewAVP(avp.SessionID, flagsM, 0, datatype.UTF8String(diameter.NewSessionID(p.cfg.OriginHost)))
	m.AddAVP(vendorSpecificAppID())
	m.NewAVP(avp.AuthSessionState, flagsM, 0, datatype.Enumerated(noStateMaintained))
	m.NewAVP(avp.OriginHost, flagsM, 0, datatype.DiameterIdentity(p.cfg.OriginHost))
	m.NewAVP(avp.OriginRealm, flagsM, 0, datatype.DiameterIdentity(p.cfg.OriginRealm))
	m.NewAVP(avp.DestinationHost, flagsM, 0, datatype.DiameterIdentity(host))
	m.NewAVP(avp.DestinationRealm, flagsM, 0, datatype.DiameterIdentity(realm))
	return m
}

// send delivers req to host, bounded by the configured timeout, and checks
// the answer's result.
func (p *Plugin) send(ctx context.Context, host string, req *diam.Message) error {
	if p.sender == nil {
		return ErrNoSender
	}
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
