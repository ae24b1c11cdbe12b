package loadgen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/ishidawataru/sctp"
)

// ErrCapabilities is returned when the peer refuses the CER.
var ErrCapabilities = errors.New("loadgen: capabilities exchange refused")

// slot is one request in flight; its index is the low 16 bits of the
// Hop-by-Hop identifier and gen the high 16, so an answer arriving after its
// request timed out (and the slot was reused) is recognised as stale.
type slot struct {
	active bool
	attach bool
	// awaitingULR marks an attach whose AIA came back and whose ULR is
	// queued: it waits on diamload, not on the network, so it cannot time out.
	awaitingULR bool
	kind        kind
	gen         uint16
	hbh         uint32
	imsi        uint64
	intended    int64 // latency is measured from here (ns since run start)
	sentAt      int64 // the timeout runs from here
	txStart     int64 // intended time of the attach transaction
}

// client is one connection of a run. The sender goroutine writes requests,
// the reader goroutine matches answers; both touch slots and stats under mu.
type client struct {
	run  *runner
	id   int
	nc   net.Conn
	fr   *frameReader
	wmu  sync.Mutex
	w    *bufio.Writer
	tmpl [numKinds]*template
	// id is the run's identity with this connection's Origin-Host.
	ident Identity
	// flushEach writes every message on its own: over SCTP one Diameter
	// message per user message (RFC 6733 2.1.1).
	flushEach bool

	mu       sync.Mutex
	slots    []slot
	active   int
	stopping bool
	drained  chan struct{}
	dpa      chan struct{} // closed when the DPA to our DPR arrives
	stats    connStats

	free   chan uint32 // idle slots: acquiring one bounds the window
	follow chan uint32 // attach slots whose AIA came back: send the ULR

	sid, e2e uint32
	pick     *picker
}

func dial(ctx context.Context, target string, timeout time.Duration) (net.Conn, bool, error) {
	network, addr, err := parseTarget(target)
	if err != nil {
		return nil, false, err
	}
	if strings.HasPrefix(network, "sctp") {
		ra, err := sctp.ResolveSCTPAddr(network, addr)
		if err != nil {
			return nil, false, fmt.Errorf("loadgen: dial %s: %w", target, err)
		}
		c, err := sctp.DialSCTPExt(network, nil, ra, sctp.InitMsg{NumOstreams: 10, MaxInstreams: 10})
		if err != nil {
			return nil, false, fmt.Errorf("loadgen: dial %s: %w", target, err)
		}
		return c, true, nil
	}
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, false, fmt.Errorf("loadgen: dial %s: %w", target, err)
	}
	return c, false, nil
}

func newClient(ctx context.Context, r *runner, id int) (*client, error) {
	cfg := &r.cfg
	nc, isSCTP, err := dial(ctx, cfg.Targets[id%len(cfg.Targets)], cfg.Timeout)
	if err != nil {
		return nil, err
	}
	c := &client{
		run: r, id: id, nc: nc, flushEach: isSCTP,
		fr:      newFrameReader(nc, 64<<10),
		w:       bufio.NewWriterSize(nc, 64<<10),
		slots:   make([]slot, cfg.Window),
		drained: make(chan struct{}),
		dpa:     make(chan struct{}),
		free:    make(chan uint32, cfg.Window),
		follow:  make(chan uint32, cfg.Window),
		e2e:     uint32(r.boot)<<20 | uint32(id)<<8,
		pick:    newPicker(cfg.IMSIs, r.seed+uint64(id)),
	}
	for i := range cfg.Window {
		c.free <- uint32(i)
	}
	host := cfg.Identity.HostIP
	if !host.IsValid() {
		host = localAddr(nc)
	}
	c.ident = cfg.Identity
	if cfg.Conns > 1 {
		// RFC 6733 5.6.4: a peer keeps one connection per Origin-Host and
		// closes the older one when the same host connects again, so each
		// connection is a peer of its own.
		c.ident.OriginHost = fmt.Sprintf("c%d.%s", id, cfg.Identity.OriginHost)
	}
	sidPrefix := fmt.Sprintf("%s;%d;%d;", c.ident.OriginHost, r.boot, id)
	c.tmpl = buildTemplates(c.ident, sidPrefix, cfg.IMSIs.Digits, r.resync)
	if err := c.exchangeCapabilities(host); err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

func localAddr(nc net.Conn) netip.Addr {
	if ap, err := netip.ParseAddrPort(nc.LocalAddr().String()); err == nil {
		return ap.Addr().Unmap()
	}
	if a, err := netip.ParseAddr(strings.Split(nc.LocalAddr().String(), ":")[0]); err == nil {
		return a
	}
	return netip.IPv4Unspecified()
}

// exchangeCapabilities sends the CER and waits for a 2001 CEA (RFC 6733
// 5.3), within the request timeout.
func (c *client) exchangeCapabilities(host netip.Addr) error {
	cfg := &c.run.cfg
	_ = c.nc.SetDeadline(time.Now().Add(cfg.Timeout))
	defer c.nc.SetDeadline(time.Time{})
	m := cer(c.ident, host, cfg.Mix.apps(), uint32(c.run.boot))
	setIDs(m, 1, c.nextE2E())
	if _, err := c.nc.Write(m); err != nil {
		return fmt.Errorf("loadgen: cer: %w", err)
	}
	for {
		f, err := c.fr.next()
		if err != nil {
			return fmt.Errorf("loadgen: cea: %w", err)
		}
		a, err := ParseAnswer(f)
		if err != nil {
			return fmt.Errorf("loadgen: cea: %w", err)
		}
		if a.Command != cmdCER || a.IsRequest() {
			continue
		}
		if !a.HasResult || a.Result.Code != 2001 {
			return fmt.Errorf("%w: result %s", ErrCapabilities, a.Result)
		}
		return nil
	}
}

func (c *client) nextE2E() uint32 { c.e2e++; return c.e2e }

// write appends one request for slot idx. The caller holds wmu.
func (c *client) write(idx uint32, k kind, imsi uint64, intended, attachStart int64, attach bool) error {
	now := c.run.now()
	c.mu.Lock()
	s := &c.slots[idx]
	s.gen++
	*s = slot{active: true, attach: attach, kind: k, gen: s.gen, hbh: uint32(s.gen)<<16 | idx,
		imsi: imsi, intended: intended, sentAt: now, txStart: attachStart}
	c.active++
	c.stats.kinds[k].sent++
	if attach && k != kindULR {
		c.stats.kinds[kindAttach].sent++ // the transaction starts with its AIR
	}
	hbh := s.hbh
	c.mu.Unlock()
	c.run.addInFlight(1)
	c.sid++
	buf := c.w.AvailableBuffer()
	buf = c.tmpl[k].appendTo(buf, hbh, c.nextE2E(), c.sid, c.run.cfg.IMSIs.Start+imsi, c.run.cfg.IMSIs.Digits, imsi)
	if _, err := c.w.Write(buf); err != nil {
		return err
	}
	if c.flushEach {
		return c.w.Flush()
	}
	return nil
}

// issue starts scenario seq of the run on slot idx; seq picks its place in
// the mix and, in order, its IMSI.
func (c *client) issue(idx uint32, seq uint64, intended int64) error {
	pat := c.run.pattern
	sc := pat[seq%uint64(len(pat))]
	imsi := c.pick.next(seq)
	switch sc {
	case ScenarioAIR, ScenarioAttach:
		k := kindAIR
		// Counted over the run, so that the share is exact whatever the
		// connections' split.
		if sh := c.run.cfg.ResyncShare; sh > 0 {
			n := c.run.airs.Add(1)
			if uint64(float64(n)*sh) > uint64(float64(n-1)*sh) {
				k = kindAIRResync
			}
		}
		return c.write(idx, k, imsi, intended, intended, sc == ScenarioAttach)
	case ScenarioULR:
		return c.write(idx, kindULR, imsi, intended, 0, false)
	case ScenarioPUR:
		return c.write(idx, kindPUR, imsi, intended, 0, false)
	case ScenarioMAR:
		return c.write(idx, kindMAR, imsi, intended, 0, false)
	case ScenarioSAR:
		return c.write(idx, kindSAR, imsi, intended, 0, false)
	default:
		return c.write(idx, kindECR, imsi, intended, 0, false)
	}
}

// sendFollowUp sends the ULR of an attach whose AIA came back; its own
// latency runs from now, the transaction's from the AIR's intended time.
func (c *client) sendFollowUp(idx uint32) error {
	c.mu.Lock()
	s := c.slots[idx]
	c.active-- // write counts it again
	c.mu.Unlock()
	c.run.addInFlight(-1)
	return c.write(idx, kindULR, s.imsi, c.run.now(), s.txStart, true)
}

func (c *client) flush() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.w.Flush()
}

// acquire waits for an idle slot, sending the ULRs of attaches meanwhile.
// It flushes first when none is ready, so batches go out as the queue
// drains. ok is false when the run is cancelled.
func (c *client) acquire(ctx context.Context) (idx uint32, ok bool, err error) {
	for {
		select {
		case f := <-c.follow:
			if err := c.locked(func() error { return c.sendFollowUp(f) }); err != nil {
				return 0, false, err
			}
			continue
		case idx = <-c.free:
			return idx, true, nil
		default:
		}
		if err := c.flush(); err != nil {
			return 0, false, err
		}
		select {
		case f := <-c.follow:
			if err := c.locked(func() error { return c.sendFollowUp(f) }); err != nil {
				return 0, false, err
			}
		case idx = <-c.free:
			return idx, true, nil
		case <-ctx.Done():
			return 0, false, nil
		}
	}
}

func (c *client) locked(f func() error) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return f()
}

// drain stops issuing and waits until every request in flight is answered
// or timed out, still sending attach ULRs; after cancellation it waits at
// most grace.
func (c *client) drain(ctx context.Context, grace time.Duration) error {
	c.mu.Lock()
	c.stopping = true
	if c.active == 0 {
		c.closeDrained()
	}
	c.mu.Unlock()
	if err := c.flush(); err != nil {
		return err
	}
	var cancelled <-chan struct{} = ctx.Done()
	var graceC <-chan time.Time
	for {
		select {
		case f := <-c.follow:
			if err := c.locked(func() error {
				if err := c.sendFollowUp(f); err != nil {
					return err
				}
				return c.w.Flush()
			}); err != nil {
				return err
			}
		case <-c.drained:
			return nil
		case <-cancelled:
			cancelled = nil
			graceC = time.After(grace)
		case <-graceC:
			return nil
		}
	}
}

// closeDrained is called with mu held.
func (c *client) closeDrained() {
	select {
	case <-c.drained:
	default:
		close(c.drained)
	}
}

// release frees slot idx; mu is held.
func (c *client) release(idx uint32) {
	c.slots[idx].active = false
	c.active--
	c.run.addInFlight(-1)
	c.free <- idx
	if c.stopping && c.active == 0 {
		c.closeDrained()
	}
}

// readLoop matches answers to slots and answers the peer's watchdog and
// disconnect requests (RFC 6733 5.5, 5.4).
func (c *client) readLoop(log *slog.Logger) error {
	for {
		f, err := c.fr.next()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("loadgen: read: %w", err)
		}
		now := c.run.now()
		a, err := ParseAnswer(f)
		if err != nil {
			return fmt.Errorf("loadgen: read: %w", err)
		}
		if a.IsRequest() {
			var ans []byte
			switch a.Command {
			case cmdDWR, cmdDPR:
				ans = baseAnswer(f, c.ident.OriginHost, c.ident.OriginRealm)
			case cmdCER:
				// Never sent by a server on an open connection; no answer.
			default:
				// CLR, IDR, DSR, RSR, PPR, RTR: accepted, as an MME would.
				ans = appAnswer(f, c.ident.OriginHost, c.ident.OriginRealm)
			}
			if ans != nil {
				if err := c.locked(func() error {
					if _, err := c.w.Write(ans); err != nil {
						return err
					}
					return c.w.Flush()
				}); err != nil {
					return fmt.Errorf("loadgen: answer %d: %w", a.Command, err)
				}
				if a.Command == cmdDPR {
					log.Warn("loadgen: peer sent DPR", "conn", c.id)
				}
			}
			continue
		}
		if a.Command == cmdDPR {
			// RFC 6733 5.4: the DPA to our DPR; we close the connection.
			c.closeDPA()
			continue
		}
		c.complete(a, now)
	}
}

// disconnect sends a DPR (RFC 6733 5.4.1, Disconnect-Cause
// DO_NOT_WANT_TO_TALK_TO_YOU: the run is over) and waits up to wait for the
// DPA, so that the peer does not see the end of a run as a failure.
func (c *client) disconnect(wait time.Duration) {
	var e encoder
	e.str(avpOriginHost, 0, c.ident.OriginHost)
	e.str(avpOriginRealm, 0, c.ident.OriginRealm)
	e.u32(avpDisconnectCause, 0, 2)
	m := message(flagRequest, cmdDPR, appBase, e.b)
	setIDs(m, 0xffffffff, c.nextE2E())
	if err := c.locked(func() error {
		if _, err := c.w.Write(m); err != nil {
			return err
		}
		return c.w.Flush()
	}); err != nil {
		return
	}
	select {
	case <-c.dpa:
	case <-time.After(wait):
	}
}

func (c *client) closeDPA() {
	select {
	case <-c.dpa:
	default:
		close(c.dpa)
	}
}

func (c *client) complete(a Answer, now int64) {
	idx := a.HopByHop & 0xffff
	c.mu.Lock()
	defer c.mu.Unlock()
	if int(idx) >= len(c.slots) || !c.slots[idx].active || c.slots[idx].hbh != a.HopByHop {
		c.stats.stale++
		return
	}
	s := &c.slots[idx]
	res := a.Result
	if !a.HasResult {
		res = Result{}
	}
	c.stats.record(s.kind, res, time.Duration(now-s.intended))
	if s.attach {
		if s.kind != kindULR && res.Success() {
			// Keep the slot: the ULR follows on it.
			s.awaitingULR = true
			c.follow <- idx
			return
		}
		c.stats.record(kindAttach, res, time.Duration(now-s.txStart))
	}
	c.release(idx)
}

// sweep times out requests older than the timeout.
func (c *client) sweep(now int64) {
	limit := int64(c.run.cfg.Timeout)
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.slots {
		s := &c.slots[i]
		if !s.active || s.awaitingULR || now-s.sentAt < limit {
			continue
		}
		c.stats.timeout(s.kind)
		if s.attach {
			c.stats.timeout(kindAttach)
		}
		c.release(uint32(i))
	}
}
