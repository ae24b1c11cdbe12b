package s6a

import (
	"context"

	"github.com/fiorix/go-diameter/v4/diam/datatype"

	"github.com/rcmhss/rcmhss/hss"
)

// cancelLocation sends a Cancel-Location-Request (TS 29.272 5.2.1.2, 7.2.7)
// to the MME of reg and logs the outcome.
func (p *Plugin) cancelLocation(ctx context.Context, imsi hss.IMSI, reg *hss.MMERegistration, cancellationType uint32) {
	m := p.newRequest(cmdCancelLocation, imsi, reg)
	m.NewAVP(codeCancellationType, flagsMV, VendorID, datatype.Enumerated(cancellationType))
	var flags uint32
	// 7.3.152: S6a/S6d-Indicator set when the CLR goes to an MME, i.e. the
	// registration came over S6a.
	if reg.ULRFlags&hss.ULRS6aS6dIndicator != 0 {
		flags |= clrS6aS6dIndicator
	}
	m.NewAVP(codeCLRFlags, flagsMV, VendorID, datatype.Unsigned32(flags))
	if err := p.send(ctx, reg.Host, m); err != nil {
		p.log.WarnContext(ctx, "cancel location failed", "imsi", imsi, "mme", reg.Host, "cancellation_type", cancellationType, "error", err)
		return
	}
	p.log.InfoContext(ctx, "location cancelled", "imsi", imsi, "mme", reg.Host, "cancellation_type", cancellationType)
}
