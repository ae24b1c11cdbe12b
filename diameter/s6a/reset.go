package s6a

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/datatype"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/hss"
)

// Reset (TS 29.272 7.2.15, 7.2.16) and User-Id (7.3.50). go-diameter's
// dictionary has both (User-Id V set, M clear, as table 7.3.1/1 says).
const (
	cmdReset   uint32 = 322
	codeUserID uint32 = 1444
)

// PeerLister lists the open peers that advertised an application.
// *diameter.Server implements it; a Sender that does not cannot reach the
// MMEs for a Reset, which then reaches none.
type PeerLister interface {
	PeersFor(appID uint32) []diameter.PeerInfo
}

var (
	_ hss.ResetObserver     = (*Plugin)(nil)
	_ diameter.PeerObserver = (*Plugin)(nil)
	_ PeerLister            = (*diameter.Server)(nil)
)

// OnReset implements hss.ResetObserver: a Reset-Request goes to every MME
// and SGSN connected to this node over S6a/S6d, with the User-Ids of the
// request (none: all subscribers of this HSS, TS 29.272 5.2.1.3.2), and
// OnReset returns what each answered.
//
// TS 29.272 5.2.1.3 addresses the Reset to the serving nodes that may hold
// affected subscribers; the HSS that needs it has lost which ones those
// are, so every connected S6a peer gets it. An MME that holds none of
// them has nothing to mark (5.2.1.3.3).
func (p *Plugin) OnReset(ctx context.Context, req hss.ResetRequest) []hss.ResetOutcome {
	// The operator who asked may hang up; the MMEs are still told.
	ctx = context.WithoutCancel(ctx)
	peers := p.s6aPeers()
	out := make([]hss.ResetOutcome, len(peers))
	var wg sync.WaitGroup
	for i, peer := range peers {
		wg.Go(func() {
			out[i] = hss.ResetOutcome{Application: p.Name(), Node: peer.OriginHost, Err: p.reset(ctx, peer, req.UserIDs)}
		})
	}
	wg.Wait()
	return out
}

func (p *Plugin) s6aPeers() []diameter.PeerInfo {
	l, ok := p.sender.(PeerLister)
	if !ok {
		p.log.Warn("reset: the sender cannot list its peers; no Reset-Request sent")
		return nil
	}
	return l.PeersFor(AppID)
}

// resetRequest builds a Reset-Request (TS 29.272 7.2.15) to peer.
// Supported-Features is left out: this HSS offers no feature that changes
// the Reset (Reset-ID, a Rel-13 addition, needs its own feature bit and
// identifiers stored with each subscriber).
func (p *Plugin) resetRequest(peer diameter.PeerInfo, userIDs []string) *diam.Message {
	m := p.requestHead(cmdReset, peer.OriginHost, peer.OriginRealm)
	for _, id := range userIDs {
		m.NewAVP(codeUserID, flagsV, VendorID, datatype.UTF8String(id))
	}
	return m
}

// reset sends one Reset-Request and logs the answer. The client telemetry
// of the server counts it (diameter_client_requests_total, command RSR, by
// result).
func (p *Plugin) reset(ctx context.Context, peer diameter.PeerInfo, userIDs []string) error {
	err := p.send(ctx, peer.OriginHost, p.resetRequest(peer, userIDs))
	if err != nil {
		p.log.WarnContext(ctx, "reset failed", "mme", peer.OriginHost, "user_ids", len(userIDs), "error", err)
		return err
	}
	p.log.InfoContext(ctx, "reset acknowledged", "mme", peer.OriginHost, "user_ids", len(userIDs))
	return nil
}

// resetState remembers the MMEs that got the Reset after this process
// started.
type resetState struct {
	mu sync.Mutex
	// sent holds the lower-case Origin-Host of each MME that answered it,
	// or whose Reset is in flight.
	sent map[string]bool
}

// PeerOpened implements diameter.PeerObserver: with
// Config.ResetAfterRestart, an MME that connects for the first time since
// this process started gets a Reset-Request for all subscribers.
//
// TS 29.272 5.2.1.3.1: the HSS uses the Reset "after a restart" to tell the
// MMEs and SGSNs that it may have lost the identities of the nodes serving
// its subscribers (TS 23.007, restart of the HLR: a Reset to every node
// where one of its subscribers is registered, according to what survived). The embedded
// store (hss/memstore) keeps nothing across a restart, so this process has
// lost every registration, and the nodes that may still hold one are the
// ones that were connected to the previous process: they reconnect, and
// that is when the Reset can reach them. Until they re-register (ULR at the
// next contact, 5.2.1.3.3) no CLR, IDR or DSR could reach them. A peer that
// merely reconnects while this process runs lost nothing here and gets no
// second Reset. With Redis the registrations survive a node's restart, so
// cmd/rcmhss leaves ResetAfterRestart off and no Reset is sent
// automatically (an operator can still send one, POST /v1/reset).
//
// A Reset that got no answer (the connection dropped, timeout) is sent
// again when the MME next connects; one that was answered, even with an
// error, is not.
func (p *Plugin) PeerOpened(ctx context.Context, peer diameter.PeerInfo) {
	if !p.cfg.ResetAfterRestart {
		return
	}
	key := strings.ToLower(peer.OriginHost)
	s := &p.resets
	s.mu.Lock()
	if s.sent[key] {
		s.mu.Unlock()
		return
	}
	if s.sent == nil {
		s.sent = make(map[string]bool)
	}
	s.sent[key] = true
	s.mu.Unlock()

	// PeerOpened runs on the connection's reader (diameter.PeerObserver):
	// the answer can only arrive once it has returned.
	p.inflight.Add(1)
	go func() {
		defer p.inflight.Done()
		err := p.reset(context.WithoutCancel(ctx), peer, nil)
		if err != nil && !errors.Is(err, ErrRejected) {
			s.mu.Lock()
			delete(s.sent, key)
			s.mu.Unlock()
		}
	}()
}
