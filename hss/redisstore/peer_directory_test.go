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
	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/hss/redisstore"
	"github.com/rcmhss/rcmhss/hss/redisstore/redistest"
)

var (
	_ diameter.Forwarder     = (*redisstore.PeerDirectory)(nil)
	_ diameter.PeerDirectory = (*redisstore.PeerDirectory)(nil)
)

// newPeerStore opens a store on redis-server for the directory tests (keys
// are never sealed here: plaintext sealer).
func newPeerStore(ctx context.Context, t testing.TB, cfg redisstore.Config) *redisstore.Store {
	t.Helper()
	st, err := redisstore.New(ctx, cfg, hss.NewPlaintextSealer())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// pollUntil polls cond every 10ms until it holds or 15s pass.
func pollUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 15s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func newDirectory(ctx context.Context, t testing.TB, addr, node string, ttl time.Duration, deliver redisstore.DeliverFunc) (*redisstore.Store, *redisstore.PeerDirectory) {
	t.Helper()
	st := newPeerStore(ctx, t, redisstore.Config{Addrs: []string{addr}, KeyPrefix: "pd:"})
	d, err := st.NewPeerDirectory(redisstore.PeerDirectoryConfig{NodeID: node, TTL: ttl}, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	if deliver == nil {
		deliver = func(context.Context, string, []byte) ([]byte, error) { return nil, diameter.ErrNoPeer }
	}
	if err := d.Start(ctx, deliver); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return st, d
}

func TestPeerDirectoryConfig(t *testing.T) {
	ctx := context.Background()
	st := newPeerStore(ctx, t, redisstore.Config{Addrs: []string{redistest.Start(t)}})
	for _, cfg := range []redisstore.PeerDirectoryConfig{
		{}, {NodeID: "a{b}"}, {NodeID: "a", TTL: time.Millisecond},
	} {
		if _, err := st.NewPeerDirectory(cfg, nil); !errors.Is(err, redisstore.ErrInvalidPeerDirectory) {
			t.Errorf("%+v: %v, want ErrInvalidPeerDirectory", cfg, err)
		}
	}
}

// TestPeerDirectoryEntries: an entry appears with the TTL, is refreshed by
// the heartbeat, is taken over by the node the peer reconnects to and not
// taken back by the stale one, and vanishes when its node dies.
func TestPeerDirectoryEntries(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	addr := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	const ttl = 600 * time.Millisecond
	const key = "pd:peer:{mme1.test}"
	owner := func() string { v, _ := rdb.Get(ctx, key).Result(); return v }

	_, a := newDirectory(ctx, t, addr, "node-a", ttl, nil)
	stB, b := newDirectory(ctx, t, addr, "node-b", ttl, nil)
	_, a2 := newDirectory(ctx, t, addr, "node-a2", ttl, nil)
	a.PeerUp("MME1.test")
	pollUntil(t, "A's entry", func() bool { return owner() == "node-a" })
	if got, err := b.Owner(ctx, "mme1.TEST"); err != nil || got != "node-a" {
		t.Fatalf("B looks up %q %v, want node-a", got, err)
	}
	if pttl := rdb.PTTL(ctx, key).Val(); pttl <= 0 || pttl > ttl {
		t.Fatalf("PTTL %v, want within (0, %v]", pttl, ttl)
	}
	// The heartbeat keeps it: it outlives several TTLs.
	for range 3 {
		var low time.Duration
		pollUntil(t, "a refresh", func() bool {
			p := rdb.PTTL(ctx, key).Val()
			if low == 0 || p < low {
				low = p
				return false
			}
			return p > low+ttl/10
		})
	}
	if owner() != "node-a" {
		t.Fatalf("entry %q after refreshes", owner())
	}

	// The peer reconnects to B: B's entry wins and A's heartbeat (its stale
	// connection lingers) leaves it alone, and so does A's PeerDown.
	b.PeerUp("mme1.test")
	pollUntil(t, "B's entry", func() bool { return owner() == "node-b" })
	for range 3 {
		var low time.Duration
		pollUntil(t, "a refresh", func() bool {
			p := rdb.PTTL(ctx, key).Val()
			if low == 0 || p < low {
				low = p
				return false
			}
			return p > low+ttl/10
		})
		if o := owner(); o != "node-b" {
			t.Fatalf("A's heartbeat took the entry back: %q", o)
		}
	}
	a.PeerDown("mme1.test")
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if o := owner(); o != "node-b" {
		t.Fatalf("A's PeerDown removed B's entry: %q", o)
	}

	// B dies: its Redis client is gone, nothing is released, nothing
	// refreshed; the entry expires with the TTL.
	if err := stB.Close(); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, "the dead node's entry to expire", func() bool { return rdb.Exists(ctx, key).Val() == 0 })
	if _, err := a2.Owner(ctx, "mme1.test"); !errors.Is(err, redisstore.ErrNoPeerOwner) {
		t.Fatalf("owner after expiry: %v, want ErrNoPeerOwner", err)
	}
}

// countingForwarder counts the attempts of the real forwarder under it.
type countingForwarder struct {
	f            diameter.Forwarder
	calls, fails atomic.Int64
}

func (c *countingForwarder) Forward(ctx context.Context, host string, req []byte) ([]byte, error) {
	c.calls.Add(1)
	b, err := c.f.Forward(ctx, host, req)
	if err != nil {
		c.fails.Add(1)
	}
	return b, err
}

type forwardNode struct {
	srv  *diameter.Server
	dir  *redisstore.PeerDirectory
	fwd  *countingForwarder
	addr string
}

func startForwardNode(ctx context.Context, t testing.TB, redisAddr, host string) *forwardNode {
	t.Helper()
	return startForwardNodeOn(ctx, t, redisstore.Config{Addrs: []string{redisAddr}, KeyPrefix: "fw:"}, host)
}

func startForwardNodeOn(ctx context.Context, t testing.TB, cfg redisstore.Config, host string) *forwardNode {
	t.Helper()
	st := newPeerStore(ctx, t, cfg)
	dir, err := st.NewPeerDirectory(redisstore.PeerDirectoryConfig{NodeID: host + "/1", TTL: time.Second}, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	n := &forwardNode{dir: dir, fwd: &countingForwarder{f: dir}}
	n.srv, err = diameter.NewServer(diameter.Config{Listen: []string{"tcp://127.0.0.1:0"}, OriginHost: host,
		OriginRealm: "test.realm", AllowLoopback: true, ForwardAttemptTimeout: 300 * time.Millisecond},
		diameter.WithLogger(discardLogger()), diameter.WithForwarder(n.fwd), diameter.WithPeerDirectory(dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.srv.Register(&dupApp{calls: &atomic.Int64{}}); err != nil {
		t.Fatal(err)
	}
	if err := n.srv.Start(); err != nil {
		t.Fatal(err)
	}
	if err := dir.Start(ctx, n.srv.ServeForwarded); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dir.Close() })
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		n.srv.Shutdown(sctx)
	})
	n.addr = n.srv.Addrs()[0].String()
	return n
}

func (n *forwardNode) mme(t testing.TB, host string) *diametertest.Peer {
	t.Helper()
	p := diametertest.NewPeer(t, n.addr, "tcp", diametertest.PeerOptions{OriginHost: host, OriginRealm: "mme.realm",
		Apps: []diametertest.AppSpec{{ID: 16777251, Vendor: diameter.VendorID3GPP}}})
	pollUntil(t, "the directory to name the MME's node", func() bool {
		o, err := n.dir.Owner(context.Background(), host)
		return err == nil && o == n.dir.NodeID()
	})
	return p
}

func clrFor(session string) *diam.Message {
	m := diam.NewRequest(317, 16777251, nil)
	m.NewAVP(avp.SessionID, avp.Mbit, 0, datatype.UTF8String(session))
	return m
}

func nextCLR(t *testing.T, p *diametertest.Peer) *diam.Message {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case m := <-p.Received():
			if m.Header.CommandCode == 317 {
				return m
			}
		case <-timeout:
			t.Fatal("no CLR reached the MME")
		}
	}
}

// TestPeerDirectoryForwardsAcrossServers: three Diameter servers on one
// redis-server. B's CLR reaches the MME connected to A through Redis; with
// the directory naming a node that no longer listens, B's attempts fail at
// once (PUBLISH reaches nobody) and go on until the MME has reconnected to
// C, which delivers the CLR with the T flag.
func TestPeerDirectoryForwardsAcrossServers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	addr := redistest.Start(t)
	a := startForwardNode(ctx, t, addr, "hss-a.test")
	b := startForwardNode(ctx, t, addr, "hss-b.test")
	c := startForwardNode(ctx, t, addr, "hss-c.test")
	mmeA := a.mme(t, "mme.test")

	clr := clrFor("hss-b.test;1;one")
	ans, err := b.srv.Send(ctx, "mme.test", clr)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := diameter.ResultOf(ans); !ok || r.Code != diam.Success {
		t.Fatalf("answer %v", ans)
	}
	got := nextCLR(t, mmeA)
	if h := originHostOf(got); h != "hss-b.test" {
		t.Errorf("CLR Origin-Host %q, want the originating hss-b.test", h)
	}
	if got.Header.EndToEndID != clr.Header.EndToEndID {
		t.Errorf("End-to-End %#x, B assigned %#x", got.Header.EndToEndID, clr.Header.EndToEndID)
	}
	if n := b.fwd.calls.Load(); n != 1 {
		t.Errorf("B made %d forwarding attempts, want 1", n)
	}

	if _, err := b.dir.Forward(ctx, "nobody.test", []byte{1}); !errors.Is(err, redisstore.ErrNoPeerOwner) {
		t.Errorf("forward to a peer held nowhere: %v, want ErrNoPeerOwner", err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	if err := rdb.Set(ctx, "fw:peer:{mme.test}", "a-dead-node", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.dir.Forward(ctx, "mme.test", []byte{1}); !errors.Is(err, redisstore.ErrOwnerGone) {
		t.Fatalf("forward to a node that no longer listens: %v, want ErrOwnerGone", err)
	}

	// The directory names A for a peer A does not hold (its connection just
	// closed): A answers with its error, B gets ErrForwardFailed at once.
	if err := rdb.Set(ctx, "fw:peer:{ghost.test}", a.dir.NodeID(), 0).Err(); err != nil {
		t.Fatal(err)
	}
	raw, err := clrFor("hss-b.test;1;ghost").Serialize()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.dir.Forward(ctx, "ghost.test", raw); !errors.Is(err, redisstore.ErrForwardFailed) {
		t.Fatalf("forward to an owner without the connection: %v, want ErrForwardFailed", err)
	}

	before := b.fwd.fails.Load()
	done := make(chan error, 1)
	retried := clrFor("hss-b.test;1;two")
	go func() {
		_, err := b.srv.Send(ctx, "mme.test", retried)
		done <- err
	}()
	pollUntil(t, "B's attempts to fail against the dead owner", func() bool { return b.fwd.fails.Load() >= before+2 })
	mmeC := c.mme(t, "mme.test")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got = nextCLR(t, mmeC)
	if s := got.AVP[0].Data; s != datatype.UTF8String("hss-b.test;1;two") {
		t.Errorf("C delivered %v", s)
	}
	if got.Header.CommandFlags&diam.RetransmittedFlag == 0 {
		t.Error("the retried CLR lacks the T flag (RFC 6733 5.5.4)")
	}
	if got.Header.EndToEndID != retried.Header.EndToEndID {
		t.Errorf("End-to-End changed across attempts")
	}
}

// BenchmarkPeerDirectoryForward is one CLR from node B to the MME connected
// to node A through redis-server (serialize, PUBLISH, delivery by A on its
// connection, answer PUBLISHed back, decode), against BenchmarkLocalSend,
// the same CLR on B's own connection.
func BenchmarkPeerDirectoryForward(b *testing.B) {
	ctx := context.Background()
	addr := redistest.Start(b)
	na := startForwardNode(ctx, b, addr, "hss-a.test")
	nb := startForwardNode(ctx, b, addr, "hss-b.test")
	na.mme(b, "mme.test")
	b.Run("forwarded", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := nb.srv.Send(ctx, "mme.test", clrFor("hss-b.test;1;bench")); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("local", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := na.srv.Send(ctx, "mme.test", clrFor("hss-a.test;1;bench")); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestPeerDirectorySentinelFailover: two Diameter servers on a
// Sentinel-configured store (primary, replica, three Sentinels). A CLR from
// B reaches the MME connected to A; the primary is killed and Sentinel
// promotes the replica; both nodes' subscriptions follow the new primary
// and the next CLR from B reaches the MME through A again (retried by Send
// while no primary answers).
func TestPeerDirectorySentinelFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("Sentinel failover: skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	primary, replica, sentinels := startSentinelSet(t, "pd")
	cfg := redisstore.Config{Addrs: sentinels, MasterName: "pd", KeyPrefix: "fw:",
		DialTimeout: 300 * time.Millisecond, ReadTimeout: 300 * time.Millisecond}
	a := startForwardNodeOn(ctx, t, cfg, "hss-a.test")
	b := startForwardNodeOn(ctx, t, cfg, "hss-b.test")
	mme := a.mme(t, "mme.test")
	if _, err := b.srv.Send(ctx, "mme.test", clrFor("hss-b.test;1;before")); err != nil {
		t.Fatal(err)
	}
	nextCLR(t, mme)
	waitReplicated(ctx, t, primary.Addr, replica.Addr)

	primary.Stop()
	if err := redistest.WaitMaster(ctx, sentinels[0], "pd", replica.Addr); err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
	defer scancel()
	if _, err := b.srv.Send(sctx, "mme.test", clrFor("hss-b.test;1;after")); err != nil {
		t.Fatalf("CLR after the failover: %v", err)
	}
	got := nextCLR(t, mme)
	if s := got.AVP[0].Data; s != datatype.UTF8String("hss-b.test;1;after") {
		t.Errorf("the MME got %v", s)
	}
	if o, err := b.dir.Owner(ctx, "mme.test"); err != nil || o != a.dir.NodeID() {
		t.Errorf("owner on the new primary: %q %v, want A's", o, err)
	}
}
