package s6a

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/diameter/diametertest"
	"github.com/rcmhss/rcmhss/hss"
)

// resetEnv is a real diameter.Server with the S6a plugin on the real domain
// over TCP on 127.0.0.1:0, its metrics read by a manual reader.
type resetEnv struct {
	t      *testing.T
	hss    *hss.HSS
	plugin *Plugin
	srv    *diameter.Server
	addr   string
	reader *sdkmetric.ManualReader
}

func newResetEnv(t *testing.T, cfg Config) *resetEnv {
	t.Helper()
	h := newHSS(t)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	p, srv := startPlugin(t, h, cfg, "tcp", diameter.WithMeterProvider(mp))
	return &resetEnv{t: t, hss: h, plugin: p, srv: srv, addr: srv.Addrs()[0].String(), reader: reader}
}

// connect brings up a peer advertising apps (S6a by default).
func (e *resetEnv) connect(host string, apps ...diametertest.AppSpec) *diametertest.Peer {
	e.t.Helper()
	if len(apps) == 0 {
		apps = []diametertest.AppSpec{{ID: AppID, Vendor: VendorID}}
	}
	return diametertest.NewPeer(e.t, e.addr, "tcp", diametertest.PeerOptions{OriginHost: host, OriginRealm: mmeRealm, Apps: apps})
}

// rsa answers an RSR as an MME does (TS 29.272 7.2.16).
func rsa(req *diam.Message, host string, code uint32) *diam.Message {
	a := req.Answer(code)
	a.InsertAVP(find(req.AVP, avp.SessionID, 0))
	a.AddAVP(vendorSpecificAppID())
	a.NewAVP(avp.AuthSessionState, flagsM, 0, datatype.Enumerated(noStateMaintained))
	a.NewAVP(avp.OriginHost, flagsM, 0, datatype.DiameterIdentity(host))
	a.NewAVP(avp.OriginRealm, flagsM, 0, datatype.DiameterIdentity(mmeRealm))
	return a
}

// checkRSR checks a Reset-Request as received by the MME to
// (TS 29.272 7.2.15) and returns its User-Id values in order.
func checkRSR(t *testing.T, m *diam.Message, to string) []string {
	t.Helper()
	if m.Header.CommandCode != cmdReset || m.Header.ApplicationID != AppID ||
		m.Header.CommandFlags&diam.RequestFlag == 0 || m.Header.CommandFlags&diam.ProxiableFlag == 0 {
		t.Errorf("header %+v, want 322 R P on S6a", m.Header)
	}
	if len(m.AVP) == 0 || m.AVP[0].Code != avp.SessionID {
		t.Fatal("Session-Id is not the first avp")
	}
	if sid := string(mustOctets(t, m.AVP[0])); !strings.HasPrefix(sid, hssHost+";") {
		t.Errorf("Session-Id %q", sid)
	}
	for code, want := range map[uint32]string{
		avp.OriginHost: hssHost, avp.OriginRealm: hssRealm, avp.DestinationHost: to, avp.DestinationRealm: mmeRealm,
	} {
		if got := string(mustOctets(t, find(m.AVP, code, 0))); got != want {
			t.Errorf("avp %d = %q, want %q", code, got, want)
		}
	}
	if v := mustU32(t, find(m.AVP, avp.AuthSessionState, 0)); v != noStateMaintained {
		t.Errorf("Auth-Session-State %d, want NO_STATE_MAINTAINED", v)
	}
	vsai := members(t, find(m.AVP, avp.VendorSpecificApplicationID, 0))
	if mustU32(t, find(vsai, avp.VendorID, 0)) != VendorID || mustU32(t, find(vsai, avp.AuthApplicationID, 0)) != AppID {
		t.Errorf("Vendor-Specific-Application-Id %v", vsai)
	}
	if find(m.AVP, avp.UserName, 0) != nil {
		t.Error("RSR carries a User-Name")
	}
	var ids []string
	for _, a := range findAll(m.AVP, codeUserID, VendorID) {
		// Table 7.3.1/1: User-Id has V set and M clear.
		if a.Flags&avp.Vbit == 0 || a.Flags&avp.Mbit != 0 {
			t.Errorf("User-Id flags %#x, want V only", a.Flags)
		}
		ids = append(ids, string(mustOctets(t, a)))
	}
	return ids
}

// nextRSR is nextRequest for a Reset-Request: the first S6a request the
// peer receives must be it.
func nextRSR(t *testing.T, peer *diametertest.Peer, to string) []string {
	t.Helper()
	return checkRSR(t, nextRequest(t, peer, cmdReset), to)
}

// noS6aRequest checks that peer received no S6a request so far: a round
// trip on its connection comes back only after its reader has passed every
// request sent to it before.
func noS6aRequest(t *testing.T, peer *diametertest.Peer, host string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	air := request(cmdAuthenticationInfo, host, userName(testIMSI),
		grp(codeRequestedEUTRANAuthInfo, u32(codeNumberOfRequestedVecs, 1)), oct(codeVisitedPLMNID, homePLMN))
	if _, err := peer.Do(ctx, air); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case m := <-peer.Received():
			if m.Header.ApplicationID == AppID {
				t.Fatalf("%s received %s", host, diameter.CommandName(m.Header.CommandCode))
			}
		default:
			return
		}
	}
}

// clientRequests reads diameter_client_requests_total for S6a RSR by result.
func (e *resetEnv) clientRequests(t *testing.T) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := e.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "diameter_client_requests_total" {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				app, _ := dp.Attributes.Value("app")
				cmd, _ := dp.Attributes.Value("command")
				res, _ := dp.Attributes.Value("result")
				if app.AsString() == "S6a" && cmd.AsString() == "RSR" {
					out[res.AsString()] += dp.Value
				}
			}
		}
	}
	return out
}

// TestResetComponent: HSS.Reset sends one Reset-Request to every connected
// MME (not to a relay), with the User-Ids asked for, and reports what each
// answered; invalid User-Ids send nothing; each RSA is counted by result.
// No Reset goes out on connection while ResetAfterRestart is off.
func TestResetComponent(t *testing.T) {
	e := newResetEnv(t, testConfig())
	ctx := context.Background()
	mmeA, mmeB := e.connect(mme1), e.connect(mme2)
	mmeB.Handle(cmdReset, func(m *diam.Message) *diam.Message { return rsa(m, mme2, diameter.CodeUnableToComply) })
	dra := e.connect("dra.epc.mnc001.mcc001.3gppnetwork.org", diametertest.AppSpec{ID: 0xffffffff})

	out, err := e.hss.Reset(ctx, []string{"00101", "310260", "00101"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		peer *diametertest.Peer
		host string
	}{{mmeA, mme1}, {mmeB, mme2}} {
		if ids := nextRSR(t, tc.peer, tc.host); !slices.Equal(ids, []string{"00101", "310260"}) {
			t.Errorf("%s: User-Id %q, want [00101 310260]", tc.host, ids)
		}
	}
	slices.SortFunc(out, func(a, b hss.ResetOutcome) int { return strings.Compare(a.Node, b.Node) })
	if len(out) != 2 || out[0].Node != mme1 || out[0].Err != nil || out[0].Application != "S6a" ||
		out[1].Node != mme2 || !errors.Is(out[1].Err, ErrRejected) || !strings.Contains(out[1].Err.Error(), "5012") {
		t.Fatalf("outcomes %+v, want %s acknowledged and %s rejected with 5012", out, mme1, mme2)
	}
	noS6aRequest(t, dra, "dra.epc.mnc001.mcc001.3gppnetwork.org")

	// Invalid input: an error and no request. The next RSR each MME sees
	// is the one of the following valid Reset, for all subscribers.
	if _, err := e.hss.Reset(ctx, []string{"00101", "0010x"}); !errors.Is(err, hss.ErrInvalidInput) {
		t.Fatalf("Reset with a bad User-Id: %v, want ErrInvalidInput", err)
	}
	if out, err := e.hss.Reset(ctx, nil); err != nil || len(out) != 2 {
		t.Fatalf("Reset(all) = %+v, %v", out, err)
	}
	for _, tc := range []struct {
		peer *diametertest.Peer
		host string
	}{{mmeA, mme1}, {mmeB, mme2}} {
		if ids := nextRSR(t, tc.peer, tc.host); len(ids) != 0 {
			t.Errorf("%s: User-Id %q in a Reset for all subscribers", tc.host, ids)
		}
	}

	if got, want := e.clientRequests(t), map[string]int64{"2001": 2, "5012": 2}; len(got) != len(want) || got["2001"] != 2 || got["5012"] != 2 {
		t.Errorf("diameter_client_requests_total{S6a,RSR} by result = %v, want %v", got, want)
	}
}

// TestResetAfterRestart: with ResetAfterRestart, an MME gets a Reset for
// all subscribers the first time it connects after the process started, and
// not again when it reconnects; an MME that never answered gets it again at
// its next connection.
func TestResetAfterRestart(t *testing.T) {
	cfg := testConfig()
	cfg.ResetAfterRestart = true
	cfg.RequestTimeout = 500 * time.Millisecond
	e := newResetEnv(t, cfg)

	mmeA := e.connect(mme1)
	if ids := nextRSR(t, mmeA, mme1); len(ids) != 0 {
		t.Errorf("User-Id %q in the Reset after restart, want none (all subscribers)", ids)
	}
	e.waitSettled(t, mme1, true)
	mmeA.Close()
	mmeA = e.connect(mme1)
	// The next RSR this MME sees is the operator's, not a second automatic one.
	if _, err := e.hss.Reset(context.Background(), []string{"00101"}); err != nil {
		t.Fatal(err)
	}
	if ids := nextRSR(t, mmeA, mme1); !slices.Equal(ids, []string{"00101"}) {
		t.Errorf("User-Id %q, want the operator's [00101]: a reconnecting MME got a second Reset", ids)
	}

	// mme2 never answers and drops: the Reset is due again when it returns.
	mmeB := e.connect(mme2)
	mmeB.Handle(cmdReset, func(*diam.Message) *diam.Message { return nil })
	nextRSR(t, mmeB, mme2)
	mmeB.Close()
	e.waitSettled(t, mme2, false)
	mmeB = e.connect(mme2)
	nextRSR(t, mmeB, mme2)
	e.waitSettled(t, mme2, true)
}

// waitSettled polls until the automatic Reset to host is over: recorded as
// done (sent) or forgotten so that the next connection retries.
func (e *resetEnv) waitSettled(t *testing.T, host string, sent bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		done := e.plugin.Close(ctx) == nil // waits for the Reset in flight
		cancel()
		e.plugin.resets.mu.Lock()
		got := e.plugin.resets.sent[strings.ToLower(host)]
		e.plugin.resets.mu.Unlock()
		if done && got == sent {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("automatic Reset to %s: sent=%v, want %v", host, got, sent)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestResetWiresharkDecodes: tshark reads the RSR with User-Ids and the RSA
// with nothing unknown or malformed.
func TestResetWiresharkDecodes(t *testing.T) {
	p := New(testConfig(), newHSS(t), nil, nil)
	rsr := p.resetRequest(diameter.PeerInfo{OriginHost: mme1, OriginRealm: mmeRealm}, []string{"00101", "001010123"})
	rsr.Header.HopByHopID, rsr.Header.EndToEndID = 7, 8
	text := diametertest.TsharkDecode(t, rsr, rsa(rsr, mme1, diameter.CodeSuccess))
	for _, want := range []string{"3GPP-Reset (322)", "User-Id(1444) l=17 f=V-- vnd=TGPP val=00101", "val=001010123",
		"Result-Code(268) l=12 f=-M- val=DIAMETER_SUCCESS (2001)"} {
		if !strings.Contains(text, want) {
			t.Errorf("tshark output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(text)
	}
}
