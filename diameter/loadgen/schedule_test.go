package loadgen

import (
	"context"
	"math"
	"testing"
	"time"
)

func TestScheduleCounts(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    schedule
		d    time.Duration
		want float64
	}{
		{"constant 1000/s x 10s", newSchedule(1000, nil), 10 * time.Second, 10000},
		{"constant 333.3/s x 3s", newSchedule(333.3, nil), 3 * time.Second, 999.9},
		{"ramp 0..1000 over 10s", newSchedule(0, &Ramp{From: 0, To: 1000, Over: 10 * time.Second}), 10 * time.Second, 5000},
		{"ramp 100..300 over 2s then 3s at 300", newSchedule(0, &Ramp{From: 100, To: 300, Over: 2 * time.Second}), 5 * time.Second, 400 + 900},
		{"ramp down 1000..200 over 4s", newSchedule(0, &Ramp{From: 1000, To: 200, Over: 4 * time.Second}), 4 * time.Second, 2400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := float64(tc.s.count(tc.d))
			if math.Abs(got-tc.want) > math.Max(1, tc.want*0.01) {
				t.Fatalf("count %g, want %g within 1%%", got, tc.want)
			}
			// Intended times increase and the count is exact: the last
			// request is before d and the next is not.
			n := tc.s.count(tc.d)
			if tc.s.at(n-1) >= tc.d || tc.s.at(n) < tc.d {
				t.Fatalf("count %d: at(n-1)=%v at(n)=%v around %v", n, tc.s.at(n-1), tc.s.at(n), tc.d)
			}
			for k := uint64(1); k < n; k += max(1, n/1000) {
				if tc.s.at(k) < tc.s.at(k-1) {
					t.Fatalf("at(%d)=%v before at(%d)=%v", k, tc.s.at(k), k-1, tc.s.at(k-1))
				}
			}
		})
	}
}

// TestOpenLoopRateAgainstBaseline sends at a constant rate and along a ramp
// to the baseline responder and checks the counts: what the schedule held,
// what was issued, what the responder answered.
func TestOpenLoopRateAgainstBaseline(t *testing.T) {
	b, target := startBaseline(t, BaselineConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name string
		rate float64
		ramp *Ramp
		d    time.Duration
		want float64
	}{
		{"constant 3000/s for 1s", 3000, nil, time.Second, 3000},
		{"ramp 0..4000 over 1s", 0, &Ramp{To: 4000, Over: time.Second}, time.Second, 2000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := b.Answered()
			rep, err := Run(ctx, Config{Targets: []string{target}, Conns: 3, Window: 256, Rate: tc.rate, Ramp: tc.ramp,
				Duration: tc.d, IMSIs: testRange(t, "001010000000001", 500)}, testLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(float64(rep.Schedule)-tc.want) > tc.want*0.01 {
				t.Fatalf("scheduled %d, want %g within 1%%", rep.Schedule, tc.want)
			}
			if rep.Issued != rep.Schedule || rep.Answered != rep.Issued || b.Answered()-before != rep.Issued {
				t.Fatalf("scheduled %d issued %d answered %d, responder answered %d", rep.Schedule, rep.Issued,
					rep.Answered, b.Answered()-before)
			}
			if rep.Mode != "open" || rep.Latency.Count != rep.Answered {
				t.Fatalf("mode %s, latency count %d", rep.Mode, rep.Latency.Count)
			}
		})
	}
}

func TestParseRamp(t *testing.T) {
	r, err := ParseRamp("1000:50000:30s")
	if err != nil || r.From != 1000 || r.To != 50000 || r.Over != 30*time.Second {
		t.Fatalf("ParseRamp = %+v, %v", r, err)
	}
	for _, bad := range []string{"", "1:2", "a:2:1s", "1:0:1s", "-1:5:1s", "1:5:0s", "1:5:x"} {
		if _, err := ParseRamp(bad); err == nil {
			t.Errorf("ParseRamp(%q) accepted", bad)
		}
	}
}

// TestOpenLoopAttach runs attaches at a rate: every ULR is sent from the
// open-loop sender between intended times.
func TestOpenLoopAttach(t *testing.T) {
	_, target := startBaseline(t, BaselineConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := Run(ctx, Config{Targets: []string{target}, Conns: 2, Window: 64, Rate: 1000, Duration: 500 * time.Millisecond,
		Mix: Mix{{ScenarioAttach, 1}}, IMSIs: testRange(t, "001010000000001", 100)}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	at, _ := rep.Kind("attach")
	ulr, _ := rep.Kind("ULR")
	if rep.Schedule != 500 || at.Sent != 500 || at.Count(Result{Code: 2001}) != 500 || ulr.Answered != 500 {
		t.Fatalf("scheduled %d, attach sent %d results %v, ULR answered %d", rep.Schedule, at.Sent, at.Results, ulr.Answered)
	}
}
