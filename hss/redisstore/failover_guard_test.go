package redisstore_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/hss/redisstore"
	"github.com/rcmhss/rcmhss/hss/redisstore/redistest"
	"github.com/rcmhss/rcmhss/hss/storetest"
)

const guardJump = 1 << 12

// TestFailoverGuardLostWrites reproduces the loss that asynchronous
// replication allows, deterministically: a replica is promoted (REPLICAOF NO
// ONE, as Sentinel does) while the old primary keeps acknowledging
// reservations that never reach it. Without the guard the new primary issues
// those SEQs again; with it, its first reservation jumps past them.
func TestFailoverGuardLostWrites(t *testing.T) {
	for _, tt := range []struct {
		name      string
		jump      uint64
		wantReuse bool
	}{
		{"without guard the lost SEQs are issued again", 0, true},
		{"with guard they are not", guardJump, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			primary := redistest.StartWithArgs(t, "--repl-diskless-sync-delay", "0")
			host, port, _ := net.SplitHostPort(primary.Addr)
			replica := redistest.StartWithArgs(t, "--replicaof", host, port)
			cfg := redisstore.Config{KeyPrefix: "guard:", FailoverSEQJump: tt.jump}
			cfg.Addrs = []string{primary.Addr}
			onPrimary := newGuardStore(ctx, t, cfg)
			cfg.Addrs = []string{replica.Addr}
			onReplica := newGuardStore(ctx, t, cfg)

			imsi := hss.IMSI("001010000000301")
			if err := onPrimary.CreateSubscriber(ctx, storetest.Subscriber(imsi)); err != nil {
				t.Fatal(err)
			}
			reserve := func(st *redisstore.Store) uint64 {
				t.Helper()
				r, err := st.ReserveSQN(ctx, imsi, "mme1", 1, 5)
				if err != nil {
					t.Fatal(err)
				}
				return r.FirstSEQ
			}
			for range 3 {
				reserve(onPrimary)
			}
			waitReplicated(ctx, t, primary.Addr, replica.Addr)

			rr := redis.NewClient(&redis.Options{Addr: replica.Addr})
			defer rr.Close()
			if err := rr.Do(ctx, "REPLICAOF", "NO", "ONE").Err(); err != nil {
				t.Fatal(err)
			}
			// Acknowledged by the old primary, lost to the new one.
			var lostMax uint64
			for range 5 {
				lostMax = reserve(onPrimary)
			}
			first := reserve(onReplica)
			if reused := first <= lostMax; reused != tt.wantReuse {
				t.Fatalf("first SEQ on the promoted replica %d, highest SEQ the old primary issued %d: reused=%v, want %v",
					first, lostMax, reused, tt.wantReuse)
			}
			if tt.jump != 0 {
				// One jump per primary change, not per reservation.
				if next := reserve(onReplica); next != first+1 {
					t.Errorf("second SEQ on the new primary %d, want %d", next, first+1)
				}
			}
		})
	}
}

// TestFailoverGuardExhausted: a jump past the largest SEQ is refused as
// exhaustion, not wrapped.
func TestFailoverGuardExhausted(t *testing.T) {
	ctx := context.Background()
	addr := redistest.Start(t)
	st := newGuardStore(ctx, t, redisstore.Config{Addrs: []string{addr}, KeyPrefix: "guard:", FailoverSEQJump: 1 << 44})
	imsi := hss.IMSI("001010000000302")
	if err := st.CreateSubscriber(ctx, storetest.Subscriber(imsi)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ReserveSQN(ctx, imsi, "mme1", 1, 5); !errors.Is(err, hss.ErrAuthDataUnavailable) {
		t.Fatalf("jump beyond 2^43 SEQ: %v, want ErrAuthDataUnavailable", err)
	}
}

func newGuardStore(ctx context.Context, t testing.TB, cfg redisstore.Config) *redisstore.Store {
	t.Helper()
	st, err := redisstore.New(ctx, cfg, testSealer(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// startSentinelSet starts a primary, its replica and three Sentinels
// watching it as master name; the replica's first sync is not delayed
// (repl-diskless-sync-delay 0), so a failover drill can wait for it.
func startSentinelSet(t *testing.T, name string) (primary, replica *redistest.Server, sentinels []string) {
	t.Helper()
	primary = redistest.StartWithArgs(t, "--repl-diskless-sync-delay", "0")
	host, port, _ := net.SplitHostPort(primary.Addr)
	replica = redistest.StartWithArgs(t, "--replicaof", host, port)
	for range 3 {
		sentinels = append(sentinels, redistest.StartSentinel(t, name, primary.Addr).Addr)
	}
	return primary, replica, sentinels
}

// waitReplicated waits until the replica has applied everything the
// primary wrote (redistest.WaitReplicated).
func waitReplicated(ctx context.Context, t testing.TB, primary, replica string) {
	t.Helper()
	if err := redistest.WaitReplicated(ctx, primary, replica); err != nil {
		t.Fatal(err)
	}
}

// TestFailoverGuardRestartFromSnapshot: a primary that restarts from an
// older RDB snapshot has lost the reservations made after it; the guard sees
// a new master_replid (Redis takes one at every start) and jumps past them.
func TestFailoverGuardRestartFromSnapshot(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	first := redistest.StartWithArgs(t, "--dir", dir, "--dbfilename", "snap.rdb")
	cfg := redisstore.Config{Addrs: []string{first.Addr}, KeyPrefix: "restart:", FailoverSEQJump: guardJump}
	st := newGuardStore(ctx, t, cfg)
	imsi := hss.IMSI("001010000000302")
	if err := st.CreateSubscriber(ctx, storetest.Subscriber(imsi)); err != nil {
		t.Fatal(err)
	}
	var last uint64
	for range 3 {
		r, err := st.ReserveSQN(ctx, imsi, "mme1", 1, 5)
		if err != nil {
			t.Fatal(err)
		}
		last = r.FirstSEQ
	}
	rdb := redis.NewClient(&redis.Options{Addr: first.Addr})
	if err := rdb.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	_ = rdb.Close()
	for range 5 { // lost with the restart
		r, err := st.ReserveSQN(ctx, imsi, "mme1", 1, 5)
		if err != nil {
			t.Fatal(err)
		}
		last = r.FirstSEQ
	}
	first.Stop()
	second := redistest.StartWithArgs(t, "--dir", dir, "--dbfilename", "snap.rdb")
	cfg.Addrs = []string{second.Addr}
	after := newGuardStore(ctx, t, cfg)
	r, err := after.ReserveSQN(ctx, imsi, "mme1", 1, 5)
	if err != nil {
		t.Fatal(err)
	}
	if r.FirstSEQ <= last {
		t.Fatalf("after the restart from the snapshot SEQ %d was issued again (last issued %d)", r.FirstSEQ, last)
	}
	if r.FirstSEQ < last+guardJump-5 {
		t.Errorf("SEQ %d after restart: want a jump of %d past the snapshot", r.FirstSEQ, guardJump)
	}
}
