package loadgen

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func TestClosedLoopAgainstBaseline(t *testing.T) {
	b, target := startBaseline(t, BaselineConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const conns, window, n = 2, 16, 20000
	rep, err := Run(ctx, Config{
		Targets: []string{target}, Conns: conns, Window: window, Requests: n,
		IMSIs: testRange(t, "001010000000001", 1000),
	}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	air, ok := rep.Kind("AIR")
	if !ok {
		t.Fatalf("no AIR in report: %+v", rep.Kinds)
	}
	if rep.Issued != n || air.Sent != n || air.Answered != n || air.Count(Result{Code: 2001}) != n {
		t.Fatalf("issued %d sent %d answered %d 2001s %d, want %d each", rep.Issued, air.Sent, air.Answered,
			air.Count(Result{Code: 2001}), n)
	}
	if got := b.Answered(); got != n {
		t.Fatalf("baseline answered %d, want %d", got, n)
	}
	if rep.Stale != 0 {
		t.Fatalf("%d stale answers (the DPA of the end of the run must not count)", rep.Stale)
	}
	if rep.MaxInFlight > conns*window {
		t.Fatalf("max in flight %d exceeds conns*window %d", rep.MaxInFlight, conns*window)
	}
	if rep.MaxInFlight < 2 {
		t.Fatalf("max in flight %d: the window was not used", rep.MaxInFlight)
	}
	if rep.Latency.Count != n || rep.Latency.P50 <= 0 || rep.Latency.Max < rep.Latency.P99 {
		t.Fatalf("latency summary %+v", rep.Latency)
	}
}

// TestCancelEndsRun plays Ctrl-C: a run meant to last an hour ends when its
// context is cancelled, with a report of what was done.
func TestCancelEndsRun(t *testing.T) {
	b, target := startBaseline(t, BaselineConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		deadline := time.Now().Add(20 * time.Second)
		for b.Answered() < 1000 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	rep, err := Run(ctx, Config{Targets: []string{target}, Conns: 1, Window: 8, Duration: time.Hour,
		IMSIs: testRange(t, "001010000000001", 10)}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Answered < 1000 || rep.Answered+rep.Timeouts+rep.Unanswered != rep.Sent || rep.Sent-rep.Answered > 8 {
		t.Fatalf("sent %d answered %d timeouts %d", rep.Sent, rep.Answered, rep.Timeouts)
	}
}

func TestProgressLine(t *testing.T) {
	_, target := startBaseline(t, BaselineConfig{Result: Result{Code: 5001, Experimental: true}})
	var buf bytes.Buffer
	rep, err := Run(context.Background(), Config{Targets: []string{target}, Requests: 2000, Progress: &buf,
		IMSIs: testRange(t, "001010000000001", 10)}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	last := lines[len(lines)-1]
	for _, want := range []string{"/s", "errors ", "p50 ", "p99 "} {
		if !strings.Contains(last, want) {
			t.Fatalf("progress line %q lacks %q", last, want)
		}
	}
	var errs uint64
	for _, tk := range rep.Timeline {
		errs += tk.Errors
	}
	if len(lines) != len(rep.Timeline) || errs != 2000 {
		t.Fatalf("%d progress lines for %d ticks, %d errors in the timeline (want 2000)", len(lines), len(rep.Timeline), errs)
	}
}
