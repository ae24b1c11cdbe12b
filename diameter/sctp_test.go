package diameter_test

import (
	"testing"

	"github.com/fiorix/go-diameter/v4/diam"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/diameter/diametertest"
)

// TestSCTP runs CER/CEA, a routed request and a server-originated request
// over SCTP (TS 29.272 4.2: S6a runs over SCTP). It skips where the kernel
// has no SCTP and runs wherever it has.
func TestSCTP(t *testing.T) {
	diametertest.SkipWithoutSCTP(t)
	f := startServer(t, func(c *diameter.Config) { c.Listen = []string{"sctp://127.0.0.1:0"} }, nil)
	p := diametertest.NewPeer(t, f.addr, "sctp", diametertest.PeerOptions{
		OriginHost: "mme1.test", Apps: []diametertest.AppSpec{{ID: s6aID, Vendor: 10415}}})
	ans, err := p.Do(ctxT(t), air(p))
	if err != nil {
		t.Fatal(err)
	}
	if got := resultCode(t, ans); got != 2001 {
		t.Fatalf("AIR over SCTP: %d", got)
	}
	waitFor(t, func() bool { return len(f.srv.Peers()) == 1 })
	clr, err := f.srv.Send(ctxT(t), "mme1.test", diam.NewRequest(cmdCLR, s6aID, nil))
	if err != nil || resultCode(t, clr) != 2001 {
		t.Fatalf("CLR over SCTP: %v %v", clr, err)
	}
	if _, err := p.Disconnect(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, p)
}
