package integration

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/rcmhss/rcmhss/diameter/diametertest"
)

// TestDrillStopNode is the hung-node drill of issue 8: under a closed loop
// of AIRs through the freeDiameter relay, one of two nodes is frozen with
// SIGSTOP for 20 s, then resumed with SIGCONT. The relay's watchdog (RFC
// 3539, Tw 6 s) declares it suspect and the MME retransmits with the T flag
// what stays unanswered, so every request still ends in 2001; the requests
// queued at the frozen node run late, and the independent SQN check shows
// that neither they nor the retransmissions served by the other node issue
// an SQN twice or make one go backwards. On the server side, a node with a
// 6 s watchdog closes a peer that stops answering DWRs (RFC 3539 3.4.1).
func TestDrillStopNode(t *testing.T) {
	if testing.Short() {
		t.Skip("failover drill: skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	d := drillNodes(ctx, t, map[string]string{"RCMHSS_DIAMETER_WATCHDOG_INTERVAL": "6s"})
	nodes, hosts, relay, peer := d.Nodes, d.Hosts, d.Relay, d.Peer
	subs := provisionDrill(ctx, t, nodes[0], 32)

	// A peer of node A that never answers a DWR: the node must find out.
	mute := diametertest.NewPeer(t, "127.0.0.1:"+strconv.Itoa(nodePort(t, nodes[0])), "tcp", diametertest.PeerOptions{
		OriginHost: "mute.drill.test", OriginRealm: "drill.test", NoWatchdogAnswer: true,
		Apps: []diametertest.AppSpec{{ID: s6aAppID, Vendor: vendor3GPP}},
	})
	muteSince := time.Now()
	muteClosed := make(chan time.Duration, 1)
	go func() {
		select {
		case <-mute.Done():
			muteClosed <- time.Since(muteSince)
		case <-ctx.Done():
		}
	}()

	load := &drillLoad{Peer: peer, Subs: subs, Workers: 8, Vectors: 1,
		AttemptTimeout: 3 * time.Second, MaxAttempts: 10, IndBits: 5}
	const runFor, stopAt, frozen = 32 * time.Second, 5 * time.Second, 20 * time.Second
	runCtx, stopRun := context.WithTimeout(ctx, runFor)
	defer stopRun()
	done := make(chan []drillRequest, 1)
	go func() { done <- load.Run(runCtx) }()

	proc := nodes[1].cmd.Process
	var stopped time.Time
	var detected <-chan time.Time
	select {
	case <-time.After(stopAt):
		detected = relay.watchLog(ctx, relayLeftOpen(hosts[1]))
		stopped = time.Now()
		if err := proc.Signal(syscall.SIGSTOP); err != nil {
			t.Fatalf("SIGSTOP %s: %v", hosts[1], err)
		}
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	// Resume the node even if the test fails before SIGCONT, so that the
	// harness's SIGTERM can stop it.
	t.Cleanup(func() { _ = proc.Signal(syscall.SIGCONT) })
	select {
	case <-time.After(frozen):
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	if err := proc.Signal(syscall.SIGCONT); err != nil {
		t.Fatalf("SIGCONT %s: %v", hosts[1], err)
	}
	resumed := time.Now()
	reqs := <-done

	rep := summarise("SIGSTOP one of two nodes for 20 s", reqs, load.IndBits, stopped)
	select {
	case at, ok := <-detected:
		if ok {
			rep.Detect = at.Sub(stopped)
		} else {
			t.Errorf("the relay never noticed that %s hung", hosts[1])
		}
	case <-ctx.Done():
		t.Errorf("the relay never noticed that %s hung", hosts[1])
	}
	rep.check(t)
	if m := relayLeftOpen(hosts[1]).FindStringSubmatch(relay.Log()); m != nil {
		t.Logf("relay: %s left STATE_OPEN for %s", hosts[1], m[1])
	}

	// What the frozen node did with the requests queued at it: every vector
	// it issued (its own counter) minus the ones that reached the MME.
	var fromB, fromBDuring int
	for _, r := range reqs {
		if r.Node == hosts[1] {
			fromB++
			// Sent once the signal has surely taken effect (answers B
			// wrote just before it may arrive just after).
			if r.Start.After(stopped.Add(100*time.Millisecond)) && r.End.Before(resumed) {
				fromBDuring++
			}
		}
	}
	if fromBDuring != 0 {
		t.Errorf("%d requests sent while %s was stopped were answered by it before SIGCONT", fromBDuring, hosts[1])
	}
	issuedB := vectorsIssued(t, nodes[1])
	appendDrillReport(t, fmt.Sprintf("  stale requests run by %s after SIGCONT: %d", hosts[1], issuedB-fromB))
	t.Logf("%s issued %d vectors, %d reached the MME: %d stale requests ran after SIGCONT and were never delivered (gaps in SEQ, no SQN re-issued)",
		hosts[1], issuedB, fromB, issuedB-fromB)

	// Server side: node A closed the mute peer after its watchdog expired.
	select {
	case d := <-muteClosed:
		t.Logf("node A closed the peer that stopped answering DWRs %v after it connected", d.Round(100*time.Millisecond))
	case <-time.After(20 * time.Second):
		t.Errorf("node A did not close a peer that answers no DWR (Tw 6 s) within %v", time.Since(muteSince).Round(time.Second))
	}
	if mute.DWRCount() == 0 {
		t.Error("node A sent no DWR on the idle connection")
	}
	if err := waitNodeLog(ctx, nodes[0], func(rec map[string]any) bool {
		return rec["msg"] == "diameter: no DWA within the watchdog interval, closing peer" && rec["peer"] == "mute.drill.test"
	}); err != nil {
		t.Error(err)
	}
}

var vectorsIssuedRE = regexp.MustCompile(`(?m)^hss_vectors_issued_total\{[^}]*kind="eutran"[^}]*\} (\d+)$`)

// vectorsIssued reads the node's count of E-UTRAN vectors from /metrics.
func vectorsIssued(t testing.TB, n *Node) int {
	t.Helper()
	m := vectorsIssuedRE.FindStringSubmatch(httpGet(t, n.AdminURL+"/metrics"))
	if m == nil {
		return 0
	}
	v, _ := strconv.Atoi(m[1])
	return v
}
