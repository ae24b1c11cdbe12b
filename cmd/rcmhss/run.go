package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/diameter/s13"
	"github.com/rcmhss/rcmhss/diameter/s6a"
	"github.com/rcmhss/rcmhss/diameter/swx"
	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/hss/admin"
	"github.com/rcmhss/rcmhss/hss/redisstore"
	"github.com/rcmhss/rcmhss/rcm"
)

// devToken is the admin token of configs/rcmhss.yaml. It is published in the
// README, so running with it is only ever acceptable in a lab.
const devToken = "rcmhss-dev-token-change-me"

// shutdownTimeout bounds the whole graceful shutdown (DPR/DPA exchanges,
// in-flight requests, HTTP drain).
const shutdownTimeout = 15 * time.Second

// server is the process: the store, the HSS service, the Diameter server with
// its applications and the admin HTTP listener.
type server struct {
	log   *slog.Logger
	cfg   Config
	tel   *telemetry
	store hss.Store
	eir   hss.EIRStore
	svc   *hss.HSS
	diam  *diameter.Server
	// dup is the Redis duplicate cache given to diam, nil on the embedded store.
	dup     diameter.DuplicateCache
	s6a     *s6a.Plugin
	rcm     *rcmPart
	http    *http.Server
	adminLn net.Listener
	// ready is false until everything listens and again from the start of
	// shutdown, so that a load balancer stops sending before we stop serving.
	ready atomic.Bool
	// peerDir is the Redis peer directory through which diam reaches peers
	// of other nodes, nil on the embedded store or with
	// diameter.forward_requests off.
	peerDir *redisstore.PeerDirectory
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "devel"
}

// newLogger returns the process logger: JSON lines on w.
func newLogger(c Config, w interface{ Write([]byte) (int, error) }) (*slog.Logger, error) {
	level, err := c.LogLevel()
	if err != nil {
		return nil, fmt.Errorf("config: log.level: %w", ErrConfig)
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})), nil
}

// diameterConfig builds the Diameter server's Config. SCTP listeners are kept
// only when the kernel supports SCTP, so that the lab default works on
// machines without the sctp module.
func (c Config) diameterConfig(log *slog.Logger) diameter.Config {
	d := c.Diameter
	sctp := sctpSupported()
	var listen []string
	for _, l := range d.Listen {
		if strings.HasPrefix(l, "sctp") && !sctp {
			log.Warn("diameter: kernel has no SCTP support, skipping listener", "listen", l)
			continue
		}
		listen = append(listen, l)
	}
	peers := make([]diameter.PeerRule, 0, len(d.AllowedPeers))
	for _, p := range d.AllowedPeers {
		peers = append(peers, diameter.PeerRule{OriginHost: p.Host, OriginRealm: p.Realm})
	}
	return diameter.Config{
		Listen: listen, OriginHost: d.OriginHost, OriginRealm: d.OriginRealm, ProductName: d.ProductName,
		AllowedPeers: peers, AllowLoopback: d.AllowLoopback, WatchdogInterval: d.WatchdogInterval,
		RequestTimeout: d.RequestTimeout, DuplicateTTL: d.DuplicateTTL,
		ForwardAttemptTimeout: d.ForwardAttemptTimeout,
	}
}

func (c Config) hssConfig() hss.Config {
	return hss.Config{
		MaxVectors: c.HSS.MaxVectors,
		SQN:        hss.SQNConfig{INDBits: c.HSS.SQN.INDBits, Delta: c.HSS.SQN.Delta},
		HomePLMNs:  c.HSS.HomePLMNs,
	}
}

func (c Config) swxConfig() swx.Config {
	return swx.Config{OriginHost: c.Diameter.OriginHost, OriginRealm: c.Diameter.OriginRealm, RequestTimeout: c.SWx.RequestTimeout}
}

func (c Config) eirConfig() hss.EIRConfig {
	return hss.EIRConfig{UnknownEquipment: hss.UnknownEquipmentPolicy(c.S13.UnknownEquipment)}
}

func (c Config) s6aConfig() s6a.Config {
	return s6a.Config{
		OriginHost: c.Diameter.OriginHost, OriginRealm: c.Diameter.OriginRealm,
		SupportedFeatures: c.S6a.SupportedFeatures, RequestTimeout: c.S6a.RequestTimeout,
	}
}

// keySealer returns the sealer for K, OP and OPc at rest.
func (c Config) keySealer(log *slog.Logger) (*hss.KeySealer, error) {
	text, err := c.KEK()
	if err != nil {
		return nil, err
	}
	if text == "" {
		// Validate refused this unless allow_plaintext_keys is set.
		log.Warn("security: NO KEY-ENCRYPTION KEY: subscriber keys are stored in plaintext (allow_plaintext_keys); lab use only")
		return hss.NewPlaintextSealer(), nil
	}
	kek, err := hss.ParseKEK(text)
	if err != nil {
		return nil, fmt.Errorf("config: security kek: %w", err)
	}
	return hss.NewKeySealer(kek)
}

// newServer validates every package's configuration, reporting all problems
// at once, then builds the graph. Nothing listens until run.
func newServer(ctx context.Context, cfg Config, log *slog.Logger) (_ *server, err error) {
	dcfg, hcfg, s6cfg := cfg.diameterConfig(log), cfg.hssConfig(), cfg.s6aConfig()
	errs := []error{cfg.Validate(), dcfg.Validate(), hcfg.Validate()}
	if len(cfg.Redis.Addrs()) > 0 {
		errs = append(errs, cfg.redisConfig().Validate())
	}
	if cfg.S6a.Enabled {
		errs = append(errs, s6cfg.Validate())
	}
	if cfg.SWx.Enabled {
		errs = append(errs, cfg.swxConfig().Validate())
	}
	if cfg.S13.Enabled {
		errs = append(errs, cfg.eirConfig().Validate())
	}
	var rcmCfg rcm.Config
	if cfg.RCM.Enabled {
		var err error
		rcmCfg, err = cfg.rcmConfig()
		errs = append(errs, err)
		if !cfg.S6a.Enabled {
			errs = append(errs, fmt.Errorf("config: rcm.enabled: needs s6a.enabled (RCM extends S6a): %w", ErrConfig))
		}
	}
	errs = append(errs, cfg.validateProvisioning())
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Admin.Token == devToken {
		log.Warn("admin: the published development token is in use; set RCMHSS_ADMIN_TOKEN outside a lab")
	}
	s := &server{log: log, cfg: cfg}
	var cleanup []func() error
	defer func() {
		if err != nil {
			for i := len(cleanup) - 1; i >= 0; i-- {
				_ = cleanup[i]()
			}
		}
	}()

	sealer, err := cfg.keySealer(log)
	if err != nil {
		return nil, err
	}
	if s.tel, err = newTelemetry(ctx, cfg.Telemetry, version(), log); err != nil {
		return nil, err
	}
	cleanup = append(cleanup, func() error { return s.tel.Shutdown(context.Background()) })
	store, eirStore, err := openStore(ctx, cfg, sealer, log)
	if err != nil {
		return nil, err
	}
	cleanup = append(cleanup, store.Close)
	s.eir = eirStore
	if s.store, err = newStoreMetrics(s.tel.mp, store); err != nil {
		return nil, err
	}
	if s.svc, err = hss.New(hcfg, s.store, hss.WithLogger(log)); err != nil {
		return nil, err
	}
	dopts := []diameter.Option{diameter.WithLogger(log),
		diameter.WithMeterProvider(s.tel.mp), diameter.WithTracerProvider(s.tel.tp)}
	if _, ok := store.(*redisstore.Store); ok {
		// Request claims (hss/redisstore/request_claim.go) need each
		// request's key in its context.
		dopts = append(dopts, diameter.WithRequestKeys())
	}
	if rs, ok := store.(*redisstore.Store); ok && cfg.Redis.SharedAnswers {
		// Answers shared through Redis: a retransmission (T flag, RFC 6733
		// 5.5.4) that a relay sends to another node is answered with the
		// first node's answer, byte for byte. Without it the request claims
		// (hss/redisstore/request_claim.go) keep the retransmission from
		// changing state a second time.
		dc, err := rs.NewDuplicateCache(dcfg.DuplicateTTL)
		if err != nil {
			return nil, err
		}
		s.dup = dc
		dopts = append(dopts, diameter.WithDuplicateCache(dc))
	}
	if rs, ok := store.(*redisstore.Store); ok && cfg.Diameter.ForwardRequests {
		// CLR, IDR, DSR, PPR and RTR reach a peer connected to another node
		// through that node (docs/FAILOVER.md).
		if s.peerDir, err = newPeerDirectory(cfg, rs, log); err != nil {
			return nil, err
		}
		dopts = append(dopts, diameter.WithForwarder(s.peerDir), diameter.WithPeerDirectory(s.peerDir))
	}
	s.diam, err = diameter.NewServer(dcfg, dopts...)
	if err != nil {
		return nil, err
	}
	if s.peerDir != nil {
		if err := s.peerDir.Start(ctx, s.diam.ServeForwarded); err != nil {
			return nil, err
		}
		cleanup = append(cleanup, s.peerDir.Close)
	}
	backend, err := newVectorMetrics(s.tel.mp, s.svc)
	if err != nil {
		return nil, err
	}
	if cfg.RCM.Enabled {
		if s.rcm, err = newRCMPart(ctx, cfg, rcmCfg, backend, s, s.svc, sealer, log); err != nil {
			return nil, err
		}
		cleanup = append(cleanup, s.rcm.close)
		s6cfg.Extension = s.rcm.ext
	}
	if cfg.S6a.Enabled {
		// TS 29.272 5.2.1.3: the embedded store lost every registration with
		// the previous process, so each MME gets an RSR when it first
		// connects; Redis kept them (diameter/s6a/reset.go).
		_, persistent := store.(*redisstore.Store)
		s6cfg.ResetAfterRestart = !persistent
		s.s6a = s6a.New(s6cfg, backend, s.diam, log)
		if err := s.diam.Register(s.s6a); err != nil {
			return nil, err
		}
		// The plugin turns operator changes into IDR / DSR / CLR, and a
		// Reset (POST /v1/reset) into RSR.
		s.svc.AddObserver(s.s6a)
	}
	if cfg.SWx.Enabled {
		p := swx.New(cfg.swxConfig(), backend, s.diam, log)
		if err := s.diam.Register(p); err != nil {
			return nil, err
		}
		// PPR / RTR towards the registered 3GPP AAA server.
		s.svc.AddObserver(p)
	}
	if cfg.S13.Enabled {
		eir, err := hss.NewEIR(cfg.eirConfig(), s.eir, log)
		if err != nil {
			return nil, err
		}
		if err := s.diam.Register(s13.New(eir, log)); err != nil {
			return nil, err
		}
	}
	handler, err := s.routes()
	if err != nil {
		return nil, err
	}
	s.http = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// routes is the admin listener: the subscriber API under /v1/, metrics and
// health, all counted by route and status.
func (s *server) routes() (http.Handler, error) {
	mux := http.NewServeMux()
	var subscribers admin.Service = s.svc
	if s.rcm != nil {
		// Guest IMSIs are never subscribers (docs/rcm.md).
		subscribers = admin.GuestGuard(s.svc, s.rcm.svc.IsGuest)
		mux.Handle("/v1/rcm/", rcm.NewAdminHandler(s.rcm.svc, s.cfg.Admin.Token,
			rcm.WithCanceller(s.rcm.ext), rcm.WithAdminLogger(s.log)))
		if s.rcm.prov != nil {
			// Credential providers: the operator token (the admin token)
			// creates them; each then manages its own records with its own
			// token (docs/rcm-provisioning.md).
			providers := rcm.NewProviderAdminHandler(s.rcm.stores.prov, s.rcm.stores.rcm, s.cfg.Admin.Token, s.log)
			mux.Handle("/v1/providers", providers)
			mux.Handle("/v1/providers/", providers)
		}
	}
	mux.Handle("/v1/", admin.NewHandler(subscribers, admin.Options{Token: s.cfg.Admin.Token, Logger: s.log}))
	// The EIR lists are served whether or not S13 is on, so that they can be
	// filled before the application is switched on.
	mux.Handle("/v1/eir/", admin.NewEIRHandler(s.eir, s.cfg.Admin.Token))
	mux.Handle("GET /metrics", s.tel.metricsHandler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeStatus(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	return httpMetrics(s.tel.mp, mux)
}

// readyz answers 200 only when this node can serve: the store answers and the
// Diameter server listens. Failures are logged here, not exposed: the endpoint
// is unauthenticated.
func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	body := map[string]string{"status": "ready", "store": "ok", "diameter": "ok"}
	status := http.StatusOK
	if err := s.store.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "readyz: store ping failed", "err", err)
		body["store"], status = "unavailable", http.StatusServiceUnavailable
	}
	if !s.diam.Ready() {
		body["diameter"], status = "not listening", http.StatusServiceUnavailable
	}
	if s.rcm != nil && s.rcm.provSrv != nil {
		body["rcm_provisioning"] = "ok"
		if !s.rcm.provSrv.serving.Load() {
			body["rcm_provisioning"], status = "not listening", http.StatusServiceUnavailable
		}
	}
	if !s.ready.Load() {
		status = http.StatusServiceUnavailable
	}
	if status != http.StatusOK {
		body["status"] = "not ready"
	}
	writeStatus(w, status, body)
}

func writeStatus(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// run listens, serves until ctx ends (SIGTERM / SIGINT) or a listener fails,
// then shuts down gracefully.
func (s *server) run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Admin.Listen)
	if err != nil {
		return errors.Join(fmt.Errorf("admin: listen %s: %w", s.cfg.Admin.Listen, err), s.closeStore())
	}
	var provLn net.Listener
	if s.rcm != nil && s.rcm.provSrv != nil {
		if provLn, err = s.rcm.provSrv.listen(); err != nil {
			return errors.Join(err, ln.Close(), s.closeStore())
		}
	}
	if err := s.diam.Start(); err != nil {
		errs := []error{err, ln.Close(), s.closeStore()}
		if provLn != nil {
			errs = append(errs, provLn.Close())
		}
		return errors.Join(errs...)
	}
	serveErr := make(chan error, 2)
	go func() { serveErr <- fmt.Errorf("admin: serve: %w", s.http.Serve(ln)) }()
	provAddr := ""
	if provLn != nil {
		provAddr = provLn.Addr().String()
		go func() {
			if err := s.rcm.provSrv.serve(provLn); err != nil {
				serveErr <- err
			}
		}()
	}
	if s.rcm != nil {
		s.rcm.start(s.log)
	}
	s.ready.Store(true)
	diamAddrs := make([]string, 0)
	for _, a := range s.diam.Addrs() {
		diamAddrs = append(diamAddrs, a.Network()+"://"+a.String())
	}
	s.log.Info("rcmhss: ready", "version", version(), "admin_addr", ln.Addr().String(),
		"diameter_addrs", diamAddrs, "store", storeKind(s.cfg.Redis), "s6a", s.cfg.S6a.Enabled, "rcm", s.cfg.RCM.Enabled, "rcm_provisioning_addr", provAddr, "swx", s.cfg.SWx.Enabled, "s13", s.cfg.S13.Enabled)

	var runErr error
	select {
	case <-ctx.Done():
		s.log.Info("rcmhss: shutting down", "cause", context.Cause(ctx).Error())
	case err := <-serveErr:
		runErr = err
		s.log.Error("rcmhss: a listener failed, shutting down", "err", err)
	}
	return errors.Join(runErr, s.shutdown())
}

// shutdown runs in dependency order: stop being ready; drain the admin API
// first, so that the IDR / CLR / PPR its last changes trigger still reach
// connected peers; let the CLRs that follow ULAs finish; then tell the
// Diameter peers (DPR, RFC 6733 5.4) and drain their requests; close the store
// and flush telemetry last.
func (s *server) shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	s.ready.Store(false)
	var errs []error
	if err := s.http.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("admin: shutdown: %w", err))
	}
	if s.rcm != nil && s.rcm.provSrv != nil {
		// Confirmations in flight finish (their swap and CLR included)
		// before the Diameter peers are told goodbye.
		if err := s.rcm.provSrv.shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if s.rcm != nil {
		// No more expiry CLRs once the peers are about to be told goodbye.
		if err := s.rcm.shutdown(); err != nil {
			errs = append(errs, fmt.Errorf("rcm: close: %w", err))
		}
	}
	if s.s6a != nil {
		if err := s.s6a.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("s6a: close: %w", err))
		}
	}
	if err := s.diam.Shutdown(ctx); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, s.closeStore())
	if err := s.tel.Shutdown(ctx); err != nil {
		errs = append(errs, err)
	}
	err := errors.Join(errs...)
	if err != nil {
		s.log.Error("rcmhss: unclean shutdown", "err", err)
	} else {
		s.log.Info("rcmhss: stopped")
	}
	return err
}

func (s *server) closeStore() error {
	if s.peerDir != nil {
		// Before the store's connections go: it releases this node's
		// entries so that other nodes need not wait for their TTL.
		if err := s.peerDir.Close(); err != nil {
			s.log.Warn("redisstore: peer directory: close", "err", err)
		}
	}
	if err := s.store.Close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

func storeKind(r RedisSection) string {
	if len(r.Addrs()) == 0 {
		return "embedded"
	}
	return "redis"
}
