package integration

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rcmhss/rcmhss/hss/redisstore/redistest"
)

// TestDrillSentinelNodes is the Redis primary failover drill of issue 8 on
// the real binaries: two rcmhss nodes reach Redis through a Sentinel
// (redis.master_name), behind the freeDiameter relay, under a closed loop
// of AIRs; the primary is killed and Sentinel promotes its replica. While no
// primary answers, both nodes answer 3004 (store outage) and the MME retries
// after a pause, as it would retry an attach. Every request must end in
// 2001, and the SQNs recovered from the AIAs must never repeat nor go
// backwards: the writes the old primary had not replicated are lost, and the
// failover guard makes each subscriber's first reservation on the new
// primary jump past them.
func TestDrillSentinelNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("failover drill: skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var (
		once     sync.Once
		replica  *redistest.Server
		sentinel *redistest.Server
	)
	sentinelEnv := func(primary string) map[string]string {
		once.Do(func() {
			// A replica's first sync is diskless and waits
			// repl-diskless-sync-delay (5 s by default) for more replicas:
			// a primary killed before that would leave an empty replica.
			p := redis.NewClient(&redis.Options{Addr: primary})
			defer p.Close()
			if err := p.ConfigSet(ctx, "repl-diskless-sync-delay", "0").Err(); err != nil {
				t.Fatal(err)
			}
			host, port, _ := net.SplitHostPort(primary)
			replica = redistest.StartWithArgs(t, "--replicaof", host, port)
			sentinel = redistest.StartSentinel(t, "drill", primary)
		})
		return map[string]string{"RCMHSS_REDIS_ADDR": sentinel.Addr, "RCMHSS_REDIS_MASTER_NAME": "drill"}
	}
	d := drillNodes(ctx, t, map[string]string{"RCMHSS_REDIS_READ_TIMEOUT": "500ms", "RCMHSS_REDIS_DIAL_TIMEOUT": "500ms"},
		sentinelEnv, sentinelEnv)
	nodes, peer := d.Nodes, d.Peer
	subs := provisionDrill(ctx, t, nodes[0], 32)
	// The drill is about the writes made under load that the replica may
	// miss, not about a replica that never synced: wait until it has
	// everything the primary has so far.
	if err := redistest.WaitReplicated(ctx, d.Redis.Addr, replica.Addr); err != nil {
		t.Fatal(err)
	}

	load := &drillLoad{Peer: peer, Subs: subs, Workers: 8, Vectors: 1,
		AttemptTimeout: 3 * time.Second, MaxAttempts: 100, IndBits: 5, BusyBackoff: 200 * time.Millisecond}
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	wait := load.Start(runCtx)
	pause(ctx, t, 4*time.Second)
	killed := time.Now()
	d.Redis.Stop()
	if err := redistest.WaitMaster(ctx, sentinel.Addr, "drill", replica.Addr); err != nil {
		t.Fatalf("Sentinel did not promote the replica: %v", err)
	}
	switched := time.Now()
	pause(ctx, t, 6*time.Second)
	stopRun()
	reqs := wait()

	rep := summarise("Redis primary killed, Sentinel failover, two rcmhss nodes", reqs, load.IndBits, killed)
	var firstAfter time.Time
	for _, r := range reqs {
		if r.Start.After(switched) && r.Final() == 2001 && (firstAfter.IsZero() || r.End.Before(firstAfter)) {
			firstAfter = r.End
		}
	}
	rep.Detect = switched.Sub(killed)
	if !firstAfter.IsZero() {
		rep.Recover = firstAfter.Sub(killed)
	}
	extra := fmt.Sprintf("  detect = Sentinel switched to the replica; recover = first 2001 to a request sent after the switch (%v after the kill)",
		rep.Recover.Round(time.Millisecond))
	t.Log(extra)
	appendDrillReport(t, extra)
	rep.check(t)
	if rep.Busy == 0 {
		t.Error("no request was answered 3004 while no primary answered: the drill did not hit the failover")
	}
	if firstAfter.IsZero() {
		t.Error("no AIR succeeded after the failover")
	}
	if t.Failed() {
		for i, n := range nodes {
			t.Logf("node %d log:\n%s", i, tail(n.Stdout()+n.Stderr(), 40))
		}
	}
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
