package diameter_test

import (
	"context"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/diameter/diametertest"
)

const swxID = 16777265

// peerApp serves one command and, when opened is set, reports every peer
// that opened advertising it (diameter.PeerObserver).
type peerApp struct {
	name   string
	id     uint32
	opened chan diameter.PeerInfo
}

func (a *peerApp) Name() string     { return a.name }
func (a *peerApp) AppID() uint32    { return a.id }
func (a *peerApp) VendorID() uint32 { return diameter.VendorID3GPP }
func (a *peerApp) Commands() map[uint32]diameter.Handler {
	return map[uint32]diameter.Handler{cmdAIR: diameter.HandlerFunc(func(_ context.Context, req *diameter.Request) *diam.Message {
		return diameter.NewAnswer(req.Msg, diameter.Success)
	})}
}

// observingApp is a peerApp that implements diameter.PeerObserver.
type observingApp struct{ peerApp }

func (a *observingApp) PeerOpened(_ context.Context, p diameter.PeerInfo) { a.opened <- p }

// TestPeersForAndPeerOpened: the server knows which application each open
// peer advertised (directly, in a Vendor-Specific-Application-Id, or only
// the Relay application), lists the peers of one application, and tells
// only the applications a peer advertised that it opened.
func TestPeersForAndPeerOpened(t *testing.T) {
	s6a := &observingApp{peerApp{name: "S6a", id: s6aID, opened: make(chan diameter.PeerInfo, 8)}}
	swx := &peerApp{name: "SWx", id: swxID}
	srv, err := diameter.NewServer(diameter.Config{
		Listen: []string{"tcp://127.0.0.1:0"}, OriginHost: testHost, OriginRealm: realm, AllowLoopback: true,
	}, diameter.WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []diameter.Application{s6a, swx} {
		if err := srv.Register(a); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	addr := srv.Addrs()[0].String()
	connect := func(host string, apps ...diametertest.AppSpec) *diametertest.Peer {
		p := diametertest.NewPeer(t, addr, "tcp", diametertest.PeerOptions{OriginHost: host, OriginRealm: "mme.realm", Apps: apps})
		// An answer on the connection means its reader is past the CER and
		// so past the PeerOpened calls.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req := p.NewRequest(cmdAIR, apps[0].ID, realm)
		if apps[0].ID == 0xffffffff {
			req = p.NewRequest(cmdAIR, s6aID, realm)
		}
		if _, err := p.Do(ctx, req); err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		return p
	}

	connect("aaa.test", diametertest.AppSpec{ID: swxID})
	connect("dra.test", diametertest.AppSpec{ID: 0xffffffff})
	select {
	case p := <-s6a.opened:
		t.Fatalf("S6a told that %s opened; it advertised no S6a", p.OriginHost)
	default:
	}
	mmeB := connect("mme-b.test", diametertest.AppSpec{ID: s6aID, Vendor: diameter.VendorID3GPP})
	connect("mme-a.test", diametertest.AppSpec{ID: swxID}, diametertest.AppSpec{ID: s6aID})

	var opened []string
	for range 2 {
		select {
		case p := <-s6a.opened:
			if p.OriginRealm != "mme.realm" {
				t.Errorf("PeerOpened realm %q", p.OriginRealm)
			}
			opened = append(opened, p.OriginHost)
		case <-time.After(5 * time.Second):
			t.Fatalf("PeerOpened calls %q, want mme-a.test and mme-b.test", opened)
		}
	}
	if !(opened[0] == "mme-b.test" && opened[1] == "mme-a.test") {
		t.Errorf("PeerOpened for %q, want mme-b.test then mme-a.test", opened)
	}
	hosts := func(ps []diameter.PeerInfo) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.OriginHost)
		}
		return out
	}
	if got := hosts(srv.PeersFor(s6aID)); len(got) != 2 || got[0] != "mme-a.test" || got[1] != "mme-b.test" {
		t.Errorf("PeersFor(S6a) = %q, want [mme-a.test mme-b.test]", got)
	}
	if got := hosts(srv.PeersFor(swxID)); len(got) != 2 || got[0] != "aaa.test" || got[1] != "mme-a.test" {
		t.Errorf("PeersFor(SWx) = %q, want [aaa.test mme-a.test]", got)
	}

	// A peer that leaves is no longer listed; when it comes back the
	// application is told again.
	mmeB.Close()
	deadline := time.Now().Add(5 * time.Second)
	for len(srv.PeersFor(s6aID)) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("PeersFor(S6a) = %q after mme-b.test closed", hosts(srv.PeersFor(s6aID)))
		}
		time.Sleep(10 * time.Millisecond)
	}
	connect("mme-b.test", diametertest.AppSpec{ID: s6aID, Vendor: diameter.VendorID3GPP})
	select {
	case p := <-s6a.opened:
		if p.OriginHost != "mme-b.test" {
			t.Errorf("PeerOpened for %s, want mme-b.test", p.OriginHost)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no PeerOpened for the reconnected peer")
	}
}
