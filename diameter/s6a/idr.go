package s6a

import (
	"context"

	"github.com/fiorix/go-diameter/v4/diam"

	"github.com/rcmhss/rcmhss/hss"
)

// insertSubscriberData sends an Insert-Subscriber-Data-Request (TS 29.272
// 5.2.2.1, 7.2.9) carrying the changed Subscription-Data. No IDR-Flags are
// set: every bit of 7.3.103 asks the MME for something (reachability,
// location, T-ADS ...) that a subscription change does not need.
func (p *Plugin) insertSubscriberData(ctx context.Context, imsi hss.IMSI, reg *hss.MMERegistration, data *diam.AVP) {
	m := p.newRequest(cmdInsertSubscriberData, imsi, reg)
	m.AddAVP(data)
	if err := p.send(ctx, reg.Host, m); err != nil {
		p.log.WarnContext(ctx, "insert subscriber data failed", "imsi", imsi, "mme", reg.Host, "error", err)
		return
	}
	p.log.InfoContext(ctx, "subscriber data inserted", "imsi", imsi, "mme", reg.Host)
}
