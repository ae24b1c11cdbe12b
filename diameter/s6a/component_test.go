package s6a

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/diameter/diametertest"
	"github.com/rcmhss/rcmhss/hss"
)

// deadline bounds every wait of the component tests; it is a failure bound,
// not a sleep.
const deadline = 10 * time.Second

// cluster is a real diameter.Server with the S6a plugin on the real domain,
// listening on 127.0.0.1:0, and the MMEs connected to it.
type cluster struct {
	// t is the test that owns the cluster: peers live as long as it does,
	// not as long as the subtest that first used them.
	t       *testing.T
	hss     *hss.HSS
	plugin  *Plugin
	addr    string
	network string
	peers   map[string]*diametertest.Peer
}

func newCluster(t *testing.T, network string) *cluster {
	t.Helper()
	if network == "sctp" {
		diametertest.SkipWithoutSCTP(t)
	}
	h := newHSS(t)
	p, srv := startPlugin(t, h, testConfig(), network)
	return &cluster{t: t, hss: h, plugin: p, addr: srv.Addrs()[0].String(), network: network, peers: map[string]*diametertest.Peer{}}
}

// startPlugin runs a real diameter.Server with the S6a plugin on h, listening
// on network://127.0.0.1:0, the plugin observing h; both stop with the test.
func startPlugin(t *testing.T, h *hss.HSS, cfg Config, network string, opts ...diameter.Option) (*Plugin, *diameter.Server) {
	t.Helper()
	srv, err := diameter.NewServer(diameter.Config{
		Listen:        []string{network + "://127.0.0.1:0"},
		OriginHost:    hssHost,
		OriginRealm:   hssRealm,
		AllowLoopback: true,
	}, append([]diameter.Option{diameter.WithLogger(testLogger(t))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	p := New(cfg, h, srv, testLogger(t))
	h.AddObserver(p)
	if err := srv.Register(p); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("plugin close: %v", err)
		}
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("server shutdown: %v", err)
		}
	})
	return p, srv
}

// mme returns the connected MME with Origin-Host host, connecting it first.
func (c *cluster) mme(t *testing.T, host string) *diametertest.Peer {
	t.Helper()
	if p, ok := c.peers[host]; ok {
		return p
	}
	p := diametertest.NewPeer(c.t, c.addr, c.network, diametertest.PeerOptions{
		OriginHost: host, OriginRealm: mmeRealm,
		Apps: []diametertest.AppSpec{{ID: AppID, Vendor: VendorID}},
	})
	c.peers[host] = p
	return p
}

// do sends req on the connection of the MME named by its Origin-Host.
func (c *cluster) do(t *testing.T, req *diam.Message) *diam.Message {
	t.Helper()
	origin, _ := identity(find(req.AVP, avp.OriginHost, 0))
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	ans, err := c.mme(t, origin).Do(ctx, req)
	if err != nil {
		t.Fatalf("%s: %v", origin, err)
	}
	return ans
}

// nextRequest returns the next S6a request the server sent to peer and
// checks it is a cmd: requests on one connection arrive in order, so a
// request that should not have been sent shows up as the wrong next one.
// Base requests (DWR) are skipped. It fails after the deadline.
func nextRequest(t *testing.T, peer *diametertest.Peer, cmd uint32) *diam.Message {
	t.Helper()
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	for {
		select {
		case m := <-peer.Received():
			if m.Header.ApplicationID != AppID {
				continue
			}
			if m.Header.CommandCode != cmd {
				t.Fatalf("next request is %s, want %s:\n%s", diameter.CommandName(m.Header.CommandCode), diameter.CommandName(cmd), m)
			}
			return m
		case <-timer.C:
			t.Fatalf("no %s received", diameter.CommandName(cmd))
		}
	}
}

// checkOriginated checks the head of a request the HSS sent to the MME
// (TS 29.272 7.2.7, 7.2.9, 7.2.11).
func checkOriginated(t *testing.T, m *diam.Message, to string) {
	t.Helper()
	if m.Header.CommandFlags&diam.RequestFlag == 0 || m.Header.CommandFlags&diam.ProxiableFlag == 0 {
		t.Errorf("flags %#x, want R and P", m.Header.CommandFlags)
	}
	if len(m.AVP) == 0 || m.AVP[0].Code != avp.SessionID {
		t.Fatal("Session-Id is not the first avp")
	}
	if sid := string(mustOctets(t, m.AVP[0])); !strings.HasPrefix(sid, hssHost+";") || strings.Count(sid, ";") != 2 {
		t.Errorf("Session-Id %q", sid)
	}
	for code, want := range map[uint32]string{
		avp.OriginHost: hssHost, avp.OriginRealm: hssRealm, avp.DestinationHost: to,
		avp.DestinationRealm: mmeRealm, avp.UserName: testIMSI,
	} {
		if got := string(mustOctets(t, find(m.AVP, code, 0))); got != want {
			t.Errorf("avp %d = %q, want %q", code, got, want)
		}
	}
	if v := mustU32(t, find(m.AVP, avp.AuthSessionState, 0)); v != 1 {
		t.Errorf("Auth-Session-State %d", v)
	}
	vsai := members(t, find(m.AVP, avp.VendorSpecificApplicationID, 0))
	if mustU32(t, find(vsai, avp.VendorID, 0)) != VendorID || mustU32(t, find(vsai, avp.AuthApplicationID, 0)) != AppID {
		t.Errorf("Vendor-Specific-Application-Id %v", vsai)
	}
}

func networks(t *testing.T, f func(t *testing.T, network string)) {
	for _, n := range []string{"tcp", "sctp"} {
		t.Run(n, func(t *testing.T) { f(t, n) })
	}
}

func TestComponentScenarios(t *testing.T) {
	networks(t, func(t *testing.T, network string) {
		runScenarios(t, func(t *testing.T) *env {
			c := newCluster(t, network)
			return &env{hss: c.hss, do: c.do}
		})
	})
}

// TestComponentMMEChange: a ULR from a new MME makes the HSS cancel the old
// one (TS 29.272 5.2.1.1.3, 5.2.1.2), with INITIAL_ATTACH_PROCEDURE when the
// UE attached afresh and MME_UPDATE_PROCEDURE otherwise (7.3.24).
func TestComponentMMEChange(t *testing.T) {
	networks(t, func(t *testing.T, network string) {
		for _, tc := range []struct {
			name  string
			flags hss.ULRFlags
			want  uint32
		}{
			{"tracking area update", hss.ULRS6aS6dIndicator, CancelMMEUpdateProcedure},
			{"initial attach", hss.ULRS6aS6dIndicator | hss.ULRInitialAttach, CancelInitialAttachProcedure},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := newCluster(t, network)
				provision(t, c.hss, testSubscriber(testIMSI))
				old := c.mme(t, mme1)
				wantResult(t, c.do(t, ulrRequest(testIMSI, mme1, hss.ULRS6aS6dIndicator|hss.ULRInitialAttach)), diameter.Success)
				wantResult(t, c.do(t, ulrRequest(testIMSI, mme2, tc.flags)), diameter.Success)

				clr := nextRequest(t, old, cmdCancelLocation)
				checkOriginated(t, clr, mme1)
				if v := mustU32(t, find(clr.AVP, codeCancellationType, VendorID)); v != tc.want {
					t.Errorf("Cancellation-Type %d, want %d", v, tc.want)
				}
				if v := mustU32(t, find(clr.AVP, codeCLRFlags, VendorID)); v&clrS6aS6dIndicator == 0 {
					t.Errorf("CLR-Flags %b without S6a/S6d-Indicator", v)
				}
				regs, err := c.hss.Registrations(context.Background(), testIMSI)
				if err != nil || regs.MME == nil || regs.MME.Host != mme2 {
					t.Errorf("registration %+v, %v; want %s", regs.MME, err, mme2)
				}
			})
		}
	})
}

// TestComponentPurgedMMEIsNotCancelled: after a PUR the old MME holds no
// data, so a ULR from another MME sends it no CLR (5.2.3.1.3).
func TestComponentPurgedMMEIsNotCancelled(t *testing.T) {
	networks(t, func(t *testing.T, network string) {
		c := newCluster(t, network)
		provision(t, c.hss, testSubscriber(testIMSI))
		old := c.mme(t, mme1)
		wantResult(t, c.do(t, ulrRequest(testIMSI, mme1, hss.ULRS6aS6dIndicator)), diameter.Success)
		ans := c.do(t, request(cmdPurgeUE, mme1, userName(testIMSI)))
		wantResult(t, ans, diameter.Success)
		if v := mustU32(t, find(ans.AVP, codePUAFlags, VendorID)); v != puaFreezeMTMSI {
			t.Errorf("PUA-Flags %d", v)
		}
		wantResult(t, c.do(t, ulrRequest(testIMSI, mme2, hss.ULRS6aS6dIndicator)), diameter.Success)

		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		if err := c.plugin.Close(ctx); err != nil { // every CLR the ULA could start has been sent
			t.Fatal(err)
		}
		// Barrier: move a second subscriber from mme1 to mme2. Its CLR must
		// be the next request mme1 sees.
		provision(t, c.hss, testSubscriber(testIMSI2))
		wantResult(t, c.do(t, ulrRequest(testIMSI2, mme1, hss.ULRS6aS6dIndicator)), diameter.Success)
		wantResult(t, c.do(t, ulrRequest(testIMSI2, mme2, hss.ULRS6aS6dIndicator)), diameter.Success)
		clr := nextRequest(t, old, cmdCancelLocation)
		if u := string(mustOctets(t, find(clr.AVP, avp.UserName, 0))); u != testIMSI2 {
			t.Errorf("CLR for %s: the purged registration was cancelled", u)
		}
	})
}

// TestComponentSubscriberChanges: operator changes reach the registered MME
// as DSR then IDR (TS 29.272 5.2.2.2, 5.2.2.1), and deletion as a CLR with
// SUBSCRIPTION_WITHDRAWAL (5.2.1.2).
func TestComponentSubscriberChanges(t *testing.T) {
	networks(t, func(t *testing.T, network string) {
		c := newCluster(t, network)
		provision(t, c.hss, testSubscriber(testIMSI))
		mme := c.mme(t, mme1)
		wantResult(t, c.do(t, ulrRequest(testIMSI, mme1, hss.ULRS6aS6dIndicator|hss.ULRInitialAttach)), diameter.Success)
		ctx := context.Background()

		_, err := c.hss.UpdateSubscriber(ctx, testIMSI, func(s *hss.Subscriber) error {
			s.AMBR = hss.AMBR{UL: 10_000_000, DL: 20_000_000}
			s.APNs = s.APNs[:1] // withdraw "ims" (context 2)
			s.APNs[0].QCI = 8
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		dsr := nextRequest(t, mme, cmdDeleteSubscriberData)
		checkOriginated(t, dsr, mme1)
		if v := mustU32(t, find(dsr.AVP, codeDSRFlags, VendorID)); v != dsrPDNSubscriptionContextsWithdrawal {
			t.Errorf("DSR-Flags %b, want PDN subscription contexts withdrawal (bit 3)", v)
		}
		ids := findAll(dsr.AVP, codeContextIdentifier, VendorID)
		if len(ids) != 1 || mustU32(t, ids[0]) != 2 {
			t.Errorf("DSR Context-Identifier %v, want [2]", ids)
		}

		idr := nextRequest(t, mme, cmdInsertSubscriberData)
		checkOriginated(t, idr, mme1)
		sd := members(t, find(idr.AVP, codeSubscriptionData, VendorID))
		checkAMBR(t, find(sd, codeAMBR, VendorID), 10_000_000, 20_000_000)
		prof := members(t, find(sd, codeAPNConfigurationProfile, VendorID))
		if mustU32(t, find(prof, codeAllAPNConfigsIncluded, VendorID)) != modifiedAddedAPNConfigurationsIncluded {
			t.Error("IDR APN profile is not MODIFIED_ADDED_APN_CONFIGURATIONS_INCLUDED")
		}
		apns := findAll(prof, codeAPNConfiguration, VendorID)
		if len(apns) != 1 {
			t.Fatalf("%d APN-Configuration in IDR, want 1", len(apns))
		}
		qos := members(t, find(members(t, apns[0]), codeEPSSubscribedQoSProfile, VendorID))
		if v := mustU32(t, find(qos, codeQoSClassIdentifier, VendorID)); v != 8 {
			t.Errorf("IDR QCI %d", v)
		}
		if find(sd, codeSubscriberStatus, VendorID) != nil || find(sd, codeMSISDN, VendorID) != nil {
			t.Error("IDR carries unchanged data")
		}

		// A change the MME does not hold (the key) sends nothing: the next
		// request after it is the CLR of the deletion.
		if _, err := c.hss.UpdateSubscriber(ctx, testIMSI, func(s *hss.Subscriber) error {
			s.K = mustKey("00112233445566778899aabbccddeeff")
			return nil
		}); err != nil {
			t.Fatal(err)
		}

		if err := c.hss.DeleteSubscriber(ctx, testIMSI); err != nil {
			t.Fatal(err)
		}
		clr := nextRequest(t, mme, cmdCancelLocation)
		checkOriginated(t, clr, mme1)
		if v := mustU32(t, find(clr.AVP, codeCancellationType, VendorID)); v != CancelSubscriptionWithdrawal {
			t.Errorf("Cancellation-Type %d, want SUBSCRIPTION_WITHDRAWAL", v)
		}
	})
}

// TestComponentPurgedMMEGetsNoIDR: a purged registration is neither told
// about changes nor cancelled on deletion (the MME holds no data).
func TestComponentPurgedMMEGetsNoIDR(t *testing.T) {
	c := newCluster(t, "tcp")
	provision(t, c.hss, testSubscriber(testIMSI))
	mme := c.mme(t, mme1)
	ctx := context.Background()
	purge := func() {
		wantResult(t, c.do(t, ulrRequest(testIMSI, mme1, hss.ULRS6aS6dIndicator)), diameter.Success)
		wantResult(t, c.do(t, request(cmdPurgeUE, mme1, userName(testIMSI))), diameter.Success)
	}
	purge()
	if _, err := c.hss.UpdateSubscriber(ctx, testIMSI, func(s *hss.Subscriber) error {
		s.Status = hss.OperatorDeterminedBarring
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Barrier: registered again, the MME gets the next change, and it must
	// be the first IDR it sees.
	wantResult(t, c.do(t, ulrRequest(testIMSI, mme1, hss.ULRS6aS6dIndicator)), diameter.Success)
	if _, err := c.hss.UpdateSubscriber(ctx, testIMSI, func(s *hss.Subscriber) error {
		s.AMBR.UL++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sd := members(t, find(nextRequest(t, mme, cmdInsertSubscriberData).AVP, codeSubscriptionData, VendorID))
	if find(sd, codeSubscriberStatus, VendorID) != nil || find(sd, codeAMBR, VendorID) == nil {
		t.Fatalf("first IDR %v: the purged MME was sent the status change", sd)
	}

	purge()
	if err := c.hss.DeleteSubscriber(ctx, testIMSI); err != nil {
		t.Fatal(err)
	}
	// Barrier: deleting a second, registered subscriber cancels it; that CLR
	// must be the next request.
	provision(t, c.hss, testSubscriber(testIMSI2))
	wantResult(t, c.do(t, ulrRequest(testIMSI2, mme1, hss.ULRS6aS6dIndicator)), diameter.Success)
	if err := c.hss.DeleteSubscriber(ctx, testIMSI2); err != nil {
		t.Fatal(err)
	}
	clr := nextRequest(t, mme, cmdCancelLocation)
	if u := string(mustOctets(t, find(clr.AVP, avp.UserName, 0))); u != testIMSI2 {
		t.Errorf("CLR for %s: the purged registration was cancelled", u)
	}
}
