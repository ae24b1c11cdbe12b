package diameter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	diamdict "github.com/fiorix/go-diameter/v4/diam/dict"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/rcmhss/rcmhss/dict"
)

// FirmwareRevision is advertised in the CEA (RFC 6733 5.3.4).
const FirmwareRevision = 1

// maxInFlightPerConn bounds the requests of one connection being handled at
// once; beyond it the server answers DIAMETER_TOO_BUSY (RFC 6733 7.1.3) so
// that the reader keeps going and DWR/DPR are never stuck behind requests.
const maxInFlightPerConn = 256

// cerTimeout is how long a new connection may stay silent before its CER.
const cerTimeout = 10 * time.Second

// writeTimeout bounds one write to a peer whose receive window stays closed.
const writeTimeout = 10 * time.Second

// Errors of Send and the server lifecycle.
var (
	ErrNoPeer         = errors.New("diameter: no open connection to peer")
	ErrPeerClosed     = errors.New("diameter: peer connection closed")
	ErrServerClosed   = errors.New("diameter: server closed")
	ErrAlreadyStarted = errors.New("diameter: server already started")
	ErrDuplicateApp   = errors.New("diameter: application already registered")
)

var _ Sender = (*Server)(nil)

// Option configures a Server beyond its Config.
type Option func(*options)

type options struct {
	logger *slog.Logger
	mp     metric.MeterProvider
	tp     trace.TracerProvider
	dup    DuplicateCache
	mws    []Middleware
	// requestKeys: see WithRequestKeys.
	requestKeys bool
	// forward holds the cross-node request options (forward.go).
	forward forwardOptions
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithMeterProvider sets the meter provider (default the otel global one).
func WithMeterProvider(mp metric.MeterProvider) Option { return func(o *options) { o.mp = mp } }

// WithTracerProvider sets the tracer provider (default the otel global one).
func WithTracerProvider(tp trace.TracerProvider) Option { return func(o *options) { o.tp = tp } }

// WithDuplicateCache replaces the in-memory duplicate cache (e.g. by one
// shared through Redis).
func WithDuplicateCache(c DuplicateCache) Option { return func(o *options) { o.dup = c } }

// WithRequestKeys puts each request's key (Origin-Host and End-to-End
// Identifier) in the context handed to its handler (hss.WithRequestKey), for
// stores shared by several nodes that record it with the state change the
// request makes. A server on a store of its own leaves it out: its
// duplicate cache covers retransmissions, and the context costs an
// allocation per request.
func WithRequestKeys() Option { return func(o *options) { o.requestKeys = true } }

// WithMiddleware adds middleware around every application handler, the first
// one outermost, inside the server's telemetry and outside its panic recovery.
func WithMiddleware(mw ...Middleware) Option {
	return func(o *options) { o.mws = append(o.mws, mw...) }
}

// Server is a Diameter server (RFC 6733) hosting Applications: it accepts
// peers over TCP and SCTP, runs the capabilities exchange, watchdog and
// disconnect procedures, routes requests to the registered applications and
// originates requests to connected peers.
type Server struct {
	cfg  Config
	log  *slog.Logger
	tel  *telemetry
	dup  DuplicateCache
	mws  []Middleware
	dict *diamdict.Parser
	// requestKeys: see WithRequestKeys.
	requestKeys bool

	originStateID uint32
	e2e           atomic.Uint32
	// originHost and originRealm are built once and shared by every
	// message the server completes (see conn.addOrigin).
	originHost, originRealm *diam.AVP

	apps map[uint32]*appEntry

	mu        sync.Mutex
	started   bool
	closing   bool
	listeners []net.Listener
	conns     map[*conn]struct{}
	peers     map[string]*conn // open connections by lower-case Origin-Host

	flightMu sync.Mutex
	flight   map[string]chan struct{} // requests being handled, by duplicate key

	ready   atomic.Bool
	wg      sync.WaitGroup
	workers *workers

	// fw forwards requests for peers held by other nodes (forward.go).
	fw forwarding
}

type appEntry struct {
	app      Application
	name     string
	handlers map[uint32]Handler
	rules    map[uint32][]avpRule // request command code -> top-level rules
}

// avpRule is a top-level AVP rule of a request from the dictionary
// (RFC 6733 3.2 CCF): required ones give 5005 when absent, max gives 5009.
type avpRule struct {
	code, vendor uint32
	required     bool
	max          int
}

// NewServer validates cfg and returns a server ready for Register and Start.
// It loads the project dictionaries (package dict) into go-diameter's
// default dictionary.
func NewServer(cfg Config, opts ...Option) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.Default()
	}
	if o.mp == nil {
		o.mp = otel.GetMeterProvider()
	}
	if o.tp == nil {
		o.tp = otel.GetTracerProvider()
	}
	if o.dup == nil {
		o.dup = NewMemoryDuplicateCache(cfg.DuplicateTTL, 0)
	}
	if err := dict.Default(); err != nil {
		return nil, fmt.Errorf("diameter: new server: %w", err)
	}
	tel, err := newTelemetry(o.tp, o.mp)
	if err != nil {
		return nil, fmt.Errorf("diameter: new server: telemetry: %w", err)
	}
	s := &Server{
		cfg: cfg, log: o.logger, tel: tel, dup: o.dup, mws: o.mws, dict: diamdict.Default, requestKeys: o.requestKeys,
		// RFC 6733 8.16: a value that changes at every restart; the start
		// time in seconds does.
		originStateID: uint32(time.Now().Unix()),
		originHost:    diam.NewAVP(avp.OriginHost, avp.Mbit, 0, datatype.DiameterIdentity(cfg.OriginHost)),
		originRealm:   diam.NewAVP(avp.OriginRealm, avp.Mbit, 0, datatype.DiameterIdentity(cfg.OriginRealm)),
		apps:          make(map[uint32]*appEntry),
		conns:         make(map[*conn]struct{}),
		peers:         make(map[string]*conn),
		flight:        make(map[string]chan struct{}),
		workers:       newWorkers(),
	}
	s.fw.init(o.forward, cfg)
	// RFC 6733 3: the high 12 bits of the End-to-End Identifier are the low
	// 12 bits of the current time, the rest starts random.
	s.e2e.Store(uint32(time.Now().Unix())<<20 | rand.Uint32N(1<<20))
	return s, nil
}

// Register adds an application before Start. Registering the same
// Application-Id twice is an error.
func (s *Server) Register(app Application) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return fmt.Errorf("diameter: register %s: %w", app.Name(), ErrAlreadyStarted)
	}
	if _, ok := s.apps[app.AppID()]; ok {
		return fmt.Errorf("diameter: register %s (%d): %w", app.Name(), app.AppID(), ErrDuplicateApp)
	}
	e := &appEntry{app: app, name: app.Name(), handlers: make(map[uint32]Handler), rules: make(map[uint32][]avpRule)}
	for code, h := range app.Commands() {
		if h == nil {
			return fmt.Errorf("diameter: register %s: command %d has no handler", app.Name(), code)
		}
		wrapped := recoverMiddleware(s.log, e.name)(h)
		for i := len(s.mws) - 1; i >= 0; i-- {
			wrapped = s.mws[i](wrapped)
		}
		e.handlers[code] = s.tel.middleware(e.name)(wrapped)
		e.rules[code] = s.requestRules(app.AppID(), code)
	}
	if o, ok := app.(OptionalAVPs); ok {
		for code, keys := range o.OptionalAVPs() {
			for i, r := range e.rules[code] {
				if slices.Contains(keys, AVPKey{Code: r.code, VendorID: r.vendor}) {
					e.rules[code][i].required = false
				}
			}
		}
	}
	s.apps[app.AppID()] = e
	return nil
}

func (s *Server) requestRules(appID, code uint32) []avpRule {
	cmd, err := s.dict.FindCommand(appID, code)
	if err != nil {
		return nil
	}
	var rules []avpRule
	for _, r := range cmd.Request.Rule {
		if r.AVP == "AVP" {
			continue
		}
		da, err := s.dict.FindAVP(appID, r.AVP)
		if err != nil {
			// go-diameter's S6a dictionary names a few optional AVPs it never
			// defines (PUR, NOR). An AVP the dictionary cannot name cannot be
			// counted either, so only a required one deserves a warning.
			level := slog.LevelDebug
			if r.Required {
				level = slog.LevelWarn
			}
			s.log.Log(context.Background(), level, "diameter: dictionary rule names an unknown avp", "app", appID, "command", code, "avp", r.AVP)
			continue
		}
		rules = append(rules, avpRule{code: da.Code, vendor: da.VendorID, required: r.Required, max: r.Max})
	}
	return rules
}

// Start binds every listener and serves in the background.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return ErrAlreadyStarted
	}
	if s.closing {
		return ErrServerClosed
	}
	var lns []net.Listener
	for _, l := range s.cfg.Listen {
		network, addr, err := parseListen(l)
		if err != nil {
			closeAll(lns)
			return fmt.Errorf("diameter: start: %w", err)
		}
		ln, err := listen(network, addr)
		if err != nil {
			closeAll(lns)
			return fmt.Errorf("diameter: start: listen %s: %w", l, err)
		}
		lns = append(lns, ln)
	}
	s.started = true
	s.listeners = lns
	apps := make([]string, 0, len(s.apps))
	for id, e := range s.apps {
		apps = append(apps, fmt.Sprintf("%s(%d)", e.name, id))
	}
	for _, ln := range lns {
		s.log.Info("diameter: listening", "network", ln.Addr().Network(), "addr", ln.Addr().String(),
			"origin_host", s.cfg.OriginHost, "origin_realm", s.cfg.OriginRealm, "apps", strings.Join(apps, ","))
		s.wg.Add(1)
		go s.accept(ln)
	}
	if s.cfg.AllowLoopback {
		s.log.Warn("diameter: peers connecting from loopback are accepted whatever their identity (allow_loopback)")
	}
	s.ready.Store(true)
	return nil
}

func listen(network, addr string) (net.Listener, error) {
	if strings.HasPrefix(network, "sctp") {
		return diam.Listen(network, addr)
	}
	return net.Listen(network, addr)
}

func closeAll(lns []net.Listener) {
	for _, ln := range lns {
		ln.Close()
	}
}

func (s *Server) accept(ln net.Listener) {
	defer s.wg.Done()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isClosing() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Error("diameter: accept", "addr", ln.Addr().String(), "err", err)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		c := newConn(s, nc)
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			nc.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			c.serve(context.Background())
		}()
	}
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// Addrs returns the bound listener addresses, in Config.Listen order.
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	addrs := make([]net.Addr, len(s.listeners))
	for i, ln := range s.listeners {
		addrs[i] = ln.Addr()
	}
	return addrs
}

// Ready reports whether the listeners are up and the server is not
// shutting down.
func (s *Server) Ready() bool { return s.ready.Load() }

// OriginStateID is the Origin-State-Id advertised by this server instance.
func (s *Server) OriginStateID() uint32 { return s.originStateID }

// Peers lists the connected peers in the open state.
func (s *Server) Peers() []PeerInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]PeerInfo, 0, len(s.peers))
	for _, c := range s.peers {
		out = append(out, c.info())
	}
	return out
}

// Shutdown stops accepting connections, makes Ready false, sends DPR with
// Disconnect-Cause REBOOTING to every open peer (RFC 6733 5.4), waits for
// its DPA and for in-flight requests, then closes every connection. When ctx
// ends first, the remaining connections are closed at once and ctx's error is
// returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.ready.Store(false)
	s.mu.Lock()
	s.closing = true
	lns := s.listeners
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	closeAll(lns)

	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.disconnect(ctx)
		}()
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		s.wg.Wait()
		close(done)
	}()
	defer s.workers.close()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.close("shutdown deadline")
		}
		s.mu.Unlock()
		<-done
		return fmt.Errorf("diameter: shutdown: %w", ctx.Err())
	}
}

// Send sends req to the open peer whose Origin-Host is host and returns its
// answer. The request gets fresh Hop-by-Hop and End-to-End identifiers and,
// when absent, this server's Origin-Host and Origin-Realm. Without an earlier
// ctx deadline it waits Config.RequestTimeout. With a Forwarder (WithForwarder)
// a peer connected to another node is reached through that node, with
// retries until the deadline (see sendAnywhere in forward.go); without one, a
// peer not connected here is ErrNoPeer.
func (s *Server) Send(ctx context.Context, host string, req *diam.Message) (*diam.Message, error) {
	app, cmd := s.appName(req.Header.ApplicationID), CommandName(req.Header.CommandCode)
	start := time.Now()
	ctx, span := s.tel.startClient(ctx, app, cmd, host)
	ans, err := s.send(ctx, host, req)
	s.tel.finishClient(ctx, span, app, cmd, ans, err, start)
	return ans, err
}

func (s *Server) send(ctx context.Context, host string, req *diam.Message) (*diam.Message, error) {
	s.mu.Lock()
	c := s.peers[strings.ToLower(host)]
	s.mu.Unlock()
	if c == nil && s.fw.fwd == nil {
		return nil, fmt.Errorf("diameter: send to %s: %w", host, ErrNoPeer)
	}
	req.Header.CommandFlags |= diam.RequestFlag
	req.Header.EndToEndID = s.e2e.Add(1)
	if findTop(req, avp.OriginHost, 0) == nil {
		req.AddAVP(diam.NewAVP(avp.OriginHost, avp.Mbit, 0, datatype.DiameterIdentity(s.cfg.OriginHost)))
	}
	if findTop(req, avp.OriginRealm, 0) == nil {
		req.AddAVP(diam.NewAVP(avp.OriginRealm, avp.Mbit, 0, datatype.DiameterIdentity(s.cfg.OriginRealm)))
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.RequestTimeout)
		defer cancel()
	}
	if s.fw.fwd != nil {
		return s.sendAnywhere(ctx, host, req)
	}
	ans, err := c.roundTrip(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("diameter: send %s to %s: %w", CommandName(req.Header.CommandCode), host, err)
	}
	return ans, nil
}

func (s *Server) appName(id uint32) string {
	if e, ok := s.apps[id]; ok {
		return e.name
	}
	if id == 0 {
		return "Base"
	}
	// Peers choose the id: a label per value would let them create
	// unbounded metric series.
	return "unknown"
}

// addPeer records c as the open connection of its Origin-Host. A peer that
// reconnects while its old connection lingers (no DPR, watchdog not yet
// expired) replaces it: we never initiate connections, so there is no
// election to run (RFC 6733 5.6.4) and the newest connection is the live one.
func (s *Server) addPeer(c *conn, host string) {
	key := strings.ToLower(host)
	s.mu.Lock()
	old := s.peers[key]
	s.peers[key] = c
	s.mu.Unlock()
	s.fw.peerUp(host)
	if old != nil && old != c {
		s.log.Warn("diameter: peer reconnected, closing its previous connection", "peer", host)
		old.close("replaced by a new connection of the same peer")
	}
}

func (s *Server) removeConn(c *conn, host string) {
	s.mu.Lock()
	delete(s.conns, c)
	held := host != "" && s.peers[strings.ToLower(host)] == c
	if held {
		delete(s.peers, strings.ToLower(host))
	}
	s.mu.Unlock()
	if held {
		s.fw.peerDown(host)
	}
}

// claim marks key as being handled; the returned wait channel is non-nil
// when another request with the same key is already in flight.
func (s *Server) claim(key string) (release func(), wait <-chan struct{}) {
	s.flightMu.Lock()
	defer s.flightMu.Unlock()
	if ch, ok := s.flight[key]; ok {
		return nil, ch
	}
	ch := make(chan struct{})
	s.flight[key] = ch
	return func() {
		s.flightMu.Lock()
		delete(s.flight, key)
		s.flightMu.Unlock()
		close(ch)
	}, nil
}

// watchdogInterval is Tw with jitter (RFC 3539 3.4.1: ±2s, scaled down for
// the short intervals of tests so that it never reaches zero).
func (s *Server) watchdogInterval() time.Duration {
	tw := s.cfg.WatchdogInterval
	j := min(2*time.Second, tw/4)
	return tw - j + time.Duration(rand.Int64N(int64(2*j)+1))
}

func recoverMiddleware(log *slog.Logger, app string) Middleware {
	return func(next Handler) Handler {
		return HandlerFunc(func(ctx context.Context, req *Request) (ans *diam.Message) {
			defer func() {
				if r := recover(); r != nil {
					log.Error("diameter: handler panic", "app", app,
						"command", CommandName(req.Msg.Header.CommandCode), "panic", panicSummary(r),
						"stack", string(debug.Stack()))
					ans = NewAnswer(req.Msg, Result{Code: CodeUnableToComply})
				}
			}()
			return next.ServeDiameter(ctx, req)
		})
	}
}

// panicSummary describes a recovered value for the log. Runtime errors
// (nil dereference, index out of range) carry no request data and are
// logged as they are; any other value may hold an IMSI or key material, so
// only its type is logged.
func panicSummary(r any) string {
	if re, ok := r.(runtime.Error); ok {
		return re.Error()
	}
	return fmt.Sprintf("value of type %T", r)
}
