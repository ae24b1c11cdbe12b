package loadgen

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/diameter/s6a"
	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/hss/admin"
	"github.com/rcmhss/rcmhss/hss/memstore"
)

const (
	hssHost, hssRealm = "hss.test.localdomain", "test.localdomain"
	adminToken        = "load-test-token"
	// TS 35.208 test set 1.
	testK   = "465b5ce8b199b49faa5f0a2ee238a6bc"
	testOPc = "cd63cb71954a9f4e48a5994e37a02baf"
)

// startRCMHSS runs the real HSS on the embedded store behind the real
// Diameter server with the S6a plugin, and its admin API over HTTP.
func startRCMHSS(t *testing.T) (h *hss.HSS, diamTarget, adminURL string) {
	t.Helper()
	store := memstore.New(hss.NewPlaintextSealer())
	t.Cleanup(func() { _ = store.Close() })
	h, err := hss.New(hss.DefaultConfig(), store)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := diameter.NewServer(diameter.Config{
		Listen: []string{"tcp://127.0.0.1:0"}, OriginHost: hssHost, OriginRealm: hssRealm, AllowLoopback: true,
	}, diameter.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	plugin := s6a.New(s6a.Config{OriginHost: hssHost, OriginRealm: hssRealm}, h, srv, testLogger(t))
	if err := srv.Register(plugin); err != nil {
		t.Fatal(err)
	}
	h.AddObserver(plugin)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	hs := httptest.NewServer(admin.NewHandler(h, admin.Options{Token: adminToken, Logger: testLogger(t)}))
	t.Cleanup(hs.Close)
	return h, "tcp://" + srv.Addrs()[0].String(), hs.URL
}

// mmeIdentity is the MME the tests against rcmhss speak as.
var mmeIdentity = Identity{OriginHost: "mme.test.localdomain", OriginRealm: hssRealm, DestinationRealm: hssRealm,
	VisitedPLMN: [3]byte{0x00, 0xf1, 0x10}}

// provisionRange provisions n IMSIs from start with the test keys through
// the admin API at adminURL.
func provisionRange(ctx context.Context, t *testing.T, adminURL, start string, n uint64) ProvisionResult {
	t.Helper()
	res, err := Provision(ctx, ProvisionConfig{AdminURL: adminURL, Token: adminToken,
		IMSIs: testRange(t, start, n), K: testK, OPc: testOPc}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestResultCodesAgainstRCMHSS provisions half of a range through the admin
// API, runs AIRs over the whole range and expects the provisioned half to be
// answered 2001 and the other half DIAMETER_ERROR_USER_UNKNOWN, an
// Experimental-Result 5001 (TS 29.272 7.4.3), counted apart.
func TestResultCodesAgainstRCMHSS(t *testing.T) {
	h, target, adminURL := startRCMHSS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	const start, known, all = "001010000000001", 300, 600
	if pres := provisionRange(ctx, t, adminURL, start, known); pres.Accepted != known {
		t.Fatalf("provision accepted %d, want %d", pres.Accepted, known)
	}
	s, err := h.GetSubscriber(ctx, hss.IMSI("001010000000300"))
	if err != nil {
		t.Fatalf("last provisioned subscriber: %v", err)
	}
	if len(s.APNs) != 1 || s.APNs[0].Name != "internet" || s.DefaultContextID != 1 {
		t.Fatalf("provisioned subscription %+v", s.APNs)
	}
	if _, err := h.GetSubscriber(ctx, hss.IMSI("001010000000301")); err == nil {
		t.Fatal("subscriber past the provisioned range exists")
	}

	rep, err := Run(ctx, Config{
		Targets: []string{target}, Conns: 2, Window: 8, Requests: all,
		IMSIs:    testRange(t, start, all),
		Identity: mmeIdentity,
	}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	air, _ := rep.Kind("AIR")
	ok, unknown := air.Count(Result{Code: 2001}), air.Count(Result{Code: 5001, Experimental: true})
	if ok != known || unknown != all-known || air.Answered != all || rep.Timeouts != 0 {
		t.Fatalf("2001: %d, 5001(exp): %d, answered %d, timeouts %d; want %d, %d, %d, 0 (results %+v)",
			ok, unknown, air.Answered, rep.Timeouts, known, all-known, all, air.Results)
	}
	if rep.Stale != 0 {
		t.Fatalf("%d stale answers", rep.Stale)
	}
	if rep.Errors != all-known {
		t.Fatalf("errors %d, want %d", rep.Errors, all-known)
	}
}

// TestAttachAgainstRCMHSS runs full attaches: every ULR follows a successful
// AIA for the same IMSI, and the HSS then knows the MME.
func TestAttachAgainstRCMHSS(t *testing.T) {
	h, target, adminURL := startRCMHSS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const start, n = "001010000000001", 200
	provisionRange(ctx, t, adminURL, start, n)
	rep, err := Run(ctx, Config{
		Targets: []string{target}, Conns: 1, Window: 4, Requests: n,
		Mix:      Mix{{Scenario: ScenarioAttach, Weight: 1}},
		IMSIs:    testRange(t, start, n),
		Identity: mmeIdentity,
	}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"AIR", "ULR", "attach"} {
		k, _ := rep.Kind(name)
		if k.Sent != n || k.Answered != n || k.Count(Result{Code: 2001}) != n {
			t.Fatalf("%s: answered %d, results %+v; want %d x 2001", name, k.Answered, k.Results, n)
		}
	}
	reg, err := h.Registrations(ctx, hss.IMSI("001010000000200"))
	if err != nil {
		t.Fatal(err)
	}
	if reg.MME == nil || reg.MME.Host != mmeIdentity.OriginHost {
		t.Fatalf("registration after attach: %+v", reg.MME)
	}
}

func TestProvisionRefused(t *testing.T) {
	_, _, adminURL := startRCMHSS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := ProvisionConfig{AdminURL: adminURL, Token: "wrong", IMSIs: testRange(t, "001010000000001", 10),
		K: testK, OPc: testOPc}
	_, err := Provision(ctx, cfg, testLogger(t))
	if !errors.Is(err, ErrImport) || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong token: %v, want ErrImport with 401", err)
	}
	cfg.Token, cfg.K = adminToken, "00"
	_, err = Provision(ctx, cfg, testLogger(t))
	if err == nil || strings.Contains(err.Error(), testOPc) {
		t.Fatalf("short K: %v (must fail without echoing key material)", err)
	}
}

// TestAnswersServerRequests: an HSS sends its own requests to the MME
// connections diamload holds (here an operator Reset, RSR, TS 29.272
// 5.2.1.3); diamload answers them 2001 as an MME would, instead of leaving
// the HSS to wait for its request timeout.
func TestAnswersServerRequests(t *testing.T) {
	h, target, adminURL := startRCMHSS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const start, n = "001010000000001", 50
	provisionRange(ctx, t, adminURL, start, n)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := Run(runCtx, Config{
			Targets: []string{target}, Conns: 2, Window: 1, Duration: 50 * time.Second,
			IMSIs:    testRange(t, start, n),
			Identity: mmeIdentity,
		}, testLogger(t))
		done <- err
	}()
	defer func() {
		stop()
		<-done
	}()
	for {
		out, err := h.Reset(ctx, []string{"00101"})
		if err != nil {
			t.Fatal(err)
		}
		if len(out) > 0 {
			for _, o := range out {
				if o.Err != nil {
					t.Errorf("RSR to %s: %v", o.Node, o.Err)
				}
			}
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal("diamload's connection never showed up as an S6a peer")
		case <-time.After(20 * time.Millisecond):
		}
	}
}
