package rcmext

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	diamdict "github.com/fiorix/go-diameter/v4/diam/dict"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/diameter/s6a"
	"github.com/rcmhss/rcmhss/rcm"
)

// S6a values of the Cancel-Location-Request (TS 29.272 7.2.7, 7.3.24, 7.3.152).
const (
	cmdCancelLocation    = 317
	codeCancellationType = 1420
	codeCLRFlags         = 1638
	// SUBSCRIPTION_WITHDRAWAL: the guest registration is over for good; the
	// device must attach again (and authenticate again) to go on.
	cancelSubscriptionWithdrawal = 2
	clrS6aS6dIndicator           = 1
	flagsM                       = avp.Mbit
	flagsMV                      = avp.Mbit | avp.Vbit
	// clrParallelism bounds the expiry CLRs in flight.
	clrParallelism = 16
)

type clrBuilder struct {
	host, realm string
}

func newCLRBuilder(host, realm string) *clrBuilder {
	return &clrBuilder{host: host, realm: realm}
}

// build makes the CLR for a guest binding's serving MME.
func (c *clrBuilder) build(b rcm.Binding) *diam.Message {
	m := diam.NewRequest(cmdCancelLocation, s6a.AppID, diamdict.Default)
	m.Header.CommandFlags |= diam.ProxiableFlag
	m.NewAVP(avp.SessionID, flagsM, 0, datatype.UTF8String(diameter.NewSessionID(c.host)))
	m.NewAVP(avp.VendorSpecificApplicationID, flagsM, 0, &diam.GroupedAVP{AVP: []*diam.AVP{
		diam.NewAVP(avp.VendorID, flagsM, 0, datatype.Unsigned32(s6a.VendorID)),
		diam.NewAVP(avp.AuthApplicationID, flagsM, 0, datatype.Unsigned32(s6a.AppID)),
	}})
	m.NewAVP(avp.AuthSessionState, flagsM, 0, datatype.Enumerated(1))
	m.NewAVP(avp.OriginHost, flagsM, 0, datatype.DiameterIdentity(c.host))
	m.NewAVP(avp.OriginRealm, flagsM, 0, datatype.DiameterIdentity(c.realm))
	m.NewAVP(avp.DestinationHost, flagsM, 0, datatype.DiameterIdentity(b.MMEHost))
	m.NewAVP(avp.DestinationRealm, flagsM, 0, datatype.DiameterIdentity(b.MMERealm))
	m.NewAVP(avp.UserName, flagsM, 0, datatype.UTF8String(b.GuestIMSI))
	m.NewAVP(codeCancellationType, flagsMV, s6a.VendorID, datatype.Enumerated(cancelSubscriptionWithdrawal))
	m.NewAVP(codeCLRFlags, flagsMV, s6a.VendorID, datatype.Unsigned32(clrS6aS6dIndicator))
	return m
}

// CancelBinding sends the CLR for b to its serving MME and checks the answer.
// The admin API calls it when an operator deletes a binding.
func (x *Extension) CancelBinding(ctx context.Context, b rcm.Binding) error {
	if x.sender == nil {
		return fmt.Errorf("rcmext: cancel location: %w", s6a.ErrNoSender)
	}
	if b.MMEHost == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, x.cfg.RequestTimeout)
	defer cancel()
	ans, err := x.sender.Send(ctx, b.MMEHost, x.clr.build(b))
	if err != nil {
		return fmt.Errorf("rcmext: cancel location: %w", err)
	}
	if r, ok := diameter.ResultOf(ans); !ok || r != diameter.Success {
		return fmt.Errorf("rcmext: cancel location: %w: %s", s6a.ErrRejected, r)
	}
	return nil
}

// cancel sends the CLR and logs the outcome once, here.
func (x *Extension) cancel(ctx context.Context, b rcm.Binding) {
	if err := x.CancelBinding(ctx, b); err != nil {
		x.log.WarnContext(ctx, "guest cancel location failed", "imsi", b.GuestIMSI, "mme", b.MMEHost, "error", err)
		return
	}
	x.log.InfoContext(ctx, "guest location cancelled", "imsi", b.GuestIMSI, "mme", b.MMEHost)
}

// ExpireOnce expires the bindings whose lifetime is over (rcm.Service
// ExpireBindings) and sends each serving MME a CLR. It returns how many.
func (x *Extension) ExpireOnce(ctx context.Context) (int, error) {
	bs, err := x.svc.ExpireBindings(ctx, x.cfg.ExpiryBatch)
	// Concurrently, a few at a time: one unresponsive MME must not hold up
	// the other cancellations for its whole request timeout.
	sem := make(chan struct{}, clrParallelism)
	var wg sync.WaitGroup
	for _, b := range bs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			x.cancel(ctx, b)
		}()
	}
	wg.Wait()
	return len(bs), err
}

// Run expires bindings every ExpiryInterval until ctx ends (issue 5: the
// device must not linger on the guest identity).
func (x *Extension) Run(ctx context.Context) error {
	t := time.NewTicker(x.cfg.ExpiryInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			for {
				n, err := x.ExpireOnce(ctx)
				if err != nil {
					x.log.WarnContext(ctx, "guest binding expiry failed", "error", err)
					break
				}
				if n < x.cfg.ExpiryBatch {
					break
				}
			}
		}
	}
}
