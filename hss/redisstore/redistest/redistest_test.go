package redistest_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rcmhss/rcmhss/hss/redisstore/redistest"
)

func TestStartAnswersPingAndCleanupStops(t *testing.T) {
	var addr string
	t.Run("server", func(t *testing.T) {
		addr = redistest.Start(t)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := redistest.Ping(ctx, addr); err != nil {
			t.Fatalf("PING %s: %v", addr, err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := redistest.Ping(ctx, addr); err == nil {
		t.Fatalf("redis-server on %s still answers after its test's cleanup", addr)
	}
}

func TestStartWithArgsAppliesThem(t *testing.T) {
	s := redistest.StartWithArgs(t, "--maxmemory", "10mb")
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := c.ConfigGet(ctx, "maxmemory").Result()
	if err != nil {
		t.Fatal(err)
	}
	if got["maxmemory"] != "10485760" {
		t.Fatalf("maxmemory = %q, want 10485760", got["maxmemory"])
	}
	if other := redistest.Start(t); other == s.Addr {
		t.Fatalf("two servers share %s", other)
	}
}

func TestStop(t *testing.T) {
	s := redistest.StartWithArgs(t)
	s.Stop()
	s.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := redistest.Ping(ctx, s.Addr); err == nil {
		t.Fatal("server answers after Stop")
	}
}

func TestStartSentinelKnowsMaster(t *testing.T) {
	master := redistest.Start(t)
	s := redistest.StartSentinel(t, "m1", master)
	c := redis.NewSentinelClient(&redis.Options{Addr: s.Addr})
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addr, err := c.GetMasterAddrByName(ctx, "m1").Result()
	if err != nil {
		t.Fatal(err)
	}
	if got := addr[0] + ":" + addr[1]; got != master {
		t.Fatalf("sentinel names master %s, want %s", got, master)
	}
}
