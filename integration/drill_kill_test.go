package integration

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/rcmhss/rcmhss/diameter/diametertest"
	"github.com/rcmhss/rcmhss/hss/redisstore/redistest"
)

// drillSetup is what drillNodes started.
type drillSetup struct {
	Nodes []*Node
	Hosts []string            // the nodes' Origin-Hosts
	Env   []map[string]string // each node's RCMHSS_* environment, to restart it
	Relay *fdRelay
	Peer  *diametertest.Peer // the MME, connected to the relay
	Redis *redistest.Server  // the redis-server drillNodes started
}

// drillNodes starts a redis-server and two rcmhss nodes on it, each with its
// own Origin-Host, and a freeDiameter relay in front of them; env adds
// RCMHSS_* overrides to both nodes, perNode[i] to node i only (applied with
// the redis-server's address available as redisAddr).
func drillNodes(ctx context.Context, t *testing.T, env map[string]string, perNode ...func(redisAddr string) map[string]string) drillSetup {
	t.Helper()
	// Everything the drill needs, before anything starts: outside CI a
	// missing program skips, in CI it fails (lookTool).
	lookTool(t, "freeDiameterd", "freediameter")
	lookTool(t, "redis-server", "redis-server")
	fdExtensionDir(t)

	rs := redistest.StartWithArgs(t)
	hosts := []string{"hss-a.rcmhss.localdomain", "hss-b.rcmhss.localdomain"}
	var nodes []*Node
	var envs []map[string]string
	var targets []relayTarget
	for _, h := range hosts {
		e := map[string]string{
			"RCMHSS_REDIS_ADDR":           rs.Addr,
			"RCMHSS_REDIS_KEY_PREFIX":     "drill:",
			"RCMHSS_DIAMETER_ORIGIN_HOST": h,
		}
		for k, v := range env {
			e[k] = v
		}
		if i := len(nodes); i < len(perNode) && perNode[i] != nil {
			for k, v := range perNode[i](rs.Addr) {
				e[k] = v
			}
		}
		n := StartNode(t, NodeOptions{Env: e})
		nodes = append(nodes, n)
		envs = append(envs, e)
		targets = append(targets, relayTarget{Host: h, Port: nodePort(t, n)})
	}
	const mme = "mme.drill.test"
	relay := startRelay(ctx, t, relayOptions{Identity: "dra.drill.test", Clients: []string{mme}, Targets: targets, Tw: 6})
	peer := diametertest.NewPeer(t, relay.Addr, "tcp", diametertest.PeerOptions{
		OriginHost: mme, OriginRealm: "drill.test",
		Apps: []diametertest.AppSpec{{ID: s6aAppID, Vendor: vendor3GPP}},
	})
	return drillSetup{Nodes: nodes, Hosts: hosts, Env: envs, Relay: relay, Peer: peer, Redis: rs}
}

// TestDrillKillNode is the CI failover drill of issue 8: two rcmhss nodes on
// one Redis behind a freeDiameter relay, a closed loop of AIRs from an MME,
// and kill -9 of one node in the middle. Every request must end in 2001
// (answered by the surviving node if need be: freeDiameter resends the
// requests pending at the dead node, and the MME retransmits with the T flag
// what the relay answered 3002), and the SQNs recovered from the AIAs with
// the subscribers' keys must never repeat nor go backwards per IND slot.
func TestDrillKillNode(t *testing.T) {
	if testing.Short() {
		t.Skip("failover drill: skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := drillNodes(ctx, t, nil)
	nodes, hosts, relay, peer := d.Nodes, d.Hosts, d.Relay, d.Peer
	subs := provisionDrill(ctx, t, nodes[0], 32)

	load := &drillLoad{Peer: peer, Subs: subs, Workers: 8, Vectors: 1,
		AttemptTimeout: 3 * time.Second, MaxAttempts: 6, IndBits: 5}
	const runFor, killAt = 16 * time.Second, 6 * time.Second
	runCtx, stop := context.WithTimeout(ctx, runFor)
	defer stop()
	wait := load.Start(runCtx)

	pause(ctx, t, killAt)
	detected := relay.watchLog(ctx, relayLeftOpen(hosts[1]))
	killed := time.Now()
	if err := nodes[1].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %s: %v", hosts[1], err)
	}
	reqs := wait()
	rep := summarise("kill -9 one of two nodes", reqs, load.IndBits, killed)
	select {
	case at, ok := <-detected:
		if !ok {
			t.Errorf("the relay never noticed that %s died", hosts[1])
		} else {
			rep.Detect = at.Sub(killed)
		}
	case <-ctx.Done():
		t.Errorf("the relay never noticed that %s died", hosts[1])
	}
	rep.check(t)
	// Both nodes served before the kill (the relay balanced the load, so
	// the kill hit a node with traffic), only the survivor after it.
	before, after := map[string]int{}, map[string]int{}
	for _, r := range reqs {
		switch {
		case r.End.Before(killed):
			before[r.Node]++
		case r.Start.After(killed.Add(rep.Detect)):
			after[r.Node]++
		}
	}
	t.Logf("answers before the kill %v, after its detection %v", before, after)
	if before[hosts[0]] == 0 || before[hosts[1]] == 0 {
		t.Errorf("before the kill the relay did not use both nodes: %v", before)
	}
	if after[hosts[1]] != 0 || after[hosts[0]] == 0 {
		t.Errorf("after the kill the answers did not all come from %s: %v", hosts[0], after)
	}
	if nodes[0].Running() != true {
		t.Errorf("the surviving node exited:\n%s", nodes[0].Stderr())
	}
}
