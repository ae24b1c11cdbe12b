package loadgen

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Ramp raises (or lowers) the rate linearly from From to To requests per
// second over Over, then holds To.
type Ramp struct {
	From, To float64
	Over     time.Duration
}

// ParseRamp parses "from:to:duration", e.g. "1000:50000:30s".
func ParseRamp(s string) (Ramp, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return Ramp{}, fmt.Errorf("loadgen: ramp %q: want from:to:duration", s)
	}
	from, err1 := strconv.ParseFloat(parts[0], 64)
	to, err2 := strconv.ParseFloat(parts[1], 64)
	over, err3 := time.ParseDuration(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return Ramp{}, fmt.Errorf("loadgen: ramp %q: want numbers from:to and a duration", s)
	}
	r := Ramp{From: from, To: to, Over: over}
	if from < 0 || to <= 0 || over <= 0 || math.IsInf(from, 0) || math.IsInf(to, 0) {
		return Ramp{}, fmt.Errorf("loadgen: ramp %q: want from >= 0, to > 0 and a positive duration", s)
	}
	return r, nil
}

// schedule gives the intended send time of the k-th request (k from 0) of an
// open-loop run. Times come from the rate alone, never from when earlier
// requests actually went out, so that a generator or server falling behind
// shows as latency instead of silently lowering the offered load.
type schedule struct {
	from, to float64 // requests per second
	over     float64 // seconds
	// a is half the acceleration (requests/s^2 / 2); nOver is the number of
	// requests intended during the ramp.
	a, nOver float64
}

func newSchedule(rate float64, ramp *Ramp) schedule {
	if ramp == nil {
		return schedule{from: rate, to: rate}
	}
	s := schedule{from: ramp.From, to: ramp.To, over: ramp.Over.Seconds()}
	s.a = (s.to - s.from) / (2 * s.over)
	s.nOver = s.from*s.over + s.a*s.over*s.over
	return s
}

// at returns the intended time of request k since the start of the run.
func (s schedule) at(k uint64) time.Duration {
	if k == 0 {
		return 0
	}
	n := float64(k)
	var t float64
	if s.over == 0 || n >= s.nOver {
		// Constant rate (after the ramp, if any).
		t = s.over + (n-s.nOver)/s.to
		if s.over == 0 {
			t = n / s.to
		}
	} else {
		// Solve from*t + a*t^2 = n in the form that stays exact when a is
		// zero or tiny: t = 2n / (from + sqrt(from^2 + 4an)).
		t = 2 * n / (s.from + math.Sqrt(s.from*s.from+4*s.a*n))
	}
	return time.Duration(t * 1e9)
}

// count returns how many requests are intended strictly before d.
func (s schedule) count(d time.Duration) uint64 {
	// Integrate the rate, then correct the rounding by checking at().
	secs := d.Seconds()
	var n float64
	if s.over == 0 {
		n = s.to * secs
	} else if secs <= s.over {
		n = s.from*secs + s.a*secs*secs
	} else {
		n = s.nOver + (secs-s.over)*s.to
	}
	k := uint64(math.Max(0, math.Ceil(n)))
	for k > 0 && s.at(k-1) >= d {
		k--
	}
	for s.at(k) < d {
		k++
	}
	return k
}
