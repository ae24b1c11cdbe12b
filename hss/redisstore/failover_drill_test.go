package redisstore_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/hss/redisstore"
	"github.com/rcmhss/rcmhss/hss/redisstore/redistest"
	"github.com/rcmhss/rcmhss/hss/storetest"
)

// TestDrillSentinelFailover is the Redis primary failover drill of issue 8:
// a primary, a replica and three Sentinels; closed-loop SQN reservations
// (the store work of an AIR) through a Sentinel-configured store with the
// failover guard; the primary is killed (SIGKILL) under load. Sentinel
// promotes the replica, the store follows it, and per subscriber and IND
// slot the SEQs of the successful reservations never repeat nor go
// backwards; the first reservation of each subscriber on the new primary
// shows the guard's jump.
func TestDrillSentinelFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("failover drill: skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	primary, replica, sentinels := startSentinelSet(t, "drill")
	st := newGuardStore(ctx, t, redisstore.Config{Addrs: sentinels, MasterName: "drill", KeyPrefix: "drill:",
		FailoverSEQJump: guardJump, DialTimeout: 300 * time.Millisecond, ReadTimeout: 300 * time.Millisecond})
	imsis := make([]hss.IMSI, 16)
	for i := range imsis {
		imsis[i] = hss.IMSI(fmt.Sprintf("0010100000004%02d", i))
		if err := st.CreateSubscriber(ctx, storetest.Subscriber(imsis[i])); err != nil {
			t.Fatal(err)
		}
	}
	waitReplicated(ctx, t, primary.Addr, replica.Addr)

	type grant struct {
		imsi hss.IMSI
		seq  uint64
		ind  uint32
		at   time.Time
	}
	var (
		mu     sync.Mutex
		grants []grant
		errs   int
		wg     sync.WaitGroup
	)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	const workers = 8
	for w := range workers {
		wg.Go(func() {
			for i := 0; runCtx.Err() == nil; i++ {
				imsi := imsis[w+workers*(i%2)]
				r, err := st.ReserveSQN(runCtx, imsi, "mme1", 1, 5)
				mu.Lock()
				if err != nil {
					errs++
				} else {
					grants = append(grants, grant{imsi, r.FirstSEQ, r.IND, time.Now()})
				}
				mu.Unlock()
				if err != nil {
					// Pace the retries while no primary answers.
					select {
					case <-runCtx.Done():
					case <-time.After(20 * time.Millisecond):
					}
				}
			}
		})
	}

	select {
	case <-time.After(2 * time.Second):
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	killed := time.Now()
	primary.Stop()
	if err := redistest.WaitMaster(ctx, sentinels[0], "drill", replica.Addr); err != nil {
		stop()
		wg.Wait()
		t.Fatalf("Sentinel did not promote the replica: %v", err)
	}
	switched := time.Now()
	// Load on the new primary for a while, then stop.
	select {
	case <-time.After(3 * time.Second):
	case <-ctx.Done():
	}
	stop()
	wg.Wait()

	// A reservation that returns just after the kill may still come from
	// the old primary: the new primary is recognised by the guard's jump,
	// which must happen exactly once per subscriber, after the kill.
	last := map[hss.IMSI]uint64{}
	jumps := map[hss.IMSI]int{}
	var before, after int
	var firstAfter time.Time
	for _, g := range grants {
		if g.ind != 0 {
			t.Errorf("%s: IND %d, want the one slot of the single node 0", g.imsi, g.ind)
		}
		prev, seen := last[g.imsi]
		if seen && g.seq <= prev {
			t.Errorf("%s: SEQ %d after %d: repeated or backwards", g.imsi, g.seq, prev)
		}
		if seen && g.seq >= prev+guardJump {
			jumps[g.imsi]++
			if g.at.Before(killed) {
				t.Errorf("%s: SEQ jumped from %d to %d before the kill", g.imsi, prev, g.seq)
			}
			if firstAfter.IsZero() || g.at.Before(firstAfter) {
				firstAfter = g.at
			}
		}
		if jumps[g.imsi] > 0 {
			after++
		} else {
			before++
		}
		last[g.imsi] = g.seq
	}
	for _, imsi := range imsis {
		if jumps[imsi] != 1 {
			t.Errorf("%s: %d failover jumps, want 1", imsi, jumps[imsi])
		}
	}
	if before == 0 || after == 0 {
		t.Fatalf("reservations before the kill %d, after %d: the drill did not run on both primaries", before, after)
	}
	verdict := "no repeat, none backwards"
	if t.Failed() {
		verdict = "FAILED"
	}
	report := fmt.Sprintf("drill sentinel failover: %d reservations on the old primary, %d on the new one, %d failed while no primary answered; "+
		"Sentinel switched %v after the kill, first reservation on the new primary %v after it; SQN check: %d SEQs, %s",
		before, after, errs, switched.Sub(killed).Round(time.Millisecond), firstAfter.Sub(killed).Round(time.Millisecond), len(grants), verdict)
	t.Log(report)
	// A drill run's report (see docs/FAILOVER.md).
	if path := os.Getenv("RCMHSS_DRILL_REPORT"); path != "" {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatalf("drill report: %v", err)
		}
		defer f.Close()
		if _, err := fmt.Fprintf(f, "%s %s\n%s\n\n", time.Now().UTC().Format(time.RFC3339), t.Name(), report); err != nil {
			t.Errorf("drill report: %v", err)
		}
	}
}
