package integration

import (
	"context"
	"fmt"
	"io"
	"net"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
)

// tcpCutter is a TCP proxy to one address whose link can be cut (every
// connection closed, new ones refused at once) and restored.
type tcpCutter struct {
	Addr   string
	target string
	l      net.Listener

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]bool
}

func startCutter(t testing.TB, target string) *tcpCutter {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &tcpCutter{Addr: l.Addr().String(), target: target, l: l, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { l.Close(); c.Cut() })
	go func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			go c.serve(in)
		}
	}()
	return c
}

func (c *tcpCutter) serve(in net.Conn) {
	c.mu.Lock()
	if c.cut {
		c.mu.Unlock()
		in.Close()
		return
	}
	c.mu.Unlock()
	out, err := net.Dial("tcp", c.target)
	if err != nil {
		in.Close()
		return
	}
	c.mu.Lock()
	if c.cut {
		c.mu.Unlock()
		in.Close()
		out.Close()
		return
	}
	c.conns[in], c.conns[out] = true, true
	c.mu.Unlock()
	go func() { _, _ = io.Copy(out, in); out.Close(); in.Close() }()
	_, _ = io.Copy(in, out)
	in.Close()
	out.Close()
}

// Cut closes every proxied connection and refuses new ones.
func (c *tcpCutter) Cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cut = true
	for conn := range c.conns {
		conn.Close()
	}
	c.conns = map[net.Conn]bool{}
}

// Restore accepts connections again.
func (c *tcpCutter) Restore() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cut = false
}

// TestDrillRedisCutNode is the "node cut off from Redis" drill of issue 8:
// node B reaches Redis through a proxy that the drill cuts for 6 s under
// load, then restores. B cannot reserve SQNs, so it answers the AIRs routed
// to it with 3004 DIAMETER_TOO_BUSY (the diameter package's code for a store
// outage), and the relay's rt_busypeers resends each to node A (RFC 6733
// 7.1.3): the MME sees every request end in 2001, node A answers them, no
// SQN is issued twice or goes backwards, and B serves again once the link
// is back.
func TestDrillRedisCutNode(t *testing.T) {
	if testing.Short() {
		t.Skip("failover drill: skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var cutter *tcpCutter
	d := drillNodes(ctx, t, map[string]string{"RCMHSS_REDIS_READ_TIMEOUT": "500ms", "RCMHSS_REDIS_DIAL_TIMEOUT": "500ms"},
		nil, func(redisAddr string) map[string]string {
			cutter = startCutter(t, redisAddr)
			return map[string]string{"RCMHSS_REDIS_ADDR": cutter.Addr}
		})
	nodes, hosts, peer := d.Nodes, d.Hosts, d.Peer
	subs := provisionDrill(ctx, t, nodes[0], 32)

	load := &drillLoad{Peer: peer, Subs: subs, Workers: 8, Vectors: 1,
		AttemptTimeout: 3 * time.Second, MaxAttempts: 6, IndBits: 5}
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	wait := load.Start(runCtx)
	pause(ctx, t, 4*time.Second)
	cutAt := time.Now()
	cutter.Cut()
	pause(ctx, t, 6*time.Second)
	restoredAt := time.Now()
	cutter.Restore()
	pause(ctx, t, 5*time.Second)
	stopRun()
	reqs := wait()

	rep := summarise("node B cut off from Redis for 6 s", reqs, load.IndBits, cutAt)
	var firstFail, lastFail, backAt time.Time
	for _, r := range reqs {
		switch {
		case r.Final() == diam.Success:
			if r.Node == hosts[1] && r.Start.After(restoredAt) && (backAt.IsZero() || r.End.Before(backAt)) {
				backAt = r.End
			}
		default:
			if firstFail.IsZero() || r.End.Before(firstFail) {
				firstFail = r.End
			}
			if r.End.After(lastFail) {
				lastFail = r.End
			}
			t.Errorf("request for %s ended %d from %q: the relay should have resent B's 3004 to A", r.IMSI, r.Final(), r.Node)
		}
	}
	// B's refusals, counted by B itself: the cut did reach it.
	if n := busyAnswers(t, nodes[1]); n == 0 {
		t.Error("node B answered no request with 3004 while it was cut off from Redis")
	} else {
		appendDrillReport(t, fmt.Sprintf("  node B answered %d AIRs with 3004 while cut off; the relay resent each to A", n))
		t.Logf("node B answered %d AIRs with 3004 while cut off; the relay resent each to A", n)
	}
	if !firstFail.IsZero() {
		rep.Detect = firstFail.Sub(cutAt)
	}
	if !backAt.IsZero() {
		rep.Recover = backAt.Sub(cutAt)
	}
	failures := "no request failed at the MME"
	if !lastFail.IsZero() {
		failures = fmt.Sprintf("last failure %v after the cut", lastFail.Sub(cutAt).Round(time.Millisecond))
	}
	text := rep.String() + fmt.Sprintf("\n  recover = first 2001 from B after the link was restored (restored %v after the cut); %s",
		restoredAt.Sub(cutAt).Round(time.Millisecond), failures)
	t.Log(text)
	appendDrillReport(t, text)
	if rep.Unanswered != 0 {
		t.Errorf("%d requests got no answer", rep.Unanswered)
	}
	for _, p := range rep.SQNProblems {
		t.Error(p)
	}
	if backAt.IsZero() {
		t.Error("node B answered no AIR after its Redis link was restored")
	}
	var aDuring int
	for _, r := range reqs {
		if r.Node == hosts[0] && r.Final() == diam.Success && r.Start.After(cutAt) && r.End.Before(restoredAt) {
			aDuring++
		}
	}
	if aDuring == 0 {
		t.Error("node A answered nothing while B was cut off")
	}
}

var busyAnswersRE = regexp.MustCompile(`(?m)^diameter_requests_total\{[^}]*command="AIR"[^}]*result="3004"[^}]*\} (\d+)$`)

// busyAnswers is how many AIRs node n answered with 3004, from its /metrics.
func busyAnswers(t testing.TB, n *Node) int {
	return sumMetric(t, n, busyAnswersRE)
}
