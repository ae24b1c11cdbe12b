package diameter_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/diameter/diametertest"
)

const (
	s6aID    = 16777251
	cmdAIR   = 318
	cmdCLR   = 317
	testHost = "hss.test.realm"
	realm    = "test.realm"
)

// testApp is an S6a-shaped application whose AIR handler is replaceable.
type testApp struct {
	air   diameter.HandlerFunc
	calls atomic.Int64
}

func (a *testApp) Name() string     { return "S6a" }
func (a *testApp) AppID() uint32    { return s6aID }
func (a *testApp) VendorID() uint32 { return diameter.VendorID3GPP }
func (a *testApp) Commands() map[uint32]diameter.Handler {
	return map[uint32]diameter.Handler{cmdAIR: diameter.HandlerFunc(func(ctx context.Context, req *diameter.Request) *diam.Message {
		a.calls.Add(1)
		if a.air != nil {
			return a.air(ctx, req)
		}
		return diameter.NewAnswer(req.Msg, diameter.Success)
	})}
}

type fixture struct {
	srv  *diameter.Server
	app  *testApp
	addr string
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func startServer(t testing.TB, mutate func(*diameter.Config), app *testApp, opts ...diameter.Option) *fixture {
	t.Helper()
	cfg := diameter.Config{
		Listen:        []string{"tcp://127.0.0.1:0"},
		OriginHost:    testHost,
		OriginRealm:   realm,
		AllowLoopback: true,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := diameter.NewServer(cfg, append([]diameter.Option{diameter.WithLogger(quietLogger())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if app == nil {
		app = &testApp{}
	}
	if err := srv.Register(app); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return &fixture{srv: srv, app: app, addr: srv.Addrs()[0].String()}
}

func s6aPeer(t testing.TB, f *fixture, host string) *diametertest.Peer {
	return diametertest.NewPeer(t, f.addr, "tcp", diametertest.PeerOptions{
		OriginHost: host, OriginRealm: "mme.realm",
		Apps: []diametertest.AppSpec{{ID: s6aID, Vendor: diameter.VendorID3GPP}},
	})
}

// air builds a minimal valid AIR (TS 29.272 7.2.5).
func air(p *diametertest.Peer) *diam.Message {
	m := p.NewRequest(cmdAIR, s6aID, realm)
	m.NewAVP(avp.AuthSessionState, avp.Mbit, 0, datatype.Enumerated(1))
	m.NewAVP(avp.UserName, avp.Mbit, 0, datatype.UTF8String("001010000000001"))
	m.NewAVP(avp.VisitedPLMNID, avp.Mbit|avp.Vbit, diameter.VendorID3GPP, datatype.OctetString([]byte{0x00, 0xf1, 0x10}))
	return m
}

// retransmit sends req again as a retransmission (RFC 6733 5.5.4: T bit,
// same End-to-End id, a new Hop-by-Hop id) and returns the answer.
func retransmit(t testing.TB, p *diametertest.Peer, req *diam.Message) *diam.Message {
	t.Helper()
	req.Header.HopByHopID++
	req.Header.CommandFlags |= diam.RetransmittedFlag
	ans, err := p.DoKeepIDs(ctxT(t), req)
	if err != nil {
		t.Fatal(err)
	}
	return ans
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func resultCode(t testing.TB, m *diam.Message) uint32 {
	t.Helper()
	r, ok := diameter.ResultOf(m)
	if !ok {
		t.Fatalf("answer without result code: %v", m)
	}
	return r.Code
}

func TestCEAAdvertisesRegisteredApplications(t *testing.T) {
	f := startServer(t, nil, nil)
	p := s6aPeer(t, f, "mme1.test")
	cea := p.CEA()
	if got := resultCode(t, cea); got != 2001 {
		t.Fatalf("CEA result %d", got)
	}
	var vsa []*diam.AVP
	var auth, supported, hostIP, state, fw int
	for _, a := range cea.AVP {
		switch a.Code {
		case avp.VendorSpecificApplicationID:
			vsa = append(vsa, a)
		case avp.AuthApplicationID:
			auth++
		case avp.SupportedVendorID:
			if a.Data.(datatype.Unsigned32) == 10415 {
				supported++
			}
		case avp.HostIPAddress:
			if net.IP(a.Data.(datatype.Address)).String() == "127.0.0.1" {
				hostIP++
			}
		case avp.OriginStateID:
			if uint32(a.Data.(datatype.Unsigned32)) == f.srv.OriginStateID() {
				state++
			}
		case avp.FirmwareRevision:
			fw++
		}
	}
	if auth != 0 || len(vsa) != 1 {
		t.Fatalf("want exactly one Vendor-Specific-Application-Id and no bare Auth-Application-Id, got %d and %d", len(vsa), auth)
	}
	g := vsa[0].Data.(*diam.GroupedAVP)
	var vendor, app uint32
	for _, in := range g.AVP {
		switch in.Code {
		case avp.VendorID:
			vendor = uint32(in.Data.(datatype.Unsigned32))
		case avp.AuthApplicationID:
			app = uint32(in.Data.(datatype.Unsigned32))
		}
	}
	if vendor != 10415 || app != s6aID {
		t.Fatalf("Vendor-Specific-Application-Id = vendor %d app %d", vendor, app)
	}
	if supported != 1 || hostIP != 1 || state != 1 || fw != 1 {
		t.Fatalf("Supported-Vendor-Id=%d Host-IP-Address(127.0.0.1)=%d Origin-State-Id=%d Firmware-Revision=%d", supported, hostIP, state, fw)
	}
	if oh, _ := cea.FindAVP(avp.OriginHost, 0); oh == nil || string(oh.Data.(datatype.DiameterIdentity)) != testHost {
		t.Fatalf("CEA Origin-Host %v", oh)
	}
	waitFor(t, func() bool { return len(f.srv.Peers()) == 1 })
	if got := f.srv.Peers()[0].OriginHost; got != "mme1.test" {
		t.Fatalf("peer %q", got)
	}
}

func TestRequestRoutedToApplication(t *testing.T) {
	app := &testApp{air: func(ctx context.Context, req *diameter.Request) *diam.Message {
		if req.Peer.OriginHost != "mme1.test" {
			return diameter.NewAnswer(req.Msg, diameter.Result{Code: 5012})
		}
		return diameter.NewAnswer(req.Msg, diameter.Result{Code: 5420, Experimental: true, VendorID: 10415})
	}}
	f := startServer(t, nil, app)
	p := s6aPeer(t, f, "mme1.test")
	req := air(p)
	ans, err := p.Do(ctxT(t), req)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := diameter.ResultOf(ans)
	if !ok || r != (diameter.Result{Code: 5420, Experimental: true, VendorID: 10415}) {
		t.Fatalf("result %+v", r)
	}
	if ans.Header.EndToEndID != req.Header.EndToEndID || ans.Header.CommandFlags&diam.RequestFlag != 0 {
		t.Fatalf("answer header %v for request %v", ans.Header, req.Header)
	}
	sid, _ := ans.FindAVP(avp.SessionID, 0)
	rsid, _ := req.FindAVP(avp.SessionID, 0)
	if sid == nil || sid.Data.String() != rsid.Data.String() || ans.AVP[0].Code != avp.SessionID {
		t.Fatalf("Session-Id not echoed first: %v", ans)
	}
	if oh, _ := ans.FindAVP(avp.OriginHost, 0); oh == nil {
		t.Fatal("answer lacks Origin-Host")
	}
}

func TestSendRoutedToPeerAndAnswerMatched(t *testing.T) {
	f := startServer(t, nil, nil)
	p1 := s6aPeer(t, f, "mme1.test")
	p2 := s6aPeer(t, f, "mme2.test")
	p2.Handle(cmdCLR, func(m *diam.Message) *diam.Message {
		a := m.Answer(2001)
		a.NewAVP(avp.OriginHost, avp.Mbit, 0, datatype.DiameterIdentity("mme2.test"))
		a.NewAVP(avp.OriginRealm, avp.Mbit, 0, datatype.DiameterIdentity("mme.realm"))
		return a
	})
	waitFor(t, func() bool { return len(f.srv.Peers()) == 2 })
	clr := diam.NewRequest(cmdCLR, s6aID, nil)
	clr.NewAVP(avp.SessionID, avp.Mbit, 0, datatype.UTF8String("hss;1;clr"))
	clr.NewAVP(avp.DestinationHost, avp.Mbit, 0, datatype.DiameterIdentity("mme2.test"))
	ans, err := f.srv.Send(ctxT(t), "MME2.test", clr)
	if err != nil {
		t.Fatal(err)
	}
	if oh, _ := ans.FindAVP(avp.OriginHost, 0); string(oh.Data.(datatype.DiameterIdentity)) != "mme2.test" {
		t.Fatalf("answer from %v", oh)
	}
	select {
	case m := <-p2.Received():
		if m.Header.CommandCode != cmdCLR {
			t.Fatalf("mme2 got %d", m.Header.CommandCode)
		}
		if oh, _ := m.FindAVP(avp.OriginHost, 0); oh == nil || string(oh.Data.(datatype.DiameterIdentity)) != testHost {
			t.Fatalf("CLR Origin-Host %v", oh)
		}
	case <-time.After(10 * time.Second):
		// The peer may send its answer before it queues the request it
		// answered, so wait for it rather than look once.
		t.Fatal("mme2 did not record the CLR")
	}
	select {
	case m := <-p1.Received():
		t.Fatalf("mme1 got a request %d", m.Header.CommandCode)
	default:
	}
	if _, err := f.srv.Send(ctxT(t), "nobody.test", diam.NewRequest(cmdCLR, s6aID, nil)); err == nil {
		t.Fatal("Send to an unknown peer succeeded")
	}
}

// waitFor polls cond until it holds or the test deadline of 10s passes.
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
