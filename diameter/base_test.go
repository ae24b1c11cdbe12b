package diameter_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	diamdict "github.com/fiorix/go-diameter/v4/diam/dict"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/diameter/diametertest"
	"github.com/rcmhss/rcmhss/hss"
)

func waitClosed(t *testing.T, p *diametertest.Peer) {
	t.Helper()
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("server did not close the connection")
	}
}

func TestCERFromPeerOutsideAllowListRefused(t *testing.T) {
	f := startServer(t, func(c *diameter.Config) {
		c.AllowLoopback = false
		c.AllowedPeers = []diameter.PeerRule{{OriginRealm: "*.trusted"}, {OriginHost: "mme9.example"}}
	}, nil)
	apps := []diametertest.AppSpec{{ID: s6aID, Vendor: 10415}}
	p := diametertest.NewPeer(t, f.addr, "tcp", diametertest.PeerOptions{
		OriginHost: "mme1.example", OriginRealm: "example", Apps: apps, ExpectCERFailure: true})
	if got := resultCode(t, p.CEA()); got != diameter.CodeUnknownPeer {
		t.Fatalf("CEA result %d, want 3010", got)
	}
	if p.CEA().Header.CommandFlags&diam.ErrorFlag == 0 {
		t.Fatal("3010 CEA without the E bit")
	}
	waitClosed(t, p)
	// Realm pattern and exact host both admit.
	diametertest.NewPeer(t, f.addr, "tcp", diametertest.PeerOptions{OriginHost: "mme2.epc.trusted", OriginRealm: "epc.trusted", Apps: apps})
	diametertest.NewPeer(t, f.addr, "tcp", diametertest.PeerOptions{OriginHost: "MME9.example", OriginRealm: "example", Apps: apps})
	// "*.trusted" does not match "trusted" itself.
	p = diametertest.NewPeer(t, f.addr, "tcp", diametertest.PeerOptions{
		OriginHost: "x", OriginRealm: "trusted", Apps: apps, ExpectCERFailure: true})
	if got := resultCode(t, p.CEA()); got != diameter.CodeUnknownPeer {
		t.Fatalf("CEA result %d for realm \"trusted\", want 3010", got)
	}
}

func TestCERWithoutCommonApplication(t *testing.T) {
	f := startServer(t, nil, nil)
	p := diametertest.NewPeer(t, f.addr, "tcp", diametertest.PeerOptions{
		OriginHost: "aaa.test", Apps: []diametertest.AppSpec{{ID: 16777265, Vendor: 10415}}, ExpectCERFailure: true})
	if got := resultCode(t, p.CEA()); got != diameter.CodeNoCommonApplication {
		t.Fatalf("CEA result %d, want 5010", got)
	}
	waitClosed(t, p)
	// The Relay application is common with everything (RFC 6733 2.4).
	diametertest.NewPeer(t, f.addr, "tcp", diametertest.PeerOptions{
		OriginHost: "dra.test", Apps: []diametertest.AppSpec{{ID: 0xffffffff}}})
}

func TestRequestBeforeCERRejected(t *testing.T) {
	f := startServer(t, nil, nil)
	nc, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	m := diam.NewRequest(cmdAIR, s6aID, nil)
	m.NewAVP(avp.SessionID, avp.Mbit, 0, datatype.UTF8String("x;1"))
	m.NewAVP(avp.OriginHost, avp.Mbit, 0, datatype.DiameterIdentity("mme.test"))
	if _, err := m.WriteTo(nc); err != nil {
		t.Fatal(err)
	}
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	ans, err := diam.ReadMessage(nc, diamdict.Default)
	if err != nil {
		t.Fatal(err)
	}
	if got := resultCode(t, ans); got != diameter.CodeUnknownPeer {
		t.Fatalf("result %d, want 3010", got)
	}
	if _, err := nc.Read(make([]byte, 1)); err == nil {
		t.Fatal("connection still open after a request before CER")
	}
}

func TestDWRAnsweredWhileSlowRequestPending(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	app := &testApp{air: func(ctx context.Context, req *diameter.Request) *diam.Message {
		entered <- struct{}{}
		<-release
		return diameter.NewAnswer(req.Msg, diameter.Success)
	}}
	f := startServer(t, nil, app)
	p := s6aPeer(t, f, "mme1.test")
	airDone := make(chan *diam.Message, 1)
	go func() {
		ans, _ := p.Do(context.Background(), air(p))
		airDone <- ans
	}()
	<-entered
	dwr := diam.NewRequest(280, 0, nil)
	dwr.NewAVP(avp.OriginHost, avp.Mbit, 0, datatype.DiameterIdentity("mme1.test"))
	dwr.NewAVP(avp.OriginRealm, avp.Mbit, 0, datatype.DiameterIdentity("mme.realm"))
	dwa, err := p.Do(ctxT(t), dwr)
	if err != nil {
		t.Fatal(err)
	}
	if got := resultCode(t, dwa); got != 2001 {
		t.Fatalf("DWA result %d", got)
	}
	select {
	case <-airDone:
		t.Fatal("AIR answered before its handler returned")
	default:
	}
	close(release)
	if ans := <-airDone; ans == nil || resultCode(t, ans) != 2001 {
		t.Fatalf("AIR answer %v", ans)
	}
}

func TestServerWatchdog(t *testing.T) {
	f := startServer(t, func(c *diameter.Config) { c.WatchdogInterval = time.Second }, nil)
	apps := []diametertest.AppSpec{{ID: s6aID, Vendor: 10415}}
	silent := diametertest.NewPeer(t, f.addr, "tcp", diametertest.PeerOptions{OriginHost: "silent.test", Apps: apps, NoWatchdogAnswer: true})
	alive := diametertest.NewPeer(t, f.addr, "tcp", diametertest.PeerOptions{OriginHost: "alive.test", Apps: apps})
	waitClosed(t, silent)
	if silent.DWRCount() < 1 {
		t.Fatal("silent peer closed without having been sent a DWR")
	}
	waitFor(t, func() bool { return alive.DWRCount() >= 3 })
	select {
	case <-alive.Done():
		t.Fatal("peer answering DWRs was closed")
	default:
	}
	peers := f.srv.Peers()
	if len(peers) != 1 || peers[0].OriginHost != "alive.test" {
		t.Fatalf("peers %+v", peers)
	}
}

func TestPeerDPR(t *testing.T) {
	f := startServer(t, nil, nil)
	p := s6aPeer(t, f, "mme1.test")
	waitFor(t, func() bool { return len(f.srv.Peers()) == 1 })
	dpa, err := p.Disconnect(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if dpa.Header.CommandCode != 282 || resultCode(t, dpa) != 2001 {
		t.Fatalf("DPA %v", dpa)
	}
	waitClosed(t, p)
	waitFor(t, func() bool { return len(f.srv.Peers()) == 0 })
}

// A peer that sends DPR but never closes the transport (RFC 6733 5.4 asks it
// to) is closed by the server after a bounded wait.
func TestPeerDPRWithoutClose(t *testing.T) {
	f := startServer(t, nil, nil)
	p := s6aPeer(t, f, "mme1.test")
	waitFor(t, func() bool { return len(f.srv.Peers()) == 1 })
	dpr := p.NewRequest(282, 0, "")
	dpr.NewAVP(avp.DisconnectCause, avp.Mbit, 0, datatype.Enumerated(0))
	dpa, err := p.Do(ctxT(t), dpr)
	if err != nil || resultCode(t, dpa) != 2001 {
		t.Fatalf("DPA %v, %v", dpa, err)
	}
	waitClosed(t, p)
	waitFor(t, func() bool { return len(f.srv.Peers()) == 0 })
}

func TestShutdownSendsDPR(t *testing.T) {
	f := startServer(t, nil, nil)
	p := s6aPeer(t, f, "mme1.test")
	waitFor(t, func() bool { return len(f.srv.Peers()) == 1 })
	if !f.srv.Ready() {
		t.Fatal("not ready after Start")
	}
	if err := f.srv.Shutdown(ctxT(t)); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if f.srv.Ready() {
		t.Fatal("ready after Shutdown")
	}
	var dpr *diam.Message
	for dpr == nil {
		select {
		case m := <-p.Received():
			if m.Header.CommandCode == 282 {
				dpr = m
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no DPR received")
		}
	}
	cause, err := dpr.FindAVP(avp.DisconnectCause, 0)
	if err != nil || cause.Data.(datatype.Enumerated) != 0 {
		t.Fatalf("Disconnect-Cause %v, want REBOOTING (0)", cause)
	}
	waitClosed(t, p)
	if _, err := net.Dial("tcp", f.addr); err == nil {
		t.Fatal("listener still accepting after Shutdown")
	}
}

func TestDuplicateRequestAnsweredFromCache(t *testing.T) {
	app := &testApp{}
	app.air = func(ctx context.Context, req *diameter.Request) *diam.Message {
		a := diameter.NewAnswer(req.Msg, diameter.Success)
		// A value that differs per call: a second call would show.
		a.NewAVP(avp.ErrorMessage, 0, 0, datatype.UTF8String(time.Now().Format(time.RFC3339Nano)))
		return a
	}
	f := startServer(t, nil, app)
	p := s6aPeer(t, f, "mme1.test")
	req := air(p)
	first, err := p.Do(ctxT(t), req)
	if err != nil {
		t.Fatal(err)
	}
	second := retransmit(t, p, req)
	if got := app.calls.Load(); got != 1 {
		t.Fatalf("handler called %d times, want 1", got)
	}
	b1, _ := first.Serialize()
	b2, _ := second.Serialize()
	if second.Header.HopByHopID != req.Header.HopByHopID {
		t.Fatalf("replayed answer has Hop-by-Hop %x, want %x", second.Header.HopByHopID, req.Header.HopByHopID)
	}
	binary.BigEndian.PutUint32(b2[12:16], first.Header.HopByHopID)
	if !bytes.Equal(b1, b2) {
		t.Fatalf("replayed answer differs:\n%v\n%v", first, second)
	}
	// Without the T bit the same End-to-End id is a new request.
	req.Header.HopByHopID++
	req.Header.CommandFlags &^= diam.RetransmittedFlag
	if _, err := p.DoKeepIDs(ctxT(t), req); err != nil {
		t.Fatal(err)
	}
	if got := app.calls.Load(); got != 2 {
		t.Fatalf("handler called %d times, want 2", got)
	}
}

// TestRetransmissionAfterTooBusyRunsAgain: an answer with the E bit (here
// 3004, what a store outage gives) did not process the request, so the
// retransmission (T bit) runs the handler again instead of getting the
// refusal back from the duplicate cache.
func TestRetransmissionAfterTooBusyRunsAgain(t *testing.T) {
	app := &testApp{}
	app.air = func(ctx context.Context, req *diameter.Request) *diam.Message {
		if app.calls.Load() == 1 {
			return diameter.NewAnswer(req.Msg, diameter.Result{Code: diameter.CodeTooBusy})
		}
		return diameter.NewAnswer(req.Msg, diameter.Success)
	}
	f := startServer(t, nil, app)
	p := s6aPeer(t, f, "mme1.test")
	req := air(p)
	first, err := p.Do(ctxT(t), req)
	if err != nil {
		t.Fatal(err)
	}
	if rc := diametertest.ResultCode(first); rc != diameter.CodeTooBusy || first.Header.CommandFlags&diam.ErrorFlag == 0 {
		t.Fatalf("first answer %d, flags %#x: want 3004 with the E bit", rc, first.Header.CommandFlags)
	}
	second := retransmit(t, p, req)
	if rc := diametertest.ResultCode(second); rc != diam.Success {
		t.Fatalf("retransmission answered %d, want 2001 (handler run again)", rc)
	}
	if got := app.calls.Load(); got != 2 {
		t.Fatalf("handler called %d times, want 2", got)
	}
}

// TestRequestKeyInContext: with WithRequestKeys the handler's context
// carries the request's key (Origin-Host and End-to-End Identifier, what a
// shared store records), the same for a retransmission of it; without the
// option it carries none.
func TestRequestKeyInContext(t *testing.T) {
	for _, withKeys := range []bool{true, false} {
		t.Run(fmt.Sprintf("WithRequestKeys=%v", withKeys), func(t *testing.T) {
			var keys []string
			var mu sync.Mutex
			app := &testApp{}
			app.air = func(ctx context.Context, req *diameter.Request) *diam.Message {
				mu.Lock()
				keys = append(keys, hss.RequestKey(ctx))
				mu.Unlock()
				// 3004 keeps the answer out of the duplicate cache, so the
				// retransmission below runs the handler again.
				return diameter.NewAnswer(req.Msg, diameter.Result{Code: diameter.CodeTooBusy})
			}
			var opts []diameter.Option
			if withKeys {
				opts = append(opts, diameter.WithRequestKeys())
			}
			f := startServer(t, nil, app, opts...)
			p := s6aPeer(t, f, "mme1.test")
			req := air(p)
			if _, err := p.Do(ctxT(t), req); err != nil {
				t.Fatal(err)
			}
			retransmit(t, p, req)
			want := ""
			if withKeys {
				want = fmt.Sprintf("mme1.test/%x", req.Header.EndToEndID)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(keys) != 2 || keys[0] != want || keys[1] != want {
				t.Fatalf("request keys %q, want twice %q", keys, want)
			}
		})
	}
}

func proxyInfo(host, state string) *diam.AVP {
	return diam.NewAVP(avp.ProxyInfo, avp.Mbit, 0, &diam.GroupedAVP{AVP: []*diam.AVP{
		diam.NewAVP(avp.ProxyHost, avp.Mbit, 0, datatype.DiameterIdentity(host)),
		diam.NewAVP(avp.ProxyState, avp.Mbit, 0, datatype.OctetString(state)),
	}})
}

func proxyInfos(m *diam.Message) []string {
	var out []string
	for _, a := range m.AVP {
		if a.Code == avp.ProxyInfo {
			for _, in := range a.Data.(*diam.GroupedAVP).AVP {
				out = append(out, in.Data.String())
			}
		}
	}
	return out
}

func TestProxyInfoEchoed(t *testing.T) {
	f := startServer(t, nil, nil)
	p := s6aPeer(t, f, "mme1.test")
	for _, tc := range []struct {
		name  string
		build func() *diam.Message
		code  uint32
	}{
		{"handler answer", func() *diam.Message { return air(p) }, 2001},
		{"server error answer", func() *diam.Message { return p.NewRequest(cmdAIR, 16777265, realm) }, 3007},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.build()
			req.AddAVP(proxyInfo("dra1.test", "s1"))
			req.AddAVP(proxyInfo("dra2.test", "s2"))
			ans, err := p.Do(ctxT(t), req)
			if err != nil {
				t.Fatal(err)
			}
			if got := resultCode(t, ans); got != tc.code {
				t.Fatalf("result %d, want %d", got, tc.code)
			}
			want := proxyInfos(req)
			got := proxyInfos(ans)
			if len(want) != 4 || len(got) != len(want) {
				t.Fatalf("Proxy-Info %v, want %v", got, want)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("Proxy-Info %v, want %v", got, want)
				}
			}
		})
	}
}

func failedAVPCode(t *testing.T, ans *diam.Message) *diam.AVP {
	t.Helper()
	for _, a := range ans.AVP {
		if a.Code == avp.FailedAVP {
			g := a.Data.(*diam.GroupedAVP)
			if len(g.AVP) == 0 {
				t.Fatal("empty Failed-AVP")
			}
			return g.AVP[0]
		}
	}
	t.Fatalf("answer has no Failed-AVP: %v", ans)
	return nil
}

func TestBaseProtocolErrors(t *testing.T) {
	app := &testApp{air: func(ctx context.Context, req *diameter.Request) *diam.Message {
		v, err := req.Msg.FindAVP(avp.VisitedPLMNID, diameter.VendorID3GPP)
		if err != nil {
			return diameter.ErrorAnswer(req.Msg, diameter.MissingAVP(avp.VisitedPLMNID, diameter.VendorID3GPP))
		}
		if len(v.Data.(datatype.OctetString)) != 3 {
			return diameter.ErrorAnswer(req.Msg, diameter.InvalidAVP(v, "visited plmn id is 3 octets"))
		}
		return diameter.NewAnswer(req.Msg, diameter.Success)
	}}
	f := startServer(t, nil, app)
	p := s6aPeer(t, f, "mme1.test")
	cases := []struct {
		name      string
		build     func() *diam.Message
		code      uint32
		eBit      bool
		failedAVP uint32
	}{
		{"unknown command of a known application", func() *diam.Message {
			m := air(p)
			m.Header.CommandCode = 321 // PUR, not served by the test app
			return m
		}, diameter.CodeCommandUnsupported, true, 0},
		{"unknown application", func() *diam.Message { return p.NewRequest(cmdAIR, 16777265, realm) }, diameter.CodeApplicationUnsupported, true, 0},
		{"unknown command and application", func() *diam.Message { return p.NewRequest(9999, 4242, realm) }, diameter.CodeApplicationUnsupported, true, 0},
		{"unknown base command", func() *diam.Message { return p.NewRequest(274, 0, realm) }, diameter.CodeCommandUnsupported, true, 0},
		{"realm not served", func() *diam.Message {
			m := air(p)
			m.DeleteAVP(avp.DestinationRealm, 0)
			m.NewAVP(avp.DestinationRealm, avp.Mbit, 0, datatype.DiameterIdentity("other.realm"))
			return m
		}, diameter.CodeRealmNotServed, true, 0},
		{"request with E bit", func() *diam.Message {
			m := air(p)
			m.Header.CommandFlags |= diam.ErrorFlag
			return m
		}, diameter.CodeInvalidHdrBits, true, 0},
		{"missing mandatory avp from the dictionary", func() *diam.Message {
			m := air(p)
			m.DeleteAVP(avp.UserName, 0)
			return m
		}, diameter.CodeMissingAVP, false, avp.UserName},
		{"too many occurrences", func() *diam.Message {
			m := air(p)
			m.NewAVP(avp.UserName, avp.Mbit, 0, datatype.UTF8String("001010000000002"))
			return m
		}, diameter.CodeAVPOccursTooManyTimes, false, avp.UserName},
		{"invalid value from the handler", func() *diam.Message {
			m := air(p)
			m.DeleteAVP(avp.VisitedPLMNID, diameter.VendorID3GPP)
			m.NewAVP(avp.VisitedPLMNID, avp.Mbit|avp.Vbit, diameter.VendorID3GPP, datatype.OctetString([]byte{1, 2}))
			return m
		}, diameter.CodeInvalidAVPValue, false, avp.VisitedPLMNID},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.build()
			ans, err := p.Do(ctxT(t), req)
			if err != nil {
				t.Fatal(err)
			}
			if got := resultCode(t, ans); got != tc.code {
				t.Fatalf("result %d, want %d", got, tc.code)
			}
			if got := ans.Header.CommandFlags&diam.ErrorFlag != 0; got != tc.eBit {
				t.Fatalf("E bit %v, want %v", got, tc.eBit)
			}
			if ans.Header.CommandCode != req.Header.CommandCode || ans.Header.ApplicationID != req.Header.ApplicationID {
				t.Fatalf("answer header %v for %v", ans.Header, req.Header)
			}
			if oh, _ := ans.FindAVP(avp.OriginHost, 0); oh == nil {
				t.Fatal("no Origin-Host")
			}
			if req.Header.ApplicationID == s6aID && tc.code != diameter.CodeInvalidAVPValue {
				// Built by the server, not the handler: TS 29.272 7.2 still
				// requires these in every S6a answer.
				if a, _ := ans.FindAVP(avp.AuthSessionState, 0); a == nil {
					t.Fatal("server-built S6a answer without Auth-Session-State")
				}
				if a, _ := ans.FindAVP(avp.VendorSpecificApplicationID, 0); a == nil {
					t.Fatal("server-built S6a answer without Vendor-Specific-Application-Id")
				}
			}
			if tc.failedAVP != 0 {
				fa := failedAVPCode(t, ans)
				if fa.Code != tc.failedAVP {
					t.Fatalf("Failed-AVP holds %d, want %d", fa.Code, tc.failedAVP)
				}
			}
		})
	}
	if got := app.calls.Load(); got != 1 {
		t.Fatalf("handler ran %d times; only the invalid-value case reaches it", got)
	}
}

func TestCEROfferingOnlyInbandTLS(t *testing.T) {
	f := startServer(t, nil, nil)
	apps := []diametertest.AppSpec{{ID: s6aID, Vendor: 10415}}
	p := diametertest.NewPeer(t, f.addr, "tcp", diametertest.PeerOptions{
		OriginHost: "tls-only.test", Apps: apps, InbandSecurity: []uint32{1}, ExpectCERFailure: true})
	if got := resultCode(t, p.CEA()); got != diameter.CodeNoCommonSecurity {
		t.Fatalf("CEA result %d, want 5017", got)
	}
	waitClosed(t, p)
	diametertest.NewPeer(t, f.addr, "tcp", diametertest.PeerOptions{
		OriginHost: "either.test", Apps: apps, InbandSecurity: []uint32{1, 0}})
}
