package loadgen

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/redis/go-redis/v9"
)

// BaselineConfig configures the baseline responder.
type BaselineConfig struct {
	// Listen holds "tcp://host:port" or "sctp://host:port" URLs; port 0
	// picks a free port (see Addrs).
	Listen                  []string
	OriginHost, OriginRealm string
	// Result is the result of every application answer (default 2001). An
	// experimental one is sent as Experimental-Result with Vendor-Id 10415.
	Result Result
	// Redis, when set, gets one INCR per application request on a key per
	// User-Name, so that the baseline costs one Redis round trip like an AIR
	// that reserves an SQN.
	Redis redis.UniversalClient
}

func (c BaselineConfig) withDefaults() BaselineConfig {
	if c.OriginHost == "" {
		c.OriginHost = "baseline.localdomain"
	}
	if c.OriginRealm == "" {
		c.OriginRealm = "localdomain"
	}
	if c.Result.Code == 0 {
		c.Result = Result{Code: 2001}
	}
	return c
}

// Validate reports every problem of c at once.
func (c BaselineConfig) Validate() error {
	var errs []error
	if len(c.Listen) == 0 {
		errs = append(errs, errors.New("loadgen: baseline: at least one listen address is required"))
	}
	for _, l := range c.Listen {
		if _, _, err := parseTarget(l); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Result.Code != 0 && (c.Result.Code < 1000 || c.Result.Code > 5999) {
		errs = append(errs, fmt.Errorf("loadgen: baseline: result code %d is not in 1000..5999", c.Result.Code))
	}
	return errors.Join(errs...)
}

// The fixed E-UTRAN vector of every AIA: the TS 35.208 test set 1 RAND and
// RES with an AUTN and KASME of the right sizes (TS 29.272 7.3.18).
var (
	baselineRAND  = mustHex("23553cbe9637a89d218ae64dae47bf35")
	baselineXRES  = mustHex("a54211d5e3ba50bf")
	baselineAUTN  = mustHex("55f328b43577b9b94a9ffac354dfafb3")
	baselineKASME = mustHex("238e457e0f758badbca8d34bb2612c10428d426757cb5553b2b184fa64bfc549")
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// Baseline is a minimal stateless Diameter responder on the same framing as
// the load generator: CER/CEA, DWR/DWA, DPR/DPA (RFC 6733 5.3-5.5), and every
// application request answered with a fixed result; an AIR gets one fixed
// E-UTRAN vector. It measures what the machine and the stack can do with no
// HSS logic at all.
type Baseline struct {
	cfg BaselineConfig
	log *slog.Logger

	cea      []byte // without identifiers
	tailAIR  []byte // the AVPs after Session-Id of an AIA
	tailRest []byte // ... of any other answer

	mu    sync.Mutex
	lns   []net.Listener
	conns map[net.Conn]struct{}
	done  bool
	wg    sync.WaitGroup

	answered atomic.Uint64
}

// NewBaseline validates cfg and prepares the answers.
func NewBaseline(cfg BaselineConfig, log *slog.Logger) (*Baseline, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &Baseline{cfg: cfg, log: log, conns: map[net.Conn]struct{}{}}

	var e encoder
	e.u32(avpResultCode, 0, 2001)
	e.str(avpOriginHost, 0, cfg.OriginHost)
	e.str(avpOriginRealm, 0, cfg.OriginRealm)
	e.address(avpHostIPAddress, netip.MustParseAddr("127.0.0.1"))
	e.u32(avpVendorID, 0, 0)
	e.avp(avpProductName, 0, 0, []byte("diamload-baseline"))
	e.u32(avpSupportedVendorID, 0, vendor3GPP)
	for _, app := range []uint32{appS6a, appS13, appSWx} {
		var g encoder
		g.u32(avpVendorID, 0, vendor3GPP)
		g.u32(avpAuthApplicationID, 0, app)
		e.group(avpVendorSpecificAppID, 0, &g)
	}
	b.cea = message(0, cmdCER, appBase, e.b)

	tail := func(air bool) []byte {
		var e encoder
		if cfg.Result.Experimental {
			var g encoder
			g.u32(avpVendorID, 0, vendor3GPP)
			g.u32(avpExperimentalResultCode, 0, cfg.Result.Code)
			e.group(avpExperimentalResult, 0, &g)
		} else {
			e.u32(avpResultCode, 0, cfg.Result.Code)
		}
		e.u32(avpAuthSessionState, 0, authSessionNoState)
		e.str(avpOriginHost, 0, cfg.OriginHost)
		e.str(avpOriginRealm, 0, cfg.OriginRealm)
		if air && cfg.Result.Success() {
			var v encoder
			v.u32(avpItemNumber, vendor3GPP, 1)
			v.avp(avpRAND, avpFlagMandatory, vendor3GPP, baselineRAND)
			v.avp(avpXRES, avpFlagMandatory, vendor3GPP, baselineXRES)
			v.avp(avpAUTN, avpFlagMandatory, vendor3GPP, baselineAUTN)
			v.avp(avpKASME, avpFlagMandatory, vendor3GPP, baselineKASME)
			var ai encoder
			ai.group(avpEUTRANVector, vendor3GPP, &v)
			e.group(avpAuthenticationInfo, vendor3GPP, &ai)
		}
		return e.b
	}
	b.tailAIR, b.tailRest = tail(true), tail(false)
	return b, nil
}

// Start listens on every address and serves in the background.
func (b *Baseline) Start() error {
	for _, l := range b.cfg.Listen {
		network, addr, _ := parseTarget(l)
		var ln net.Listener
		var err error
		if strings.HasPrefix(network, "sctp") {
			ln, err = diam.Listen(network, addr)
		} else {
			ln, err = net.Listen(network, addr)
		}
		if err != nil {
			b.Close()
			return fmt.Errorf("loadgen: baseline: listen %s: %w", l, err)
		}
		b.mu.Lock()
		b.lns = append(b.lns, ln)
		b.mu.Unlock()
		b.wg.Go(func() { b.accept(ln) })
	}
	return nil
}

// Addrs returns the bound addresses, in the order of Listen.
func (b *Baseline) Addrs() []net.Addr {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]net.Addr, len(b.lns))
	for i, ln := range b.lns {
		out[i] = ln.Addr()
	}
	return out
}

// Answered is the number of application requests answered so far.
func (b *Baseline) Answered() uint64 { return b.answered.Load() }

// Close stops listening, closes every connection and waits for them.
func (b *Baseline) Close() error {
	b.mu.Lock()
	b.done = true
	for _, ln := range b.lns {
		ln.Close()
	}
	for c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
	return nil
}

func (b *Baseline) accept(ln net.Listener) {
	for {
		nc, err := ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				b.log.Error("loadgen: baseline: accept", "err", err)
			}
			return
		}
		b.mu.Lock()
		if b.done {
			b.mu.Unlock()
			nc.Close()
			return
		}
		b.conns[nc] = struct{}{}
		b.mu.Unlock()
		b.wg.Go(func() {
			defer func() {
				b.mu.Lock()
				delete(b.conns, nc)
				b.mu.Unlock()
				nc.Close()
			}()
			if err := b.serve(nc); err != nil {
				b.log.Warn("loadgen: baseline: connection", "remote", nc.RemoteAddr().String(), "err", err)
			}
		})
	}
}

// baselineConn serialises the answers of one connection.
type baselineConn struct {
	mu      sync.Mutex
	w       *bufio.Writer
	pending atomic.Int64 // requests being answered by a goroutine
}

func (b *Baseline) serve(nc net.Conn) error {
	fr := newFrameReader(nc, 64<<10)
	bc := &baselineConn{w: bufio.NewWriterSize(nc, 64<<10)}
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		f, err := fr.next()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		h, err := ParseAnswer(f)
		if err != nil {
			return err
		}
		if !h.IsRequest() {
			continue
		}
		switch h.Command {
		case cmdCER:
			if err := bc.write(withIDs(b.cea, f), true); err != nil {
				return err
			}
			continue
		case cmdDWR, cmdDPR:
			if err := bc.write(baseAnswer(f, b.cfg.OriginHost, b.cfg.OriginRealm), true); err != nil {
				return err
			}
			if h.Command == cmdDPR {
				return nil
			}
			continue
		}
		rf, err := scanRequest(f)
		if err != nil {
			return err
		}
		if b.cfg.Redis == nil {
			bc.mu.Lock()
			buf := b.answer(bc.w.AvailableBuffer(), f, rf.sessionID, b.cfg.Result)
			_, err := bc.w.Write(buf)
			// Flush once the requests already received are answered.
			if err == nil && fr.buffered() == 0 {
				err = bc.w.Flush()
			}
			bc.mu.Unlock()
			if err != nil {
				return err
			}
			b.answered.Add(1)
			continue
		}
		// One Redis round trip per request, concurrently, as a server would
		// do: copy what the answer needs out of the read buffer.
		req := append([]byte(nil), f[:headerLen]...)
		sid := append([]byte(nil), rf.sessionID...)
		key := "diamload:" + string(rf.userName)
		bc.pending.Add(1)
		wg.Go(func() {
			res := b.cfg.Result
			if err := b.cfg.Redis.Incr(context.Background(), key).Err(); err != nil {
				b.log.Error("loadgen: baseline: redis incr", "err", err)
				res = Result{Code: 5012} // RFC 6733 7.1.5 DIAMETER_UNABLE_TO_COMPLY
			}
			bc.mu.Lock()
			defer bc.mu.Unlock()
			_, err := bc.w.Write(b.answer(bc.w.AvailableBuffer(), req, sid, res))
			if err == nil && bc.pending.Add(-1) == 0 {
				err = bc.w.Flush()
			}
			if err != nil {
				nc.Close()
				return
			}
			b.answered.Add(1)
		})
	}
}

func (bc *baselineConn) write(m []byte, flush bool) error {
	bc.mu.Lock()
	defer bc.mu.Unlock()
	if _, err := bc.w.Write(m); err != nil {
		return err
	}
	if flush {
		return bc.w.Flush()
	}
	return nil
}

func withIDs(tmpl, req []byte) []byte {
	m := append([]byte(nil), tmpl...)
	copy(m[12:20], req[12:20])
	return m
}

// answer appends the answer to request header req: same command,
// application and identifiers, R cleared (RFC 6733 6.2), the request's
// Session-Id, then the prepared AVPs.
func (b *Baseline) answer(dst, req, sid []byte, res Result) []byte {
	start := len(dst)
	dst = append(dst, req[:headerLen]...)
	cmd := uint24(req[5:8])
	tail := b.tailRest
	if res != b.cfg.Result {
		var e encoder
		e.u32(avpResultCode, 0, res.Code)
		e.u32(avpAuthSessionState, 0, authSessionNoState)
		e.str(avpOriginHost, 0, b.cfg.OriginHost)
		e.str(avpOriginRealm, 0, b.cfg.OriginRealm)
		tail = e.b
	} else if cmd == cmdAIR {
		tail = b.tailAIR
	}
	e := encoder{b: dst}
	e.avp(avpSessionID, avpFlagMandatory, 0, sid)
	dst = append(e.b, tail...)
	m := dst[start:]
	l := len(m)
	m[1], m[2], m[3] = byte(l>>16), byte(l>>8), byte(l)
	m[4] &^= flagRequest
	if res.Code >= 3000 && res.Code < 4000 && !res.Experimental {
		m[4] |= flagError // RFC 6733 7.1.3: protocol errors set the E bit
	}
	return dst
}
