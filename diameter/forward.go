package diameter

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
)

// Several rcmhss nodes serve the same subscribers, but each MME or 3GPP AAA
// server is connected to one of them. A request this node originates (CLR,
// IDR, DSR, PPR, RTR) for a peer connected elsewhere is forwarded to the node
// holding the connection, which sends it on that connection as its own
// HSS-initiated request and sends the answer back. This file is that
// mechanism; the directory of who holds which peer and the transport between
// nodes are plugged in (PeerDirectory, Forwarder), so that this package needs
// no storage library. docs/FAILOVER.md describes the policy for operators.

// Forwarder carries a serialized request to the node that holds the
// connection of the peer whose Origin-Host is host, and returns the
// serialized answer of that peer. It returns an error when no node holds the
// peer, when the owner is gone or did not answer before ctx ended, or when
// the owner could not deliver the request (Server.ServeForwarded's errors):
// Server.Send then looks the owner up again and retries.
type Forwarder interface {
	Forward(ctx context.Context, host string, req []byte) ([]byte, error)
}

// PeerDirectory is told which peers this server holds, so that other nodes
// can find them. Calls are made while connections open and close: an
// implementation must not block (record the change and publish it in the
// background). host is the peer's Origin-Host as sent in its CER.
type PeerDirectory interface {
	PeerUp(host string)
	PeerDown(host string)
}

// WithForwarder makes Send forward a request for a peer connected to another
// node through f, retrying as described on Send, instead of failing with
// ErrNoPeer.
func WithForwarder(f Forwarder) Option { return func(o *options) { o.forward.fwd = f } }

// WithPeerDirectory tells d about every peer that opens or closes a
// connection to this server.
func WithPeerDirectory(d PeerDirectory) Option { return func(o *options) { o.forward.dir = d } }

type forwardOptions struct {
	fwd Forwarder
	dir PeerDirectory
}

// Retry pacing between two attempts of a forwarded request: short at first
// (the owner may just have finished its capabilities exchange), then slower so
// that a peer connected nowhere costs one directory look-up per second at most.
const (
	forwardBackoffMin = 50 * time.Millisecond
	forwardBackoffMax = time.Second
)

// forwarding is the Server's part of cross-node requests.
type forwarding struct {
	fwd     Forwarder
	dir     PeerDirectory
	attempt time.Duration

	mu     sync.Mutex
	flight map[string]*delivery // forwarded requests being delivered, by deliveryKey
}

// delivery is one forwarded request on its way to a local peer; every
// attempt of the originating node that arrives meanwhile waits for it.
type delivery struct {
	done chan struct{}
	ans  []byte
	err  error
}

func (f *forwarding) init(o forwardOptions, cfg Config) {
	f.fwd, f.dir, f.attempt = o.fwd, o.dir, cfg.ForwardAttemptTimeout
	f.flight = make(map[string]*delivery)
}

func (f *forwarding) peerUp(host string) {
	if f.dir != nil {
		f.dir.PeerUp(host)
	}
}

func (f *forwarding) peerDown(host string) {
	if f.dir != nil {
		f.dir.PeerDown(host)
	}
}

// localPeer is the open connection of host on this server, if any.
func (s *Server) localPeer(host string) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peers[strings.ToLower(host)]
}

// sendAnywhere delivers req (identifiers and origin already set by send) to
// host through whichever node holds its connection. Policy:
//
//   - every attempt first looks for a local connection (the peer may have
//     reconnected to this very node) and uses it for the rest of ctx: a
//     request is never sent twice on one connection (RFC 6733 5.5.4);
//   - otherwise the request is forwarded and the attempt is bounded by
//     Config.ForwardAttemptTimeout; the owner is looked up anew by each
//     attempt, so a peer that reconnected to another node after its node
//     died is reached there;
//   - attempts go on, 50 ms apart at first and at most 1 s apart, until ctx
//     ends (Config.RequestTimeout when the caller set no deadline);
//   - after an attempt that may have reached the peer, the next one carries
//     the T flag with the same End-to-End identifier (RFC 6733 5.5.4), so the
//     peer can recognise a request it already received through a connection
//     that failed. The owner node joins attempts of the same request instead
//     of sending it again (ServeForwarded).
func (s *Server) sendAnywhere(ctx context.Context, host string, req *diam.Message) (*diam.Message, error) {
	backoff := forwardBackoffMin
	var last error
	for {
		if c := s.localPeer(host); c != nil {
			ans, err := c.roundTrip(ctx, req)
			if err == nil {
				return ans, nil
			}
			if !errors.Is(err, ErrPeerClosed) {
				return nil, fmt.Errorf("diameter: send %s to %s: %w", CommandName(req.Header.CommandCode), host, err)
			}
			// The connection failed under the request: the peer may
			// reconnect, here or to another node.
			last = err
		} else {
			ans, err := s.forwardOnce(ctx, host, req)
			if err == nil {
				return ans, nil
			}
			if errors.Is(err, errBadForwardedAnswer) {
				return nil, err
			}
			last = err
		}
		req.Header.CommandFlags |= diam.RetransmittedFlag
		s.log.Debug("diameter: request not delivered yet, retrying", "peer", host,
			"command", CommandName(req.Header.CommandCode), "retry_in", backoff, "err", last)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("diameter: send %s to %s: %w", CommandName(req.Header.CommandCode), host, errors.Join(ctx.Err(), last))
		case <-t.C:
		}
		backoff = min(2*backoff, forwardBackoffMax)
	}
}

var errBadForwardedAnswer = errors.New("diameter: forwarded answer undecodable")

func (s *Server) forwardOnce(ctx context.Context, host string, req *diam.Message) (*diam.Message, error) {
	b, err := req.Serialize()
	if err != nil {
		return nil, fmt.Errorf("diameter: forward %s to %s: serialize: %w", CommandName(req.Header.CommandCode), host, err)
	}
	actx, cancel := context.WithTimeout(ctx, s.fw.attempt)
	defer cancel()
	ab, err := s.fw.fwd.Forward(actx, host, b)
	if err != nil {
		return nil, fmt.Errorf("diameter: forward %s to %s: %w", CommandName(req.Header.CommandCode), host, err)
	}
	ans, err := DecodeMessage(ab, s.dict)
	if err != nil {
		return nil, fmt.Errorf("%w: %s to %s: %w", errBadForwardedAnswer, CommandName(req.Header.CommandCode), host, err)
	}
	return ans, nil
}

// ServeForwarded delivers a request forwarded by another node to the local
// peer host and returns the serialized answer. The request keeps everything
// the originating node put in it (Session-Id, Origin-Host and Origin-Realm of
// the HSS, End-to-End identifier, T flag); only the Hop-by-Hop identifier is
// this connection's own (RFC 6733 6.1.3: it is per hop), so the request is an
// HSS-initiated request of this node on that connection.
//
// Attempts of the same request (same peer, Origin-Host and End-to-End
// identifier) that arrive while it is being delivered wait for that delivery
// instead of sending it again. The delivery itself is bounded by
// Config.RequestTimeout, not by ctx, which bounds only the wait: the
// originating node's attempt may end before a slow peer answers, and its next
// attempt then picks up the answer. Without a local connection to host the
// error wraps ErrNoPeer.
func (s *Server) ServeForwarded(ctx context.Context, host string, req []byte) ([]byte, error) {
	m, err := DecodeMessage(req, s.dict)
	if err != nil {
		return nil, fmt.Errorf("diameter: serve forwarded request: %w", err)
	}
	if m.Header.CommandFlags&diam.RequestFlag == 0 {
		return nil, errors.New("diameter: serve forwarded request: not a request")
	}
	origin := identity(findTop(m, avp.OriginHost, 0))
	key := deliveryKey(host, origin, m.Header.EndToEndID)
	s.fw.mu.Lock()
	d, joined := s.fw.flight[key]
	if !joined {
		d = &delivery{done: make(chan struct{})}
		s.fw.flight[key] = d
	}
	s.fw.mu.Unlock()
	if !joined {
		go s.deliver(key, d, host, m)
	}
	select {
	case <-d.done:
		return d.ans, d.err
	case <-ctx.Done():
		return nil, fmt.Errorf("diameter: serve forwarded %s to %s: %w", CommandName(m.Header.CommandCode), host, ctx.Err())
	}
}

func deliveryKey(host, origin string, e2e uint32) string {
	return strings.ToLower(host) + "\x00" + strings.ToLower(origin) + "\x00" + strconv.FormatUint(uint64(e2e), 16)
}

func (s *Server) deliver(key string, d *delivery, host string, m *diam.Message) {
	defer func() {
		s.fw.mu.Lock()
		delete(s.fw.flight, key)
		s.fw.mu.Unlock()
		close(d.done)
	}()
	name := CommandName(m.Header.CommandCode)
	c := s.localPeer(host)
	if c == nil {
		d.err = fmt.Errorf("diameter: serve forwarded %s to %s: %w", name, host, ErrNoPeer)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
	defer cancel()
	ans, err := c.roundTrip(ctx, m)
	if err != nil {
		d.err = fmt.Errorf("diameter: serve forwarded %s to %s: %w", name, host, err)
		return
	}
	if d.ans, err = ans.Serialize(); err != nil {
		d.err = fmt.Errorf("diameter: serve forwarded %s to %s: serialize answer: %w", name, host, err)
		return
	}
	s.log.Debug("diameter: forwarded request delivered", "peer", host, "command", name)
}
