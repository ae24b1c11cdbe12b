package redisstore_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"github.com/redis/go-redis/v9"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/diameter/diametertest"
	"github.com/rcmhss/rcmhss/hss/redisstore"
	"github.com/rcmhss/rcmhss/hss/redisstore/redistest"
)

var _ diameter.DuplicateCache = (*redisstore.DuplicateCache)(nil)

func TestDuplicateCacheGetPutTTL(t *testing.T) {
	ctx := context.Background()
	addr := redistest.Start(t)
	st := newGuardStore(ctx, t, redisstore.Config{Addrs: []string{addr}, KeyPrefix: "dc:"})
	if _, err := st.NewDuplicateCache(0); !errors.Is(err, redisstore.ErrInvalidTTL) {
		t.Fatalf("ttl 0: %v, want ErrInvalidTTL", err)
	}
	c, err := st.NewDuplicateCache(1500 * time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := c.Get(ctx, "mme.test/1a"); ok || err != nil {
		t.Fatalf("empty cache: ok=%v err=%v", ok, err)
	}
	if err := c.Put(ctx, "mme.test/1a", []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	b, ok, err := c.Get(ctx, "mme.test/1a")
	if !ok || err != nil || string(b) != "\x01\x02\x03" {
		t.Fatalf("get: %v %v %v", b, ok, err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	pttl, err := rdb.PTTL(ctx, "dc:dup:{mme.test/1a}").Result()
	if err != nil || pttl <= 0 || pttl > 1500*time.Millisecond {
		t.Fatalf("PTTL %v %v, want 0 < ttl <= 1.5s", pttl, err)
	}
}

// TestDuplicateCacheAcrossNodes: two Diameter servers (nodes) share the
// cache on one redis-server; a request answered by node A and retransmitted
// with the T flag, same Origin-Host and End-to-End identifier, to node B is
// answered by B with A's answer, and B's handler never runs.
func TestDuplicateCacheAcrossNodes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	addr := redistest.Start(t)
	var calls [2]atomic.Int64
	var addrs [2]string
	for i, host := range []string{"hss-a.test", "hss-b.test"} {
		st := newGuardStore(ctx, t, redisstore.Config{Addrs: []string{addr}, KeyPrefix: "dc:"})
		c, err := st.NewDuplicateCache(time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		srv, err := diameter.NewServer(diameter.Config{Listen: []string{"tcp://127.0.0.1:0"}, OriginHost: host,
			OriginRealm: "test.realm", AllowLoopback: true},
			diameter.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))), diameter.WithDuplicateCache(c))
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Register(&dupApp{calls: &calls[i]}); err != nil {
			t.Fatal(err)
		}
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer scancel()
			srv.Shutdown(sctx)
		})
		addrs[i] = srv.Addrs()[0].String()
	}
	peer := func(a string) *diametertest.Peer {
		return diametertest.NewPeer(t, a, "tcp", diametertest.PeerOptions{OriginHost: "mme.test", OriginRealm: "mme.realm",
			Apps: []diametertest.AppSpec{{ID: 16777251, Vendor: diameter.VendorID3GPP}}})
	}
	pa, pb := peer(addrs[0]), peer(addrs[1])
	req := pa.NewRequest(318, 16777251, "test.realm")
	req.NewAVP(avp.AuthSessionState, avp.Mbit, 0, datatype.Enumerated(1))
	req.NewAVP(avp.UserName, avp.Mbit, 0, datatype.UTF8String("001010000000001"))
	req.NewAVP(avp.VisitedPLMNID, avp.Mbit|avp.Vbit, diameter.VendorID3GPP, datatype.OctetString([]byte{0x00, 0xf1, 0x10}))
	first, err := pa.Do(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.CommandFlags |= diam.RetransmittedFlag
	req.Header.HopByHopID++
	again, err := pb.DoKeepIDs(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := calls[0].Load(), calls[1].Load(); a != 1 || b != 0 {
		t.Fatalf("handler runs: node A %d, node B %d; want 1 and 0", a, b)
	}
	if got, want := originHostOf(again), originHostOf(first); got != want || got != "hss-a.test" {
		t.Errorf("retransmission answered with Origin-Host %q, want node A's answer (%q)", got, want)
	}
	if again.Header.HopByHopID != req.Header.HopByHopID || again.Header.EndToEndID != first.Header.EndToEndID {
		t.Errorf("replayed answer ids hbh=%x e2e=%x, want hbh=%x e2e=%x", again.Header.HopByHopID, again.Header.EndToEndID,
			req.Header.HopByHopID, first.Header.EndToEndID)
	}
	// Without the T flag the request is a new one (RFC 6733 5.5.4): B runs it.
	req.Header.CommandFlags &^= diam.RetransmittedFlag
	req.Header.HopByHopID++
	req.Header.EndToEndID++
	if _, err := pb.DoKeepIDs(ctx, req); err != nil {
		t.Fatal(err)
	}
	if b := calls[1].Load(); b != 1 {
		t.Errorf("node B ran a fresh request %d times, want 1", b)
	}
}

// dupApp answers AIRs with 2001 and counts its runs.
type dupApp struct{ calls *atomic.Int64 }

func (a *dupApp) Name() string     { return "S6a" }
func (a *dupApp) AppID() uint32    { return 16777251 }
func (a *dupApp) VendorID() uint32 { return diameter.VendorID3GPP }
func (a *dupApp) Commands() map[uint32]diameter.Handler {
	return map[uint32]diameter.Handler{318: diameter.HandlerFunc(func(_ context.Context, req *diameter.Request) *diam.Message {
		a.calls.Add(1)
		return diameter.NewAnswer(req.Msg, diameter.Success)
	})}
}

func originHostOf(m *diam.Message) string {
	a, err := m.FindAVP(avp.OriginHost, 0)
	if err != nil {
		return ""
	}
	v, _ := a.Data.(datatype.DiameterIdentity)
	return string(v)
}
