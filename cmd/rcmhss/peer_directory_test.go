package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rcmhss/rcmhss/diameter/diametertest"
	"github.com/rcmhss/rcmhss/hss/redisstore/redistest"
)

// TestPeerDirectoryWiredOnRedis: with Redis the Diameter server gets the peer
// directory by default (diameter.forward_requests), a connecting peer is
// written to Redis under this node's id, and a clean stop removes it; the
// key turns it off.
func TestPeerDirectoryWiredOnRedis(t *testing.T) {
	addr := redistest.Start(t)
	c, err := LoadConfig(repoConfig, true)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Diameter.ForwardRequests || c.Diameter.ForwardAttemptTimeout != time.Second || c.Redis.PeerTTL != 5*time.Second {
		t.Errorf("defaults: forward_requests %v, forward_attempt_timeout %v, peer_ttl %v; want true, 1s, 5s",
			c.Diameter.ForwardRequests, c.Diameter.ForwardAttemptTimeout, c.Redis.PeerTTL)
	}
	c.Redis.Addr, c.Redis.KeyPrefix = addr, "pdw:"
	c.Admin.Listen = "127.0.0.1:0"
	c.Diameter.Listen = []string{"tcp://127.0.0.1:0"}
	c.Diameter.ForwardAttemptTimeout = 700 * time.Millisecond
	log := slog.New(slog.DiscardHandler)
	if got := c.diameterConfig(log).ForwardAttemptTimeout; got != 700*time.Millisecond {
		t.Errorf("diameter config ForwardAttemptTimeout %v, want 700ms", got)
	}
	s, err := newServer(context.Background(), c, log)
	if err != nil {
		t.Fatal(err)
	}
	if s.peerDir == nil {
		t.Fatal("no peer directory with Redis configured")
	}
	if id := s.peerDir.NodeID(); !strings.HasPrefix(id, c.Diameter.OriginHost+"/") {
		t.Errorf("node id %q does not start with the Origin-Host", id)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for !s.ready.Load() {
		if time.Now().After(deadline) {
			t.Fatal("not ready")
		}
		time.Sleep(5 * time.Millisecond)
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	owner := func() string { v, _ := rdb.Get(context.Background(), "pdw:peer:{mme.wired.test}").Result(); return v }
	p := diametertest.NewPeer(t, s.diam.Addrs()[0].String(), "tcp", diametertest.PeerOptions{
		OriginHost: "mme.wired.test", OriginRealm: "wired.test",
		Apps: []diametertest.AppSpec{{ID: 16777251, Vendor: 10415}},
	})
	for owner() != s.peerDir.NodeID() {
		if time.Now().After(deadline) {
			t.Fatalf("peer directory entry %q, want %q", owner(), s.peerDir.NodeID())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	<-p.Done()
	if o := owner(); o != "" {
		t.Errorf("after a clean stop the directory still names %q", o)
	}

	t.Setenv("RCMHSS_DIAMETER_FORWARD_REQUESTS", "false")
	off, err := LoadConfig(repoConfig, true)
	if err != nil {
		t.Fatal(err)
	}
	off.Redis.Addr, off.Redis.KeyPrefix = addr, "pdw:"
	s, err = newServer(context.Background(), off, log)
	if err != nil {
		t.Fatal(err)
	}
	if s.peerDir != nil {
		t.Error("diameter.forward_requests false still wires the peer directory")
	}
	if err := s.closeStore(); err != nil {
		t.Error(err)
	}
	_ = s.tel.Shutdown(context.Background())
}
