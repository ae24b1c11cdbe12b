package redisstore_test

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rcmhss/rcmhss/hss"
	hssredis "github.com/rcmhss/rcmhss/hss/redisstore"
	"github.com/rcmhss/rcmhss/hss/redisstore/redistest"
	"github.com/rcmhss/rcmhss/rcm"
	"github.com/rcmhss/rcmhss/rcm/redisstore"
	"github.com/rcmhss/rcmhss/rcm/storetest"
)

var prefixN atomic.Int64

func open(t *testing.T, addr string) *redisstore.Store { return openB(t, addr) }

func openB(t testing.TB, addr string) *redisstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := redisstore.Open(ctx, hssredis.Config{Addrs: []string{addr}, KeyPrefix: "t" + strconv.FormatInt(prefixN.Add(1), 10) + ":"})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func TestConformance(t *testing.T) {
	addr := redistest.Start(t)
	storetest.Run(t, func(t *testing.T) rcm.Store { return open(t, addr) })
}

// TestSharedClient: two stores on one client (one pool for hss and rcm) and
// different prefixes do not see each other's state.
func TestSharedClient(t *testing.T) {
	addr := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = rdb.Close() })
	a, err := redisstore.New(rdb, "a:")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := redisstore.New(rdb, "b:")
	ctx := context.Background()
	if seen, _ := a.Seen(ctx, "k", time.Minute); seen {
		t.Fatal("fresh key seen")
	}
	if seen, _ := b.Seen(ctx, "k", time.Minute); seen {
		t.Fatal("prefixes share replay keys")
	}
	if _, err := redisstore.New(rdb, "x{y}"); !errors.Is(err, hss.ErrInvalidInput) {
		t.Fatalf("brace prefix err = %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("Close of a borrowed client closed it: %v", err)
	}
}

// TestStoreDown: every operation on a dead server wraps
// hss.ErrStoreUnavailable (the S6a table answers 4181/5012, never a vector).
func TestStoreDown(t *testing.T) {
	srv := redistest.StartWithArgs(t)
	st := open(t, srv.Addr)
	srv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := st.Seen(ctx, "k", time.Minute); !errors.Is(err, hss.ErrStoreUnavailable) {
		t.Fatalf("Seen err = %v", err)
	}
	if _, err := st.AppendAudit(ctx, rcm.AuditRecord{Event: rcm.AuditAttempt}); !errors.Is(err, hss.ErrStoreUnavailable) {
		t.Fatalf("AppendAudit err = %v", err)
	}
	if _, err := st.GetBinding(ctx, "001019990000001"); !errors.Is(err, hss.ErrStoreUnavailable) {
		t.Fatalf("GetBinding err = %v", err)
	}
}
