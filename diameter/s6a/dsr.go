package s6a

import (
	"context"

	"github.com/fiorix/go-diameter/v4/diam/datatype"

	"github.com/rcmhss/rcmhss/hss"
)

// deleteSubscriberData sends a Delete-Subscriber-Data-Request (TS 29.272
// 5.2.2.2, 7.2.11): DSR-Flags (7.3.25) say what is withdrawn, and with "PDN
// subscription contexts withdrawal" the Context-Identifiers name the APN
// configurations.
func (p *Plugin) deleteSubscriberData(ctx context.Context, imsi hss.IMSI, reg *hss.MMERegistration, flags uint32, contextIDs []uint32) {
	m := p.newRequest(cmdDeleteSubscriberData, imsi, reg)
	m.NewAVP(codeDSRFlags, flagsMV, VendorID, datatype.Unsigned32(flags))
	for _, id := range contextIDs {
		m.NewAVP(codeContextIdentifier, flagsMV, VendorID, datatype.Unsigned32(id))
	}
	if err := p.send(ctx, reg.Host, m); err != nil {
		p.log.WarnContext(ctx, "delete subscriber data failed", "imsi", imsi, "mme", reg.Host, "error", err)
		return
	}
	p.log.InfoContext(ctx, "subscriber data deleted", "imsi", imsi, "mme", reg.Host, "dsr_flags", flags)
}
