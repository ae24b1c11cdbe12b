package redisstore_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/hss/redisstore"
	"github.com/rcmhss/rcmhss/hss/redisstore/redistest"
	"github.com/rcmhss/rcmhss/hss/storetest"
)

// TestConcurrentReserveAcrossClients plays several HSS nodes against one Redis:
// 8 workers, each with its own client (pool of 2 connections) and 2 goroutines,
// reserve vectors for the same IMSI on behalf of 6 serving nodes sharing 4 IND
// slots (so LRU reuse happens) for about 3 seconds (0.5 s with -short). Every
// SEQ must be handed out once, the SEQs must be consecutive, and each
// goroutine must see SEQ increase per IND slot (TS 33.102 C.2.2 needs
// SEQ > SEQ_MS(IND) at the USIM).
func TestConcurrentReserveAcrossClients(t *testing.T) {
	addr := redistest.Start(t)
	duration := 3 * time.Second
	if testing.Short() {
		duration = 500 * time.Millisecond
	}
	const (
		workers    = 8
		goroutines = 2
		indBits    = 2
	)
	nodes := []string{"mme-a", "mme-b", "mme-c", "mme-d", "mme-e", "mme-f"}
	sealer := testSealer(t)
	prefix := fmt.Sprintf("conc%d:", dbPrefix.Add(1))
	imsi := hss.IMSI("001010000000042")

	ctx := ctxFor(t)
	first, err := redisstore.New(ctx, redisstore.Config{Addrs: []string{addr}, KeyPrefix: prefix, PoolSize: 2}, sealer)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = first.Close() })
	sub := storetest.Subscriber(imsi)
	sub.SQN = 0
	if err := first.CreateSubscriber(ctx, sub); err != nil {
		t.Fatal(err)
	}

	type obs struct {
		seq uint64
		ind uint32
		n   int
	}
	var (
		stop     atomic.Bool
		wg       sync.WaitGroup
		mu       sync.Mutex
		all      [][]obs
		errOnce  sync.Once
		firstErr error
	)
	stores := []*redisstore.Store{first}
	for range workers - 1 {
		st, err := redisstore.New(ctx, redisstore.Config{Addrs: []string{addr}, KeyPrefix: prefix, PoolSize: 2}, sealer)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		stores = append(stores, st)
	}
	// Stopping by flag rather than by cancelling ctx: a cancelled call may
	// have run on the server, which would look like a lost SEQ.
	timer := time.AfterFunc(duration, func() { stop.Store(true) })
	defer timer.Stop()
	for w, st := range stores {
		for g := range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var mine []obs
				for i := 0; !stop.Load(); i++ {
					node := nodes[(w*goroutines+g+i)%len(nodes)]
					n := 1 + i%3
					r, err := st.ReserveSQN(ctx, imsi, node, n, indBits)
					if err != nil {
						errOnce.Do(func() { firstErr = err })
						stop.Store(true)
						break
					}
					if r.Material.K != sub.K {
						errOnce.Do(func() { firstErr = fmt.Errorf("wrong key material") })
					}
					mine = append(mine, obs{r.FirstSEQ, r.IND, n})
				}
				mu.Lock()
				all = append(all, mine)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}

	seen := map[uint64]bool{}
	calls := 0
	for _, mine := range all {
		last := map[uint32]uint64{}
		for _, o := range mine {
			calls++
			if o.ind >= 1<<indBits {
				t.Fatalf("IND %d out of %d bits", o.ind, indBits)
			}
			if prev, ok := last[o.ind]; ok && o.seq <= prev {
				t.Fatalf("IND %d: SEQ went from %d to %d", o.ind, prev, o.seq)
			}
			last[o.ind] = o.seq + uint64(o.n) - 1
			for s := o.seq; s < o.seq+uint64(o.n); s++ {
				if seen[s] {
					t.Fatalf("SEQ %d handed out twice", s)
				}
				seen[s] = true
			}
		}
	}
	seqs := make([]uint64, 0, len(seen))
	for s := range seen {
		seqs = append(seqs, s)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	for i, s := range seqs {
		if s != uint64(i)+1 {
			t.Fatalf("SEQs not consecutive: position %d holds %d", i, s)
		}
	}
	got, err := first.GetSubscriber(context.Background(), imsi)
	if err != nil {
		t.Fatal(err)
	}
	if got.SQN>>indBits != uint64(len(seqs)) {
		t.Errorf("SEQ_HE = %d, want %d", got.SQN>>indBits, len(seqs))
	}
	if calls < workers*goroutines {
		t.Errorf("only %d reservations in %v", calls, duration)
	}
	t.Logf("%d reservations, %d SEQs, from %d clients x %d goroutines", calls, len(seqs), workers, goroutines)
}
