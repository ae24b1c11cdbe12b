package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rcmhss/rcmhss/hss/redisstore/redistest"
	"github.com/rcmhss/rcmhss/rcm"
)

// The operators' scripts use these exact names.
func TestLoadConfigProvisioningAndDemoEnv(t *testing.T) {
	t.Setenv("RCMHSS_RCM_DEMO", "true")
	t.Setenv("RCMHSS_RCM_DEMO_DIR", "/srv/pki")
	t.Setenv("RCMHSS_RCM_PROVISIONING_LISTEN", "127.0.0.1:18443")
	t.Setenv("RCMHSS_RCM_PROVISIONING_SESSION_LIFETIME", "2m")
	t.Setenv("RCMHSS_RCM_SIGNING_KEY_FILE", "/etc/rcmhss/hss.key")
	c, err := LoadConfig(repoConfig, true)
	if err != nil {
		t.Fatal(err)
	}
	r := c.RCM
	if !r.Enabled || !r.Provisioning.Enabled {
		t.Errorf("rcm.demo must switch RCM and the provisioning server on: %+v", r)
	}
	if r.Provisioning.Listen != "127.0.0.1:18443" || r.Provisioning.SessionLifetime != 2*time.Minute {
		t.Errorf("provisioning = %+v", r.Provisioning)
	}
	for name, got := range map[string]string{
		// Explicit settings win over the demo.
		"/etc/rcmhss/hss.key":                             r.SigningKeyFile,
		filepath.Join("/srv/pki", rcm.DemoHSSCertFile):    r.SigningCertFile,
		filepath.Join("/srv/pki", rcm.DemoServerCertFile): r.Provisioning.CertFile,
		filepath.Join("/srv/pki", rcm.DemoServerKeyFile):  r.Provisioning.KeyFile,
	} {
		if got != name {
			t.Errorf("got %q, want %q", got, name)
		}
	}
	if len(r.GuestRanges) != 1 || r.GuestRanges[0] != demoGuestRange || r.GuestK != demoGuestK || r.GuestOPc != demoGuestOPc {
		t.Errorf("demo guest = %q %q %q", r.GuestRanges, r.GuestK, r.GuestOPc)
	}
	if err := c.validateProvisioning(); err != nil {
		t.Error(err)
	}
}

func TestLoadConfigDemoOffByDefault(t *testing.T) {
	for _, path := range []string{repoConfig, filepath.Join(t.TempDir(), "none.yaml")} {
		c, err := LoadConfig(path, false)
		if err != nil {
			t.Fatal(err)
		}
		if c.RCM.Demo || c.RCM.Enabled || c.RCM.Provisioning.Enabled || c.RCM.GuestK != "" {
			t.Errorf("%s: RCM, the provisioning server and the demo must be off: %+v", path, c.RCM)
		}
	}
}

func TestProvisioningConfigProblems(t *testing.T) {
	c, err := LoadConfig(repoConfig, true)
	if err != nil {
		t.Fatal(err)
	}
	c.RCM.Provisioning.Enabled = true
	c.RCM.Provisioning.Listen = "8443"
	c.RCM.Provisioning.ExpiryBatch = 0
	c.RCM.Demo, c.RCM.DemoDir = true, ""
	err = c.validateProvisioning()
	if err == nil {
		t.Fatal("accepted an invalid provisioning section")
	}
	for _, want := range []string{"rcm.demo_dir", "needs rcm.enabled", "rcm.provisioning.listen", "cert_file", "expiry_batch"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not report %q:\n%v", want, err)
		}
	}
	// newServer reports them too, with everything else.
	if _, err := newServer(context.Background(), c, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "rcm.provisioning.listen") {
		t.Errorf("newServer: %v", err)
	}
}

func TestFailoverSEQJumpConfig(t *testing.T) {
	c, err := LoadConfig(repoConfig, true)
	if err != nil {
		t.Fatal(err)
	}
	if c.Redis.FailoverSEQJump != 4096 || c.redisConfig().FailoverSEQJump != 4096 {
		t.Errorf("lab failover_seq_jump = %d / %d, want 4096", c.Redis.FailoverSEQJump, c.redisConfig().FailoverSEQJump)
	}
	if d := defaults["redis.failover_seq_jump"]; d != uint64(4096) {
		t.Errorf("built-in default = %v, want 4096 (the guard on)", d)
	}
	t.Setenv("RCMHSS_REDIS_FAILOVER_SEQ_JUMP", "0")
	if c, err = LoadConfig(repoConfig, true); err != nil {
		t.Fatal(err)
	}
	if c.redisConfig().FailoverSEQJump != 0 {
		t.Errorf("RCMHSS_REDIS_FAILOVER_SEQ_JUMP=0 gives %d", c.redisConfig().FailoverSEQJump)
	}
}

// TestProvisioningWiredOnRedis: with Redis configured, the store gets request
// claims (no shared answer cache by default), the provisioning server its listener,
// readiness covers it, and the provider API runs under the admin token.
func TestProvisioningWiredOnRedis(t *testing.T) {
	addr := redistest.Start(t)
	p := rcmPKI(t)
	c := rcmLabConfig(t, p)
	c.Redis.Addr, c.Redis.KeyPrefix = addr, "wired:"
	c.Admin.Listen = "127.0.0.1:0"
	c.RCM.Provisioning.Enabled = true
	c.RCM.Provisioning.Listen = "127.0.0.1:0"
	// Any certificate will do as the server's: the HSS RCM one.
	c.RCM.Provisioning.CertFile, c.RCM.Provisioning.KeyFile = p.hssCert, p.hssKey
	s, err := newServer(context.Background(), c, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if s.rcm.provSrv == nil || s.rcm.prov == nil {
		t.Fatal("provisioning server not built")
	}
	// Request claims (always on with Redis) keep retransmissions across
	// nodes from changing state; the shared answer cache is opt-in.
	if s.dup != nil {
		t.Error("the Diameter server has a shared answer cache although redis.shared_answers is off")
	}
	if got := c.redisConfig().RequestClaimTTL; got != c.Diameter.DuplicateTTL || got == 0 {
		t.Errorf("request claim TTL %v, want diameter.duplicate_ttl %v", got, c.Diameter.DuplicateTTL)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for !s.ready.Load() || !s.rcm.provSrv.serving.Load() {
		if time.Now().After(deadline) {
			t.Fatal("not ready")
		}
		time.Sleep(5 * time.Millisecond)
	}
	rec := httptest.NewRecorder()
	s.readyz(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"rcm_provisioning":"ok"`) {
		t.Errorf("readyz: %d %s", rec.Code, rec.Body)
	}
	call := func(token, body string) int {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/v1/providers", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		s.http.Handler.ServeHTTP(rec, req)
		return rec.Code
	}
	body := `{"id":"acme","name":"Acme","kind":"operator","imsi_pool":[{"first":"001010000000100","last":"001010000000199"}],"key_policy":"opc","op":"cdc202d5123e20f62b6d676ac72cb318","amf":"8000"}`
	if code := call("not-the-admin-token", body); code != http.StatusUnauthorized && code != http.StatusForbidden {
		t.Errorf("create provider with a wrong token: %d", code)
	}
	if code := call(c.Admin.Token, body); code != http.StatusCreated {
		t.Errorf("create provider with the admin token: %d", code)
	}
	if code := call(c.Admin.Token, body); code != http.StatusConflict {
		t.Errorf("the provider is not in the store: second create answered %d", code)
	}
}
