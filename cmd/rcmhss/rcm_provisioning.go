package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/rcm"
	rcmmem "github.com/rcmhss/rcmhss/rcm/memstore"
	rcmredis "github.com/rcmhss/rcmhss/rcm/redisstore"
)

// RCMProvisioningSection configures the RCM provisioning server (RCM.md steps
// 4 to 8, docs/rcm-provisioning.md): its own HTTPS listener with mutual TLS,
// the client certificate being the device's IMEI certificate.
type RCMProvisioningSection struct {
	Enabled bool   `mapstructure:"enabled"`
	Listen  string `mapstructure:"listen"`
	// CertFile (PEM chain, the server certificate first) and KeyFile (PEM)
	// are the server's TLS identity; devices pin its root.
	CertFile string `mapstructure:"cert_file"`
	KeyFile  string `mapstructure:"key_file"`
	// SessionLifetime bounds a session from start to confirmation: then it
	// expires and its IMSI returns to the pool.
	SessionLifetime time.Duration `mapstructure:"session_lifetime"`
	// ExpiryInterval is how often unconfirmed sessions are looked for, at
	// most ExpiryBatch per run.
	ExpiryInterval time.Duration `mapstructure:"expiry_interval"`
	ExpiryBatch    int           `mapstructure:"expiry_batch"`
}

// rcmProvisioningDefaults are merged into defaults (config.go). rcm.demo is
// off: it seeds a provider with published keys.
var rcmProvisioningDefaults = map[string]any{
	"rcm.provisioning.enabled":          false,
	"rcm.provisioning.listen":           "127.0.0.1:8443",
	"rcm.provisioning.cert_file":        "",
	"rcm.provisioning.key_file":         "",
	"rcm.provisioning.session_lifetime": "15m",
	"rcm.provisioning.expiry_interval":  "10s",
	"rcm.provisioning.expiry_batch":     100,
	"rcm.demo":                          false,
	"rcm.demo_dir":                      "rcm-demo-pki",
}

// The demo's fixed values. The guest credential is TS 35.208 test set 1 (K
// and its OPc), which is what `rcmdevice` is given in the README; the TAC is
// the default of `rcmdevice pki --tac`.
const (
	demoGuestRange = "00101999"
	demoGuestK     = "465b5ce8b199b49faa5f0a2ee238a6bc"
	demoGuestOPc   = "cd63cb71954a9f4e48a5994e37a02baf"
	demoTAC        = "49015420"
)

// withDemo applies rcm.demo: RCM and the provisioning server are switched on,
// and every file and guest setting left empty is taken from the demo
// (the PKI that `rcmdevice pki --dir <demo_dir>` writes, the public demo
// guest credential). Settings given explicitly are kept.
func (r RCMSection) withDemo() RCMSection {
	if !r.Demo {
		return r
	}
	r.Enabled, r.Provisioning.Enabled = true, true
	fill := func(v *string, file string) {
		if *v == "" {
			*v = filepath.Join(r.DemoDir, file)
		}
	}
	fill(&r.SigningKeyFile, rcm.DemoHSSKeyFile)
	fill(&r.SigningCertFile, rcm.DemoHSSCertFile)
	fill(&r.Provisioning.CertFile, rcm.DemoServerCertFile)
	fill(&r.Provisioning.KeyFile, rcm.DemoServerKeyFile)
	if len(r.GuestRanges) == 0 {
		r.GuestRanges = []string{demoGuestRange}
	}
	if r.GuestK == "" && r.GuestOPc == "" {
		r.GuestK, r.GuestOPc = demoGuestK, demoGuestOPc
	}
	return r
}

// validateProvisioning checks the provisioning and demo settings.
func (c Config) validateProvisioning() error {
	r := c.RCM
	var errs []error
	bad := func(key, msg string) {
		errs = append(errs, fmt.Errorf("config: %s: %s: %w", key, msg, ErrConfig))
	}
	if r.Demo && r.DemoDir == "" {
		bad("rcm.demo_dir", "is required with rcm.demo (a directory written by `rcmdevice pki --dir`)")
	}
	p := r.Provisioning
	if !p.Enabled {
		return errors.Join(errs...)
	}
	if !r.Enabled {
		bad("rcm.provisioning.enabled", "needs rcm.enabled")
	}
	if _, _, err := net.SplitHostPort(p.Listen); err != nil {
		bad("rcm.provisioning.listen", "must be host:port")
	}
	if p.CertFile == "" || p.KeyFile == "" {
		bad("rcm.provisioning.cert_file and key_file", "are required: the server speaks only TLS")
	}
	if p.SessionLifetime <= 0 {
		bad("rcm.provisioning.session_lifetime", "must be positive")
	}
	if p.ExpiryInterval <= 0 {
		bad("rcm.provisioning.expiry_interval", "must be positive")
	}
	if p.ExpiryBatch <= 0 {
		bad("rcm.provisioning.expiry_batch", "must be positive")
	}
	return errors.Join(errs...)
}

// rcmStores is the RCM state beside the hss store.
type rcmStores struct {
	rcm   rcm.Store
	prov  rcm.ProvisioningStore
	close func() error
}

// openRCMStores returns the RCM store and the provisioning store: on Redis
// when redis.addr is set (one client for both, the same key prefix as the
// hss store, pending keys sealed with the KEK), else embedded.
func openRCMStores(ctx context.Context, c Config, sealer *hss.KeySealer, log *slog.Logger) (rcmStores, error) {
	if len(c.Redis.Addrs()) == 0 {
		return rcmStores{rcm: rcmmem.New(), prov: rcmmem.NewProvisioning(), close: func() error { return nil }}, nil
	}
	cfg := c.redisConfig()
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs: cfg.Addrs, MasterName: cfg.MasterName, Username: cfg.Username, Password: cfg.Password,
		DB: cfg.DB, IsClusterMode: cfg.Cluster, DialTimeout: cfg.DialTimeout, ReadTimeout: cfg.ReadTimeout,
		WriteTimeout: cfg.ReadTimeout, PoolSize: cfg.PoolSize,
	})
	st, err := rcmredis.New(rdb, cfg.KeyPrefix)
	if err == nil {
		var ps *rcmredis.Provisioning
		if ps, err = rcmredis.NewProvisioning(rdb, cfg.KeyPrefix, sealer); err == nil {
			if err = rdb.Ping(ctx).Err(); err == nil {
				log.Info("rcm store: redis (profiles, bindings, providers, sessions)")
				return rcmStores{rcm: st, prov: ps, close: rdb.Close}, nil
			}
			err = fmt.Errorf("rcm store: ping: %w", err)
		}
	}
	return rcmStores{}, errors.Join(err, rdb.Close())
}

// seedDemo runs rcm.SeedDemo with the vendor CA of the demo directory.
func seedDemo(ctx context.Context, r RCMSection, st rcm.Store, ps rcm.ProvisioningStore, log *slog.Logger) error {
	file := filepath.Join(r.DemoDir, rcm.DemoVendorCAFile)
	ders, err := readPEMCerts(file)
	if err != nil {
		return fmt.Errorf("config: rcm.demo_dir: %s: %w", file, err)
	}
	ca, err := x509.ParseCertificate(ders[0])
	if err != nil {
		return fmt.Errorf("config: rcm.demo_dir: %s: %w: %w", file, err, ErrConfig)
	}
	if err := rcm.SeedDemo(ctx, st, ps, ca, []string{demoTAC}); err != nil {
		return err
	}
	log.Warn("rcm: DEMO provider and profile seeded (published operator OP, demo PKI); lab use only",
		"provider", rcm.DemoProviderID, "profile", rcm.DemoProfileID, "tac", demoTAC, "dir", r.DemoDir)
	return nil
}

// provisioningServer is the HTTPS listener of the RCM provisioning API.
type provisioningServer struct {
	prov    *rcm.Provisioner
	cfg     RCMProvisioningSection
	tls     *tls.Config
	http    *http.Server
	serving atomic.Bool
}

func newProvisioningServer(cfg RCMProvisioningSection, prov *rcm.Provisioner, log *slog.Logger) (*provisioningServer, error) {
	cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
	if err != nil {
		// tls errors name the files, never key bytes.
		return nil, fmt.Errorf("config: rcm.provisioning cert_file/key_file: %w", err)
	}
	return &provisioningServer{prov: prov, cfg: cfg, tls: rcm.ProvisioningTLSConfig(cert), http: &http.Server{
		Handler:           rcm.NewProvisioningHandler(prov, log),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}}, nil
}

// listen opens the TLS listener; serve runs on it until Shutdown.
func (p *provisioningServer) listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", p.cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("rcm provisioning: listen %s: %w", p.cfg.Listen, err)
	}
	return ln, nil
}

func (p *provisioningServer) serve(ln net.Listener) error {
	p.serving.Store(true)
	defer p.serving.Store(false)
	err := p.http.Serve(tls.NewListener(ln, p.tls))
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("rcm provisioning: serve: %w", err)
}

// shutdown stops accepting and drains the requests in flight.
func (p *provisioningServer) shutdown(ctx context.Context) error {
	if err := p.http.Shutdown(ctx); err != nil {
		return fmt.Errorf("rcm provisioning: shutdown: %w", err)
	}
	return nil
}
