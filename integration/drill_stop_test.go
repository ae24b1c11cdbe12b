package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rcmhss/rcmhss/diameter/diametertest"
)

// TestDrillStopNode is the hung-node drill of issue 8: under a closed loop
// of AIRs through the freeDiameter relay, one of two nodes is frozen with
// SIGSTOP for 20 s, then resumed with SIGCONT. The relay's watchdog (RFC
// 3539, Tw 6 s) declares it suspect and the MME retransmits with the T flag
// what stays unanswered, so every request still ends in 2001. The requests
// queued at the frozen node run late: each finds its request claimed in
// Redis by the retransmission the other node served and changes no state
// (Redis's SEQ_HE ends equal to the highest SEQ the MME received, for every
// IMSI), and the independent SQN check shows no SQN issued twice or going
// backwards. On the server side, a node with a
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
	wait := load.Start(runCtx)

	proc := nodes[1].cmd.Process
	pause(ctx, t, stopAt)
	detected := relay.watchLog(ctx, relayLeftOpen(hosts[1]))
	stopped := time.Now()
	if err := proc.Signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("SIGSTOP %s: %v", hosts[1], err)
	}
	// Resume the node even if the test fails before SIGCONT, so that the
	// harness's SIGTERM can stop it.
	t.Cleanup(func() { _ = proc.Signal(syscall.SIGCONT) })
	pause(ctx, t, frozen)
	if err := proc.Signal(syscall.SIGCONT); err != nil {
		t.Fatalf("SIGCONT %s: %v", hosts[1], err)
	}
	resumed := time.Now()
	reqs := wait()

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
	// The stale requests changed no state. Node B ran, after SIGCONT, the
	// copies that sat in its socket buffer; the MME had meanwhile
	// retransmitted them (T flag) and node A answered. Each copy found its
	// request claimed in Redis (Origin-Host + End-to-End id recorded with the
	// reservation) and reserved nothing: for every IMSI the SEQ_HE that
	// Redis holds is exactly the highest SEQ the MME received, so no
	// reservation exists that did not reach the MME.
	issuedB := vectorsIssued(t, nodes[1])
	replayedB := reservationsReplayed(t, nodes[1])
	if replayedB == 0 {
		t.Errorf("%s ran no stale copy after SIGCONT: the drill did not freeze it with requests queued", hosts[1])
	}
	maxSEQ := map[string]uint64{}
	for _, r := range reqs {
		for _, sqn := range r.SQNs {
			maxSEQ[r.IMSI] = max(maxSEQ[r.IMSI], sqn>>load.IndBits)
		}
	}
	var moved []string
	for _, sub := range subs {
		var view struct {
			SQN uint64 `json:"sqn"`
		}
		resp, err := nodes[0].Do(ctx, "GET", "/v1/subscribers/"+sub.IMSI, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(resp.Body, &view); err != nil || resp.Status != http.StatusOK {
			t.Fatalf("GET subscriber %s: %d %v", sub.IMSI, resp.Status, err)
		}
		if seqHE := view.SQN >> load.IndBits; seqHE != maxSEQ[sub.IMSI] {
			moved = append(moved, fmt.Sprintf("%s: SEQ_HE %d, highest SEQ the MME received %d", sub.IMSI, seqHE, maxSEQ[sub.IMSI]))
		}
	}
	if len(moved) > 0 {
		t.Errorf("reservations that never reached the MME (stale requests changed state):\n%s", strings.Join(moved, "\n"))
	}
	appendDrillReport(t, fmt.Sprintf("  stale copies run by %s after SIGCONT: %d, each found its request already handled (no SQN reserved); IMSIs whose SEQ_HE passed the highest SEQ delivered: %d of %d",
		hosts[1], replayedB, len(moved), len(subs)))
	t.Logf("%s issued %d vectors, %d reached the MME; %d stale copies after SIGCONT found their request handled and reserved nothing; SEQ_HE = highest delivered SEQ for %d of %d IMSIs",
		hosts[1], issuedB, fromB, replayedB, len(subs)-len(moved), len(subs))

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

var reservationsReplayedRE = regexp.MustCompile(`(?m)^hss_sqn_reservations_replayed_total\{[^}]*\} (\d+)$`)

// reservationsReplayed sums the node's SQN reservations that found their
// request already handled, from /metrics.
func reservationsReplayed(t testing.TB, n *Node) int {
	return sumMetric(t, n, reservationsReplayedRE)
}

// sumMetric adds up the values of every /metrics line of n that re matches
// (its first group is the value).
func sumMetric(t testing.TB, n *Node, re *regexp.Regexp) int {
	t.Helper()
	total := 0
	for _, m := range re.FindAllStringSubmatch(httpGet(t, n.AdminURL+"/metrics"), -1) {
		v, _ := strconv.Atoi(m[1])
		total += v
	}
	return total
}

var vectorsIssuedRE = regexp.MustCompile(`(?m)^hss_vectors_issued_total\{[^}]*kind="eutran"[^}]*\} (\d+)$`)

// vectorsIssued reads the node's count of E-UTRAN vectors from /metrics.
func vectorsIssued(t testing.TB, n *Node) int {
	return sumMetric(t, n, vectorsIssuedRE)
}
