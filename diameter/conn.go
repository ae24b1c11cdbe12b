package diameter

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
)

// Base protocol command codes (RFC 6733 3.1).
const (
	cmdCER = 257
	cmdDWR = 280
	cmdDPR = 282
)

// relayAppID is the Relay application (RFC 6733 2.4): a peer advertising it
// shares every application.
const relayAppID = 0xffffffff

// Disconnect-Cause values (RFC 6733 5.4.3).
const disconnectRebooting = 0

type connState int32

const (
	stateWaitCER connState = iota
	stateOpen
	stateClosing
)

// conn is one transport connection to a peer (RFC 6733 2.1: one per peer).
type conn struct {
	s       *Server
	nc      net.Conn
	network string
	br      *bufio.Reader

	state    atomic.Int32
	peerMu   sync.Mutex
	peer     PeerInfo
	apps     []uint32 // advertised at CER, set before the peer is listed (peers.go)
	sem      chan struct{}
	inflight inflight

	// wmu guards the combined write queue (see write).
	wmu        sync.Mutex
	wdone      *sync.Cond // signalled when a flush ends
	wq         []byte     // messages queued behind the flush in progress
	wspare     []byte     // the previous queue, reused
	flushing   bool
	werr       error
	closingW   atomic.Bool   // close is waiting for the flush: short deadlines
	wake       chan struct{} // wakes writeLoop
	writerGone bool

	pendingMu sync.Mutex
	pending   map[uint32]chan *diam.Message
	hbh       atomic.Uint32

	lastRecv   atomic.Int64 // unix nanoseconds of the last message received
	dwaPending atomic.Bool
	// dprReceived: the peer sent DPR, so its closing the transport is the
	// expected end (RFC 6733 5.4), not a failure.
	dprReceived atomic.Bool

	closeOnce sync.Once
	done      chan struct{}
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{
		s: s, nc: nc, network: nc.LocalAddr().Network(),
		br:      bufio.NewReaderSize(nc, 16<<10),
		sem:     make(chan struct{}, maxInFlightPerConn),
		pending: make(map[uint32]chan *diam.Message),
		done:    make(chan struct{}),
		wake:    make(chan struct{}, 1),
	}
	if c.network == "tcp" {
		go c.writeLoop()
	}
	c.wdone = sync.NewCond(&c.wmu)
	c.hbh.Store(uint32(time.Now().UnixNano()))
	c.peer = PeerInfo{RemoteAddr: nc.RemoteAddr()}
	return c
}

func (c *conn) info() PeerInfo {
	c.peerMu.Lock()
	defer c.peerMu.Unlock()
	return c.peer
}

func (c *conn) close(reason string) {
	c.closeOnce.Do(func() {
		c.state.Store(int32(stateClosing))
		close(c.done)
		// Let a queued answer out, but do not wait a full writeTimeout on
		// a peer that stopped reading.
		c.closingW.Store(true)
		c.nc.SetWriteDeadline(time.Now().Add(closeFlushTimeout))
		c.waitFlushed()
		c.nc.Close()
		p := c.info()
		if p.OriginHost != "" {
			c.s.log.Info("diameter: peer disconnected", "peer", p.OriginHost, "remote", addrString(p.RemoteAddr), "reason", reason)
		} else {
			c.s.log.Debug("diameter: connection closed", "remote", addrString(p.RemoteAddr), "reason", reason)
		}
	})
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// serve reads frames until the connection ends. Requests are handled each
// in its own goroutine; base protocol messages are answered here, so a slow
// handler never delays a DWA.
func (c *conn) serve(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	wasOpen := false
	defer func() {
		reason := "reader stopped"
		if c.dprReceived.Load() {
			reason = "peer closed the transport after its DPR"
		}
		c.close(reason)
		// Handlers see the cancellation only once the connection is gone.
		cancel()
		<-c.inflight.idle()
		c.failPending()
		host := c.info().OriginHost
		c.s.removeConn(c, host)
		if wasOpen {
			c.s.tel.peers.Add(context.Background(), -1)
		}
	}()
	// A timer rather than a read deadline: SCTP connections do not support
	// deadlines.
	cerTimer := time.AfterFunc(cerTimeout, func() {
		if connState(c.state.Load()) == stateWaitCER {
			c.close("no CER within " + cerTimeout.String())
		}
	})
	defer cerTimer.Stop()
	buf := make([]byte, 0, 4096)
	for {
		frame, err := readFrame(c.br, buf)
		if err != nil {
			var perr *ProtocolError
			if errors.As(err, &perr) {
				c.s.log.Warn("diameter: unreadable message, closing connection", "remote", addrString(c.nc.RemoteAddr()),
					"peer", c.info().OriginHost, "err", perr.Reason)
				c.answerProtocolError(perr, nil)
				return
			}
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				c.s.log.Info("diameter: read", "remote", addrString(c.nc.RemoteAddr()), "peer", c.info().OriginHost, "err", err)
			}
			return
		}
		if cap(frame) > cap(buf) {
			buf = frame[:0]
		}
		recv := time.Now()
		c.lastRecv.Store(recv.UnixNano())
		m, err := DecodeMessage(frame, c.s.dict)
		if err != nil {
			var perr *ProtocolError
			if !errors.As(err, &perr) {
				return
			}
			c.s.log.Warn("diameter: malformed message", "remote", addrString(c.nc.RemoteAddr()),
				"peer", c.info().OriginHost, "code", perr.Result.Code, "err", perr.Reason)
			c.answerProtocolError(perr, frame)
			if perr.Fatal {
				return
			}
			continue
		}
		switch connState(c.state.Load()) {
		case stateWaitCER:
			if !c.handleCER(m) {
				return
			}
			wasOpen = true
			cerTimer.Stop()
			go c.watchdog()
		default:
			if m.Header.CommandFlags&diam.RequestFlag == 0 {
				c.handleAnswer(m)
				continue
			}
			c.handleRequest(ctx, m, recv)
		}
	}
}

// answerProtocolError answers a request that could not be decoded, from its
// header alone (RFC 6733 7.2: E bit for 3xxx, Failed-AVP for 5014). Answers
// are never answered.
func (c *conn) answerProtocolError(perr *ProtocolError, frame []byte) {
	h := perr.Header
	if h == nil || h.CommandFlags&diam.RequestFlag == 0 {
		return
	}
	a := diam.NewMessage(h.CommandCode, h.CommandFlags&diam.ProxiableFlag, h.ApplicationID, h.HopByHopID, h.EndToEndID, c.s.dict)
	if len(frame) > diam.HeaderLength {
		if sid := rawSessionID(frame[diam.HeaderLength:]); sid != nil {
			a.AddAVP(sid)
		}
	}
	SetResult(a, perr.Result)
	c.addOrigin(a)
	if perr.Failed != nil {
		a.AddAVP(diam.NewAVP(avp.FailedAVP, avp.Mbit, 0, &diam.GroupedAVP{AVP: []*diam.AVP{perr.Failed}}))
	}
	c.writeMessage(a)
}

// rawSessionID finds a well-formed Session-Id among the AVPs of a body that
// failed validation, so that the error answer still names the session.
func rawSessionID(b []byte) *diam.AVP {
	for off := 0; off+8 <= len(b); {
		code := uint32(b[off])<<24 | uint32(b[off+1])<<16 | uint32(b[off+2])<<8 | uint32(b[off+3])
		l := int(uint24(b[off+5 : off+8]))
		if l < 8 || off+l > len(b) {
			return nil
		}
		if code == avp.SessionID && b[off+4]&avp.Vbit == 0 {
			return diam.NewAVP(avp.SessionID, avp.Mbit, 0, datatype.UTF8String(append([]byte(nil), b[off+8:off+l]...)))
		}
		off += pad4(l)
	}
	return nil
}

// addOrigin adds this server's Origin-Host and Origin-Realm to a message
// the server writes itself. The AVPs are shared between messages: they are
// only ever serialized, never modified.
func (c *conn) addOrigin(a *diam.Message) {
	if findTop(a, avp.OriginHost, 0) == nil {
		a.AddAVP(c.s.originHost)
	}
	if findTop(a, avp.OriginRealm, 0) == nil {
		a.AddAVP(c.s.originRealm)
	}
}

func (c *conn) writeMessage(m *diam.Message) error {
	b, err := serializeMessage(m)
	if err != nil {
		c.s.log.Error("diameter: serialize", "command", CommandName(m.Header.CommandCode), "err", err)
		return err
	}
	return c.write(b)
}

// write sends one whole message; concurrent answers never interleave on the
// stream.
//
// On TCP the message is appended to the connection's write queue and the
// connection's writer goroutine (writeLoop) is woken; the writer sends
// everything queued in one syscall and sleeps when the queue is empty.
// Under load this turns one write syscall per answer into one per batch
// (the answers of every handler that finished while the previous write was
// in the kernel), and costs one wake-up when the connection is idle. The
// error of a failed write closes the connection; the callers that wrote
// into it learn of it from the closed connection, as the peer does. SCTP
// keeps one message per write: each Diameter message travels in its own
// SCTP user message.
func (c *conn) write(b []byte) error {
	if c.network != "tcp" {
		c.wmu.Lock()
		defer c.wmu.Unlock()
		c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
		_, err := c.nc.Write(b)
		if err != nil {
			c.close("write: " + err.Error())
		}
		return err
	}
	c.wmu.Lock()
	if c.werr != nil || c.writerGone {
		err := c.werr
		c.wmu.Unlock()
		if err == nil {
			// The connection was closed and its writer has stopped.
			err = net.ErrClosed
		}
		return err
	}
	c.wq = append(c.wq, b...)
	c.flushing = true
	c.wmu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default: // the writer is already awake and will see the queue
	}
	return nil
}

// writeLoop is the TCP connection's writer (see write). It stops once the
// connection is closed and its queue is empty, or at the first write error.
func (c *conn) writeLoop() {
	var spare []byte
	for {
		select {
		case <-c.wake:
		case <-c.done:
			// close waits for the queue with waitFlushed; a last wake may
			// have been missed, so look once more.
		}
		// Let the handlers that are runnable right now finish and queue
		// their answers first: on a loaded server this is what makes
		// batches; on an idle one nothing else is runnable and it returns
		// at once.
		runtime.Gosched()
		c.wmu.Lock()
		out := c.wq
		c.wq = spare[:0]
		if len(out) == 0 {
			c.flushing = false
			c.wdone.Broadcast()
			c.wmu.Unlock()
			select {
			case <-c.done:
				c.wmu.Lock()
				c.writerGone = true
				c.wdone.Broadcast()
				c.wmu.Unlock()
				return
			default:
			}
			spare = out
			continue
		}
		c.wmu.Unlock()
		if c.closingW.Load() {
			c.nc.SetWriteDeadline(time.Now().Add(closeFlushTimeout))
		} else {
			c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
		}
		_, err := c.nc.Write(out)
		if cap(out) > maxWriteBuffer {
			out = nil
		}
		spare = out[:0]
		if err != nil {
			c.wmu.Lock()
			c.werr = err
			c.wq = nil
			c.flushing = false
			c.writerGone = true
			c.wdone.Broadcast()
			c.wmu.Unlock()
			c.close("write: " + err.Error())
			return
		}
	}
}

// maxWriteBuffer is the largest write queue kept for reuse after a flush;
// a burst beyond it is let go rather than pinned for the connection's life.
const maxWriteBuffer = 256 << 10

// closeFlushTimeout bounds how long closing a connection waits for the
// answers already queued on it.
const closeFlushTimeout = time.Second

// waitFlushed waits until the write queue is empty, so that an answer queued
// just before the connection is closed (a DPA, a CEA refusing the peer, a
// protocol error) still goes out. Each write is bounded by a deadline, so
// the wait is too.
func (c *conn) waitFlushed() {
	if c.network != "tcp" {
		return
	}
	c.wmu.Lock()
	for c.flushing && !c.writerGone {
		c.wdone.Wait()
	}
	c.wmu.Unlock()
}

// handleCER runs the capabilities exchange (RFC 6733 5.3) and reports
// whether the connection is open.
func (c *conn) handleCER(m *diam.Message) bool {
	h := m.Header
	if h.CommandCode != cmdCER || h.ApplicationID != 0 || h.CommandFlags&diam.RequestFlag == 0 {
		// RFC 6733 5.6: nothing but a CER is accepted before the
		// capabilities exchange.
		if h.CommandFlags&diam.RequestFlag != 0 {
			a := NewAnswer(m, Result{Code: CodeUnknownPeer})
			c.addOrigin(a)
			a.AddAVP(diam.NewAVP(avp.ErrorMessage, 0, 0, datatype.UTF8String("capabilities exchange required first")))
			c.writeMessage(a)
		}
		c.s.log.Warn("diameter: message before CER", "remote", addrString(c.nc.RemoteAddr()), "command", h.CommandCode)
		return false
	}
	remote := addrString(c.nc.RemoteAddr())
	fail := func(r Result, failed *diam.AVP, msg string) bool {
		cea := c.cea(m, r)
		if failed != nil {
			cea.AddAVP(diam.NewAVP(avp.FailedAVP, avp.Mbit, 0, &diam.GroupedAVP{AVP: []*diam.AVP{failed}}))
		}
		cea.AddAVP(diam.NewAVP(avp.ErrorMessage, 0, 0, datatype.UTF8String(msg)))
		c.writeMessage(cea)
		c.s.log.Warn("diameter: capabilities exchange refused", "remote", remote, "code", r.Code, "reason", msg)
		return false
	}
	// RFC 6733 5.3.1 CER: these are mandatory.
	for _, code := range []uint32{avp.OriginHost, avp.OriginRealm, avp.HostIPAddress, avp.VendorID, avp.ProductName} {
		if findTop(m, code, 0) == nil {
			return fail(Result{Code: CodeMissingAVP}, exampleAVP(c.s.dict, 0, code, 0, avp.Mbit), "missing avp in CER")
		}
	}
	host := identity(findTop(m, avp.OriginHost, 0))
	realm := identity(findTop(m, avp.OriginRealm, 0))
	if host == "" || realm == "" {
		return fail(Result{Code: CodeInvalidAVPValue}, findTop(m, avp.OriginHost, 0), "empty origin host or realm")
	}
	if !c.s.allowed(c.nc.RemoteAddr(), host, realm) {
		return fail(Result{Code: CodeUnknownPeer}, nil, "peer not in the allow-list")
	}
	if !c.s.commonApplication(m) {
		return fail(Result{Code: CodeNoCommonApplication}, nil, "no common application")
	}
	if !noInbandSecurityOffered(m) {
		// RFC 6733 5.3: TLS/TCP is established before CER here, never
		// in-band; a peer that offers only in-band TLS cannot be served.
		return fail(Result{Code: CodeNoCommonSecurity}, nil, "only in-band security offered")
	}
	c.peerMu.Lock()
	c.peer.OriginHost, c.peer.OriginRealm = host, realm
	c.peerMu.Unlock()
	if err := c.writeMessage(c.cea(m, Success)); err != nil {
		return false
	}
	c.state.Store(int32(stateOpen))
	c.apps = advertisedApps(m)
	c.s.addPeer(c, host)
	c.s.tel.peers.Add(context.Background(), 1)
	c.s.log.Info("diameter: peer connected", "peer", host, "realm", realm, "remote", remote, "network", c.network)
	c.s.peerOpened(c)
	return true
}

// noInbandSecurityOffered reports whether the CER allows NO_INBAND_SECURITY
// (0): true when it has no Inband-Security-Id at all (RFC 6733 6.10).
func noInbandSecurityOffered(m *diam.Message) bool {
	seen := false
	for _, a := range m.AVP {
		if a.Code != avp.InbandSecurityID || a.VendorID != 0 {
			continue
		}
		seen = true
		if v, ok := a.Data.(datatype.Unsigned32); ok && v == 0 {
			return true
		}
	}
	return !seen
}

func identity(a *diam.AVP) string {
	if a == nil {
		return ""
	}
	switch v := a.Data.(type) {
	case datatype.DiameterIdentity:
		return string(v)
	case datatype.UTF8String:
		return string(v)
	case datatype.OctetString:
		return string(v)
	}
	return ""
}

func (s *Server) allowed(remote net.Addr, host, realm string) bool {
	for _, r := range s.cfg.AllowedPeers {
		if r.Match(host, realm) {
			return true
		}
	}
	return s.cfg.AllowLoopback && isLoopback(remote)
}

func isLoopback(a net.Addr) bool {
	if a == nil {
		return false
	}
	host := a.String()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	// SCTP addresses may list several IPs ("127.0.0.1/127.0.0.2:3868"):
	// every one must be loopback.
	for _, part := range strings.Split(host, "/") {
		ip, err := netip.ParseAddr(strings.Trim(part, "[]"))
		if err != nil || !ip.Unmap().IsLoopback() {
			return false
		}
	}
	return true
}

// commonApplication reports whether the CER advertises at least one of our
// applications, directly or in a Vendor-Specific-Application-Id, or the
// Relay application (RFC 6733 5.3, 2.4).
func (s *Server) commonApplication(m *diam.Message) bool {
	ok := func(a *diam.AVP) bool {
		if a.Code != avp.AuthApplicationID && a.Code != avp.AcctApplicationID {
			return false
		}
		v, isU := a.Data.(datatype.Unsigned32)
		if !isU {
			return false
		}
		if uint32(v) == relayAppID {
			return true
		}
		_, known := s.apps[uint32(v)]
		return known
	}
	for _, a := range m.AVP {
		if ok(a) {
			return true
		}
		if a.Code == avp.VendorSpecificApplicationID {
			if g, isG := a.Data.(*diam.GroupedAVP); isG {
				for _, in := range g.AVP {
					if ok(in) {
						return true
					}
				}
			}
		}
	}
	return false
}

// cea builds the CEA (RFC 6733 5.3.2) advertising exactly the registered
// applications.
func (c *conn) cea(req *diam.Message, r Result) *diam.Message {
	a := NewAnswer(req, r)
	c.addOrigin(a)
	if ip := localIP(c.nc.LocalAddr()); ip.IsValid() {
		a.AddAVP(diam.NewAVP(avp.HostIPAddress, avp.Mbit, 0, datatype.Address(ip.AsSlice())))
	}
	a.AddAVP(diam.NewAVP(avp.VendorID, avp.Mbit, 0, datatype.Unsigned32(0)))
	a.AddAVP(diam.NewAVP(avp.ProductName, 0, 0, datatype.UTF8String(c.s.cfg.ProductName)))
	a.AddAVP(diam.NewAVP(avp.OriginStateID, avp.Mbit, 0, datatype.Unsigned32(c.s.originStateID)))
	a.AddAVP(diam.NewAVP(avp.SupportedVendorID, avp.Mbit, 0, datatype.Unsigned32(VendorID3GPP)))
	for _, id := range c.s.appIDs() {
		e := c.s.apps[id]
		if v := e.app.VendorID(); v != 0 {
			a.AddAVP(diam.NewAVP(avp.VendorSpecificApplicationID, avp.Mbit, 0, &diam.GroupedAVP{AVP: []*diam.AVP{
				diam.NewAVP(avp.VendorID, avp.Mbit, 0, datatype.Unsigned32(v)),
				diam.NewAVP(avp.AuthApplicationID, avp.Mbit, 0, datatype.Unsigned32(id)),
			}}))
		} else {
			a.AddAVP(diam.NewAVP(avp.AuthApplicationID, avp.Mbit, 0, datatype.Unsigned32(id)))
		}
	}
	a.AddAVP(diam.NewAVP(avp.FirmwareRevision, 0, 0, datatype.Unsigned32(FirmwareRevision)))
	return a
}

func localIP(a net.Addr) netip.Addr {
	if a == nil {
		return netip.Addr{}
	}
	host := a.String()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Split(host, "/")[0]
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	if err != nil {
		return netip.Addr{}
	}
	return ip.Unmap().WithZone("")
}

func (c *conn) handleAnswer(m *diam.Message) {
	hbh := m.Header.HopByHopID
	c.pendingMu.Lock()
	ch, ok := c.pending[hbh]
	if ok {
		delete(c.pending, hbh)
	}
	c.pendingMu.Unlock()
	if ok {
		ch <- m
		return
	}
	if m.Header.CommandCode == cmdDWR && m.Header.ApplicationID == 0 {
		// RFC 3539 3.4.1 OnReceive(DWA): the peer is alive.
		c.dwaPending.Store(false)
		return
	}
	// RFC 6733 6.2.2: an answer matching no pending request is discarded.
	c.s.log.Debug("diameter: unexpected answer discarded", "peer", c.info().OriginHost, "command", m.Header.CommandCode)
}

// roundTrip writes req with a fresh Hop-by-Hop id and waits for its answer.
func (c *conn) roundTrip(ctx context.Context, req *diam.Message) (*diam.Message, error) {
	hbh := c.hbh.Add(1)
	req.Header.HopByHopID = hbh
	ch := make(chan *diam.Message, 1)
	c.pendingMu.Lock()
	if c.pending == nil {
		c.pendingMu.Unlock()
		return nil, ErrPeerClosed
	}
	c.pending[hbh] = ch
	c.pendingMu.Unlock()
	forget := func() {
		c.pendingMu.Lock()
		if c.pending != nil {
			delete(c.pending, hbh)
		}
		c.pendingMu.Unlock()
	}
	if err := c.writeMessage(req); err != nil {
		forget()
		return nil, errors.Join(ErrPeerClosed, err)
	}
	select {
	case ans, ok := <-ch:
		if !ok || ans == nil {
			return nil, ErrPeerClosed
		}
		return ans, nil
	case <-ctx.Done():
		forget()
		return nil, ctx.Err()
	}
}

// failPending wakes every Send waiting on this connection.
func (c *conn) failPending() {
	c.pendingMu.Lock()
	defer c.pendingMu.Unlock()
	for _, ch := range c.pending {
		close(ch)
	}
	c.pending = nil
}

// watchdog implements RFC 3539 3.4.1: when nothing was received for Tw, send
// a DWR; when Tw expires again with the DWA still missing, the peer is
// declared down and its connection closed.
func (c *conn) watchdog() {
	interval := c.s.watchdogInterval()
	lastSent := time.Now()
	t := time.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		last := time.Unix(0, c.lastRecv.Load())
		if lastSent.After(last) {
			last = lastSent
		}
		if wait := time.Until(last.Add(interval)); wait > 0 {
			t.Reset(wait)
			continue
		}
		if c.dwaPending.Load() {
			c.s.log.Warn("diameter: no DWA within the watchdog interval, closing peer",
				"peer", c.info().OriginHost, "tw", c.s.cfg.WatchdogInterval)
			c.close("watchdog expired")
			return
		}
		dwr := diam.NewMessage(cmdDWR, diam.RequestFlag, 0, c.hbh.Add(1), c.s.e2e.Add(1), c.s.dict)
		c.addOrigin(dwr)
		dwr.AddAVP(diam.NewAVP(avp.OriginStateID, avp.Mbit, 0, datatype.Unsigned32(c.s.originStateID)))
		c.dwaPending.Store(true)
		if c.writeMessage(dwr) != nil {
			return
		}
		lastSent = time.Now()
		interval = c.s.watchdogInterval()
		t.Reset(interval)
	}
}

// disconnect runs the RFC 6733 5.4 disconnection for Shutdown: DPR with
// REBOOTING, wait for the DPA (bounded by ctx and the request timeout), wait
// for in-flight requests, close.
func (c *conn) disconnect(ctx context.Context) {
	if connState(c.state.Load()) != stateOpen {
		c.close("shutdown")
		return
	}
	dpr := diam.NewMessage(cmdDPR, diam.RequestFlag, 0, 0, c.s.e2e.Add(1), c.s.dict)
	c.addOrigin(dpr)
	dpr.AddAVP(diam.NewAVP(avp.DisconnectCause, avp.Mbit, 0, datatype.Enumerated(disconnectRebooting)))
	dctx, cancel := context.WithTimeout(ctx, c.s.cfg.RequestTimeout)
	_, err := c.roundTrip(dctx, dpr)
	cancel()
	if err != nil {
		c.s.log.Info("diameter: no DPA from peer", "peer", c.info().OriginHost, "err", err)
	}
	c.state.Store(int32(stateClosing))
	c.waitInflight(ctx)
	c.close("shutdown")
}

func (c *conn) waitInflight(ctx context.Context) {
	select {
	case <-c.inflight.idle():
	case <-ctx.Done():
	case <-c.done:
	}
}

// inflight counts the requests of a connection being handled. Unlike a
// sync.WaitGroup it may be waited on while the reader keeps adding requests
// (a DPR or Shutdown drains a connection that is still being read).
type inflight struct {
	mu   sync.Mutex
	n    int
	zero chan struct{} // closed when n drops to 0; nil while n == 0
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (f *inflight) add() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == 0 {
		f.zero = make(chan struct{})
	}
	f.n++
}

func (f *inflight) done() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n--
	if f.n == 0 {
		close(f.zero)
		f.zero = nil
	}
}

// idle returns a channel closed once no request is in flight.
func (f *inflight) idle() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == 0 {
		return closedChan
	}
	return f.zero
}
