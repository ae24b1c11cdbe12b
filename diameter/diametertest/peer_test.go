package diametertest_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"github.com/fiorix/go-diameter/v4/diam/sm"

	"github.com/rcmhss/rcmhss/diameter/diametertest"
)

// TestPeerAgainstGoDiameterServer checks the test peer against a server it
// does not share code with: go-diameter's own state machine.
func TestPeerAgainstGoDiameterServer(t *testing.T) {
	mux := sm.New(&sm.Settings{
		OriginHost: "gd.test", OriginRealm: "gd.realm", VendorID: 0, ProductName: "go-diameter",
		HostIPAddresses: []datatype.Address{datatype.Address(net.ParseIP("127.0.0.1"))},
	})
	mux.HandleFunc("AIR", func(c diam.Conn, m *diam.Message) {
		a := m.Answer(diam.Success)
		a.NewAVP(avp.OriginHost, avp.Mbit, 0, datatype.DiameterIdentity("gd.test"))
		a.NewAVP(avp.OriginRealm, avp.Mbit, 0, datatype.DiameterIdentity("gd.realm"))
		a.WriteTo(c)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go diam.Serve(ln, mux)

	p := diametertest.NewPeer(t, ln.Addr().String(), "tcp", diametertest.PeerOptions{
		OriginHost: "mme.test", Apps: []diametertest.AppSpec{{ID: 16777251, Vendor: 10415}}})
	if oh, _ := p.CEA().FindAVP(avp.OriginHost, 0); oh == nil || string(oh.Data.(datatype.DiameterIdentity)) != "gd.test" {
		t.Fatalf("CEA Origin-Host %v", oh)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := p.NewRequest(318, 16777251, "gd.realm")
	req.NewAVP(avp.AuthSessionState, avp.Mbit, 0, datatype.Enumerated(1))
	req.NewAVP(avp.UserName, avp.Mbit, 0, datatype.UTF8String("001010000000001"))
	req.NewAVP(avp.VisitedPLMNID, avp.Mbit, 10415, datatype.OctetString([]byte{0, 0xf1, 0x10}))
	for range 3 {
		ans, err := p.Do(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if diametertest.ResultCode(ans) != 2001 || ans.Header.HopByHopID != req.Header.HopByHopID {
			t.Fatalf("answer %v to request %v", ans.Header, req.Header)
		}
	}
}
