package diameter

import (
	"context"
	"encoding/binary"
	"slices"
	"strings"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	diamdict "github.com/fiorix/go-diameter/v4/diam/dict"

	"github.com/rcmhss/rcmhss/hss"
)

// dprCloseWait is how long a connection whose peer sent DPR stays open for
// the peer to close it (RFC 6733 5.4) before the server closes it itself.
const dprCloseWait = 2 * time.Second

func (s *Server) appIDs() []uint32 {
	ids := make([]uint32, 0, len(s.apps))
	for id := range s.apps {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// handleRequest answers base protocol requests inline and hands application
// requests to a worker goroutine (see workers).
func (c *conn) handleRequest(ctx context.Context, m *diam.Message, recv time.Time) {
	h := m.Header
	// RFC 6733 3: a request with the E bit set is malformed (7.1.3 3008).
	if h.CommandFlags&diam.ErrorFlag != 0 {
		c.answerBase(ctx, m, Result{Code: CodeInvalidHdrBits}, nil, recv)
		return
	}
	if h.ApplicationID == 0 {
		switch h.CommandCode {
		case cmdDWR:
			// RFC 6733 5.5.1: answered at once, whatever else is pending.
			a := NewAnswer(m, Success)
			c.addOrigin(a)
			a.AddAVP(diam.NewAVP(avp.OriginStateID, avp.Mbit, 0, datatype.Unsigned32(c.s.originStateID)))
			c.writeMessage(a)
			return
		case cmdDPR:
			// RFC 6733 5.4: answer; in-flight requests are still answered;
			// "the receiver of the Disconnect-Peer-Answer initiates the
			// transport disconnect", so close only if the peer does not.
			c.state.Store(int32(stateClosing))
			c.dprReceived.Store(true)
			c.writeMessage(c.finish(m, NewAnswer(m, Success)))
			c.s.log.Info("diameter: peer sent DPR", "peer", c.info().OriginHost)
			go func() {
				wctx, cancel := context.WithTimeout(context.Background(), c.s.cfg.RequestTimeout)
				defer cancel()
				c.waitInflight(wctx)
				t := time.NewTimer(dprCloseWait)
				defer t.Stop()
				select {
				case <-c.done:
				case <-t.C:
				}
				c.close("peer disconnected (DPR)")
			}()
			return
		case cmdCER:
			// RFC 6733 5.6.4: a CER on an open connection is answered,
			// the connection keeps its identity.
			c.writeMessage(c.cea(m, Success))
			return
		}
		c.answerBase(ctx, m, Result{Code: CodeCommandUnsupported}, nil, recv)
		return
	}
	e, ok := c.s.apps[h.ApplicationID]
	if !ok {
		c.answerBase(ctx, m, Result{Code: CodeApplicationUnsupported}, nil, recv)
		return
	}
	handler, ok := e.handlers[h.CommandCode]
	if !ok {
		c.answerBase(ctx, m, Result{Code: CodeCommandUnsupported}, nil, recv)
		return
	}
	select {
	case c.sem <- struct{}{}:
	default:
		c.answerBase(ctx, m, Result{Code: CodeTooBusy}, nil, recv)
		return
	}
	c.inflight.add()
	c.s.workers.submit(job{c: c, ctx: ctx, e: e, handler: handler, m: m, recv: recv})
}

// dispatch checks what the dictionary and RFC 6733 6.1 require of the
// request, answers retransmissions from the duplicate cache, then runs the
// handler and writes its answer.
func (c *conn) dispatch(ctx context.Context, e *appEntry, handler Handler, m *diam.Message, recv time.Time) {
	defer func() {
		if r := recover(); r != nil {
			c.s.log.Error("diameter: dispatch panic", "app", e.name, "command", CommandName(m.Header.CommandCode))
			c.answerBase(ctx, m, Result{Code: CodeUnableToComply}, nil, recv)
		}
	}()
	if r, failed := checkRules(e.rules[m.Header.CommandCode], m, c.s.dict, m.Header.ApplicationID); r.Code != 0 {
		c.answerBaseApp(ctx, e.name, m, r, failed, recv)
		return
	}
	if dr := findTop(m, avp.DestinationRealm, 0); dr != nil && !strings.EqualFold(identity(dr), c.s.cfg.OriginRealm) {
		// RFC 6733 6.1.4/7.1.3: we are not a relay; another realm is not ours.
		c.answerBaseApp(ctx, e.name, m, Result{Code: CodeRealmNotServed}, nil, recv)
		return
	}
	origin := identity(findTop(m, avp.OriginHost, 0))
	if origin == "" {
		origin = c.info().OriginHost
	}
	key := duplicateKey(origin, m.Header.EndToEndID)
	release, wait := c.s.claim(key)
	if wait != nil {
		// The same request is being handled right now (a retransmission
		// that overtook the answer): answer it from its outcome.
		select {
		case <-wait:
		case <-ctx.Done():
			return
		}
		if c.replay(ctx, e.name, m, key, recv) {
			return
		}
		release, _ = c.s.claim(key)
		if release == nil {
			c.answerBaseApp(ctx, e.name, m, Result{Code: CodeTooBusy}, nil, recv)
			return
		}
	}
	defer release()
	// RFC 6733 5.5.4: only a request flagged as retransmitted (T bit) can be
	// a duplicate, so only those pay for the lookup.
	if m.Header.CommandFlags&diam.RetransmittedFlag != 0 && c.replay(ctx, e.name, m, key, recv) {
		return
	}
	// The stores shared by several nodes record the key with the state
	// change (hss.WithRequestKey): a copy of this request that reaches another
	// node, or runs late here, finds the change made and does not make it twice.
	if c.s.requestKeys {
		ctx = hss.WithRequestKey(ctx, key)
	}
	ans := handler.ServeDiameter(ctx, &Request{Msg: m, Peer: c.info()})
	b, err := serializeMessage(c.finish(m, ans))
	if err != nil {
		c.s.log.Error("diameter: serialize answer", "app", e.name, "command", CommandName(m.Header.CommandCode), "err", err)
		c.answerBaseApp(ctx, e.name, m, Result{Code: CodeUnableToComply}, nil, recv)
		return
	}
	// An answer with the E bit (a protocol error, RFC 6733 7.1.3: 3004
	// DIAMETER_TOO_BUSY while the store is unreachable, among others) did
	// not process the request: a retransmission must be tried again, not
	// get the same refusal from the cache until it expires.
	if b[4]&diam.ErrorFlag == 0 {
		if err := c.s.dup.Put(ctx, key, b); err != nil {
			c.s.log.Warn("diameter: duplicate cache put", "err", err)
		}
	}
	c.write(b)
}

// replay writes the stored answer for key, if any, with the Hop-by-Hop id
// of this copy of the request (RFC 6733 6.2: the answer carries the
// identifier of the request it answers).
func (c *conn) replay(ctx context.Context, app string, m *diam.Message, key string, recv time.Time) bool {
	stored, ok, err := c.s.dup.Get(ctx, key)
	if err != nil {
		c.s.log.Warn("diameter: duplicate cache get", "err", err)
		return false
	}
	if !ok || len(stored) < diam.HeaderLength {
		return false
	}
	b := append([]byte(nil), stored...)
	binary.BigEndian.PutUint32(b[12:16], m.Header.HopByHopID)
	c.s.log.Debug("diameter: duplicate request answered from cache", "app", app, "command", CommandName(m.Header.CommandCode))
	if r, ok := resultOfRaw(b, c.s); ok {
		c.s.tel.record(ctx, app, CommandName(m.Header.CommandCode), r, recv)
	}
	c.write(b)
	return true
}

func resultOfRaw(b []byte, s *Server) (Result, bool) {
	m, err := DecodeMessage(b, s.dict)
	if err != nil {
		return Result{}, false
	}
	return ResultOf(m)
}

// checkRules applies the request's top-level rules of the dictionary:
// a required AVP missing is 5005, one present more often than allowed is
// 5009 (RFC 6733 7.1.5), each with Failed-AVP.
func checkRules(rules []avpRule, m *diam.Message, d *diamdict.Parser, appID uint32) (Result, *diam.AVP) {
	for _, r := range rules {
		n := 0
		var extra *diam.AVP
		for _, a := range m.AVP {
			if a.Code == r.code && (a.VendorID == r.vendor) {
				n++
				if r.max > 0 && n == r.max+1 {
					extra = a
				}
			}
		}
		if r.required && n == 0 {
			return Result{Code: CodeMissingAVP}, exampleAVP(d, appID, r.code, r.vendor, 0)
		}
		if extra != nil {
			return Result{Code: CodeAVPOccursTooManyTimes}, extra
		}
	}
	return Result{}, nil
}

// finish completes any answer: identifiers and flags of the request (RFC
// 6733 6.2), Session-Id first when the request had one (8.8), Origin-Host
// and Origin-Realm, and the request's Proxy-Info AVPs in order (6.1.9,
// 6.2.2).
func (c *conn) finish(req, ans *diam.Message) *diam.Message {
	if ans == nil {
		c.s.log.Error("diameter: handler returned no answer", "command", CommandName(req.Header.CommandCode))
		ans = NewAnswer(req, Result{Code: CodeUnableToComply})
	}
	rh := req.Header
	ans.Header.Version = 1
	ans.Header.CommandCode = rh.CommandCode
	ans.Header.ApplicationID = rh.ApplicationID
	ans.Header.HopByHopID = rh.HopByHopID
	ans.Header.EndToEndID = rh.EndToEndID
	ans.Header.CommandFlags = ans.Header.CommandFlags&diam.ErrorFlag | rh.CommandFlags&diam.ProxiableFlag
	if r, ok := ResultOf(ans); ok && r.IsProtocolError() {
		// RFC 6733 7.1.3: whoever built the answer, a protocol error
		// carries the E bit.
		ans.Header.CommandFlags |= diam.ErrorFlag
	}
	if sid := findTop(req, avp.SessionID, 0); sid != nil && findTop(ans, avp.SessionID, 0) == nil {
		ans.InsertAVP(sid)
	}
	c.addOrigin(ans)
	if findTop(ans, avp.ProxyInfo, 0) == nil {
		for _, a := range req.AVP {
			if a.Code == avp.ProxyInfo && a.VendorID == 0 {
				ans.AddAVP(a)
			}
		}
	}
	return ans
}

// answerBase answers m with a code chosen by the server itself (no handler).
func (c *conn) answerBase(ctx context.Context, m *diam.Message, r Result, failed *diam.AVP, recv time.Time) {
	c.answerBaseApp(ctx, c.s.appName(m.Header.ApplicationID), m, r, failed, recv)
}

func (c *conn) answerBaseApp(ctx context.Context, app string, m *diam.Message, r Result, failed *diam.AVP, recv time.Time) {
	a := NewAnswer(m, r)
	if e, ok := c.s.apps[m.Header.ApplicationID]; ok && e.app.VendorID() != 0 {
		// The answers of the 3GPP applications (TS 29.272 7.2, TS 29.273
		// 8.2.2) require Vendor-Specific-Application-Id and Auth-Session-State,
		// even when the server rather than the handler refuses the request.
		a.AddAVP(diam.NewAVP(avp.VendorSpecificApplicationID, avp.Mbit, 0, &diam.GroupedAVP{AVP: []*diam.AVP{
			diam.NewAVP(avp.VendorID, avp.Mbit, 0, datatype.Unsigned32(e.app.VendorID())),
			diam.NewAVP(avp.AuthApplicationID, avp.Mbit, 0, datatype.Unsigned32(e.app.AppID())),
		}}))
		a.AddAVP(diam.NewAVP(avp.AuthSessionState, avp.Mbit, 0, datatype.Enumerated(1)))
	}
	if failed != nil {
		a.AddAVP(diam.NewAVP(avp.FailedAVP, avp.Mbit, 0, &diam.GroupedAVP{AVP: []*diam.AVP{failed}}))
	}
	c.writeMessage(c.finish(m, a))
	c.s.tel.record(ctx, app, CommandName(m.Header.CommandCode), r, recv)
}
