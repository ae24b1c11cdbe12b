package integration

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"
)

// TestDrillRestartNode is the node-lifecycle drill of issue 8: under a
// closed loop of AIRs through the freeDiameter relay, one of two nodes is
// stopped gracefully (SIGTERM: it drains and sends DPR, RFC 6733 5.4) and
// started again on the same port. Every request ends in 2001, the relay
// reconnects to the restarted node and routes to it again, and the SQN check
// holds across both lives of the node.
func TestDrillRestartNode(t *testing.T) {
	if testing.Short() {
		t.Skip("failover drill: skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	d := drillNodes(ctx, t, nil)
	nodes, hosts, relay, peer := d.Nodes, d.Hosts, d.Relay, d.Peer
	subs := provisionDrill(ctx, t, nodes[0], 32)

	load := &drillLoad{Peer: peer, Subs: subs, Workers: 8, Vectors: 1,
		AttemptTimeout: 3 * time.Second, MaxAttempts: 6, IndBits: 5}
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	wait := load.Start(runCtx)

	pause(ctx, t, 5*time.Second)
	port := nodePort(t, nodes[1])
	detected := relay.watchLog(ctx, relayLeftOpen(hosts[1]))
	stopping := time.Now()
	if err := nodes[1].Stop(); err != nil {
		t.Errorf("SIGTERM %s: %v", hosts[1], err)
	}
	stoppedIn := time.Since(stopping)
	// The same identity on the same port: the relay's ConnectPeer finds it.
	env := maps.Clone(d.Env[1])
	env["RCMHSS_DIAMETER_LISTEN"] = fmt.Sprintf("tcp://127.0.0.1:%d", port)
	restarted := StartNode(t, NodeOptions{Env: env})
	if err := relay.waitLog(ctx, relayOpened(hosts[1]), 2); err != nil {
		t.Fatalf("the relay did not reconnect to the restarted %s: %v", hosts[1], err)
	}
	reopened := time.Now()
	select {
	case <-time.After(5 * time.Second):
	case <-ctx.Done():
	}
	stopRun()
	reqs := wait()

	rep := summarise("SIGTERM and restart one of two nodes", reqs, load.IndBits, stopping)
	if at, ok := <-detected; ok {
		rep.Detect = at.Sub(stopping)
	} else {
		t.Errorf("the relay never noticed that %s stopped", hosts[1])
	}
	rep.check(t)
	var after int
	for _, r := range reqs {
		if r.Start.After(reopened) && r.Node == hosts[1] {
			after++
		}
	}
	line := fmt.Sprintf("  graceful stop took %v; relay reconnected %v after SIGTERM; %d answers from the restarted node",
		stoppedIn.Round(time.Millisecond), reopened.Sub(stopping).Round(time.Millisecond), after)
	t.Log(line)
	appendDrillReport(t, line)
	if after == 0 {
		t.Errorf("the restarted %s answered nothing after the relay reconnected", hosts[1])
	}
	if !restarted.Running() {
		t.Errorf("the restarted node exited:\n%s", restarted.Stderr())
	}
}
