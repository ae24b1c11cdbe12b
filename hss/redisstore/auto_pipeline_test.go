package redisstore

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/hss/redisstore/redistest"
	"github.com/rcmhss/rcmhss/hss/storetest"
)

// TestAutoPipelineSharesRoundTrips runs many reservations at once on a real
// redis-server: every one must get its own SEQ (no SEQ issued twice, none
// skipped, per subscriber), and most must have travelled in pipelines of
// several calls, which is the point of the auto-pipeline.
func TestAutoPipelineSharesRoundTrips(t *testing.T) {
	addr := redistest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := New(ctx, Config{Addrs: []string{addr}, KeyPrefix: "ap:"}, hss.NewPlaintextSealer())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	const subs, workers, each = 4, 64, 40
	imsis := make([]hss.IMSI, subs)
	for i := range imsis {
		imsis[i] = hss.IMSI(fmt.Sprintf("00101%010d", i))
		if err := st.CreateSubscriber(ctx, storetest.Subscriber(imsis[i])); err != nil {
			t.Fatal(err)
		}
	}
	var (
		mu   sync.Mutex
		seen = make(map[hss.IMSI]map[uint64]bool)
		wg   sync.WaitGroup
		errs = make(chan error, workers)
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				imsi := imsis[(w+i)%subs]
				r, err := st.ReserveSQN(ctx, imsi, "mme1", 1, 5)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				if seen[imsi] == nil {
					seen[imsi] = make(map[uint64]bool)
				}
				if seen[imsi][r.FirstSEQ] {
					errs <- fmt.Errorf("%s: seq %d issued twice", imsi, r.FirstSEQ)
				}
				seen[imsi][r.FirstSEQ] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, imsi := range imsis {
		got := seen[imsi]
		if len(got) != workers*each/subs {
			t.Fatalf("%s: %d reservations, want %d", imsi, len(got), workers*each/subs)
		}
		var lo, hi uint64 = ^uint64(0), 0
		for s := range got {
			lo, hi = min(lo, s), max(hi, s)
		}
		if hi-lo+1 != uint64(len(got)) {
			t.Errorf("%s: seqs %d..%d for %d reservations: some skipped", imsi, lo, hi, len(got))
		}
	}
	if shared := st.scripts.shared.Load(); shared < workers*each/2 {
		t.Errorf("only %d of %d reservations shared a pipeline", shared, workers*each)
	}
}

// TestAutoPipelineCallerGivesUp: a caller whose context ends gets its
// context's error and the others are unaffected.
func TestAutoPipelineCallerGivesUp(t *testing.T) {
	addr := redistest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := New(ctx, Config{Addrs: []string{addr}, KeyPrefix: "ap:"}, hss.NewPlaintextSealer())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	imsi := hss.IMSI("001010000000001")
	if err := st.CreateSubscriber(ctx, storetest.Subscriber(imsi)); err != nil {
		t.Fatal(err)
	}
	gone, stop := context.WithCancel(ctx)
	stop()
	if _, err := st.ReserveSQN(gone, imsi, "mme1", 1, 5); err == nil {
		t.Fatal("reservation with a cancelled context succeeded")
	}
	if _, err := st.ReserveSQN(ctx, imsi, "mme1", 1, 5); err != nil {
		t.Fatalf("next reservation: %v", err)
	}
}
