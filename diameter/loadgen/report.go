package loadgen

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"time"
)

// Report is the outcome of a run; it is what the JSON output holds.
type Report struct {
	Started  time.Time `json:"started"`
	Elapsed  float64   `json:"elapsed_s"`
	Mode     string    `json:"mode"` // "open" or "closed"
	Rate     float64   `json:"rate,omitempty"`
	Ramp     string    `json:"ramp,omitempty"`
	Conns    int       `json:"conns"`
	Window   int       `json:"window"`
	Mix      string    `json:"mix"`
	Targets  []string  `json:"targets"`
	Timeout  float64   `json:"timeout_s"`
	IMSIs    uint64    `json:"imsi_count"`
	Resync   float64   `json:"resync_share,omitempty"`
	Schedule uint64    `json:"scheduled"` // open loop: requests the schedule held
	// Issued counts scenarios started; Sent counts requests on the wire
	// (an attach sends two).
	Issued   uint64 `json:"issued"`
	Sent     uint64 `json:"sent"`
	Answered uint64 `json:"answered"`
	Errors   uint64 `json:"errors"` // answers whose result is not 2xxx
	Timeouts uint64 `json:"timeouts"`
	Stale    uint64 `json:"stale_answers"`
	// Unanswered were still in flight when the run was cut short (Ctrl-C).
	Unanswered  uint64  `json:"unanswered"`
	MaxInFlight int64   `json:"max_in_flight"`
	Throughput  float64 `json:"throughput_per_s"`
	// Latency is over every request (not the attach transactions), from its
	// intended send time.
	Latency  Latency      `json:"latency"`
	Kinds    []KindReport `json:"kinds"`
	Timeline []Tick       `json:"timeline"`
	// Distribution is the latency histogram of every request.
	Distribution []BucketJSON `json:"distribution"`

	hist     Histogram
	lastTick Tick
}

// Latency summarises a histogram, in microseconds.
type Latency struct {
	Count uint64  `json:"count"`
	Min   float64 `json:"min_us"`
	Mean  float64 `json:"mean_us"`
	P50   float64 `json:"p50_us"`
	P90   float64 `json:"p90_us"`
	P99   float64 `json:"p99_us"`
	P999  float64 `json:"p99_9_us"`
	Max   float64 `json:"max_us"`
}

func us(d time.Duration) float64 { return float64(d) / 1e3 }

func summarise(h *Histogram) Latency {
	return Latency{Count: h.Count(), Min: us(h.Min()), Mean: us(h.Mean()), P50: us(h.Quantile(0.5)),
		P90: us(h.Quantile(0.9)), P99: us(h.Quantile(0.99)), P999: us(h.Quantile(0.999)), Max: us(h.Max())}
}

// KindReport is one request kind (AIR, ULR, ..., and the attach
// transaction).
type KindReport struct {
	Kind     string        `json:"kind"`
	Sent     uint64        `json:"sent"`
	Answered uint64        `json:"answered"`
	Timeouts uint64        `json:"timeouts"`
	Results  []ResultCount `json:"results"`
	Latency  Latency       `json:"latency"`
}

// ResultCount is how many answers carried one result.
type ResultCount struct {
	Result
	Count uint64 `json:"count"`
}

// Tick is one progress interval.
type Tick struct {
	T        float64 `json:"t_s"`
	Answered uint64  `json:"answered"`
	Errors   uint64  `json:"errors"` // non-2xxx answers and timeouts
	Rate     float64 `json:"rate_per_s"`
	InFlight int64   `json:"in_flight"`
	P50      float64 `json:"p50_us"`
	P99      float64 `json:"p99_us"`
	Max      float64 `json:"max_us"`
}

// BucketJSON is one histogram bucket, in microseconds.
type BucketJSON struct {
	Low   float64 `json:"low_us"`
	High  float64 `json:"high_us"`
	Count uint64  `json:"count"`
}

func newReport(cfg Config, start time.Time) *Report {
	rep := &Report{Started: start.UTC(), Mode: "closed", Conns: cfg.Conns, Window: cfg.Window,
		Mix: cfg.Mix.String(), Targets: cfg.Targets, Timeout: cfg.Timeout.Seconds(), IMSIs: cfg.IMSIs.Count,
		Resync: cfg.ResyncShare}
	if cfg.OpenLoop() {
		rep.Mode, rep.Rate = "open", cfg.Rate
		if cfg.Ramp != nil {
			rep.Ramp = fmt.Sprintf("%g:%g:%s", cfg.Ramp.From, cfg.Ramp.To, cfg.Ramp.Over)
		}
	}
	return rep
}

// tick closes one progress interval of length dt ending at t.
func (rep *Report) tick(clients []*client, t, dt time.Duration, inFlight int64) {
	var h Histogram
	var errs uint64
	for _, c := range clients {
		c.mu.Lock()
		h.Merge(&c.stats.tick)
		c.stats.tick.Reset()
		errs += c.stats.tickErrors
		c.stats.tickErrors = 0
		c.mu.Unlock()
	}
	tk := Tick{T: t.Seconds(), Answered: h.Count(), Errors: errs, InFlight: inFlight,
		P50: us(h.Quantile(0.5)), P99: us(h.Quantile(0.99)), Max: us(h.Max())}
	if dt > 0 {
		tk.Rate = float64(h.Count()) / dt.Seconds()
	}
	rep.Timeline = append(rep.Timeline, tk)
	rep.lastTick = tk
}

// writeProgress prints the last interval on one line.
func (rep *Report) writeProgress(w io.Writer, terminal bool) {
	tk := rep.lastTick
	end := "\n"
	if terminal {
		end = "\x1b[K\r"
	}
	fmt.Fprintf(w, "%6.1fs  %9.0f/s  errors %-7d in-flight %-6d p50 %8.1fus  p99 %8.1fus%s",
		tk.T, tk.Rate, tk.Errors, tk.InFlight, tk.P50, tk.P99, end)
}

func (rep *Report) finish(clients []*client, elapsed time.Duration, r *runner) {
	rep.Elapsed = elapsed.Seconds()
	if r.cfg.OpenLoop() {
		rep.Schedule = r.total
	}
	rep.Issued = r.issued.Load()
	rep.MaxInFlight = r.maxIn.Load()
	var kinds [numKinds]kindStats
	for k := range kinds {
		kinds[k].hist = new(Histogram)
	}
	for _, c := range clients {
		c.mu.Lock()
		rep.Stale += c.stats.stale
		for k := range numKinds {
			src, dst := &c.stats.kinds[k], &kinds[k]
			dst.sent += src.sent
			dst.answered += src.answered
			dst.timeouts += src.timeouts
			if src.hist != nil {
				dst.hist.Merge(src.hist)
			}
			for res, n := range src.results {
				if dst.results == nil {
					dst.results = make(map[Result]uint64)
				}
				dst.results[res] += n
			}
		}
		c.mu.Unlock()
	}
	for k := range numKinds {
		ks := &kinds[k]
		if ks.sent == 0 && ks.answered == 0 && ks.timeouts == 0 {
			if kind(k) != kindAttach || ks.hist.Count() == 0 {
				continue
			}
		}
		kr := KindReport{Kind: kind(k).String(), Sent: ks.sent, Answered: ks.answered, Timeouts: ks.timeouts,
			Latency: summarise(ks.hist)}
		for res, n := range ks.results {
			kr.Results = append(kr.Results, ResultCount{Result: res, Count: n})
		}
		slices.SortFunc(kr.Results, func(a, b ResultCount) int {
			return cmp.Or(cmp.Compare(a.Code, b.Code), cmp.Compare(boolInt(a.Experimental), boolInt(b.Experimental)))
		})
		rep.Kinds = append(rep.Kinds, kr)
		if kind(k) == kindAttach {
			continue
		}
		rep.Sent += ks.sent
		rep.Answered += ks.answered
		rep.Timeouts += ks.timeouts
		for res, n := range ks.results {
			if !res.Success() {
				rep.Errors += n
			}
		}
		rep.hist.Merge(ks.hist)
	}
	rep.Unanswered = rep.Sent - rep.Answered - rep.Timeouts
	rep.Latency = summarise(&rep.hist)
	if rep.Elapsed > 0 {
		rep.Throughput = float64(rep.Answered) / rep.Elapsed
	}
	for _, b := range rep.hist.Buckets() {
		rep.Distribution = append(rep.Distribution, BucketJSON{Low: us(b.Low), High: us(b.High), Count: b.Count})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Kind returns the report of one kind by name ("AIR", "attach"), if any.
func (rep *Report) Kind(name string) (KindReport, bool) {
	for _, k := range rep.Kinds {
		if k.Kind == name {
			return k, true
		}
	}
	return KindReport{}, false
}

// Count returns how many answers of kind carried result r.
func (k KindReport) Count(r Result) uint64 {
	for _, rc := range k.Results {
		if rc.Result == r {
			return rc.Count
		}
	}
	return 0
}

// WriteSummary prints the human summary of a run.
func (rep *Report) WriteSummary(w io.Writer) error {
	pw := &errWriter{w: w}
	pw.printf("diamload: %s loop, %d conn(s) x window %d, mix %s, %d IMSIs, targets %v\n",
		rep.Mode, rep.Conns, rep.Window, rep.Mix, rep.IMSIs, rep.Targets)
	if rep.Mode == "open" {
		pw.printf("  scheduled %d (rate %g/s%s)\n", rep.Schedule, rep.Rate, rampNote(rep.Ramp))
	}
	pw.printf("  elapsed %.3fs  issued %d  sent %d  answered %d  errors %d  timeouts %d  stale %d  max in flight %d\n",
		rep.Elapsed, rep.Issued, rep.Sent, rep.Answered, rep.Errors, rep.Timeouts, rep.Stale, rep.MaxInFlight)
	if rep.Unanswered > 0 {
		pw.printf("  unanswered %d (the run was cut short)\n", rep.Unanswered)
	}
	pw.printf("  throughput %.0f answers/s\n", rep.Throughput)
	pw.printf("  latency (us, from intended send time): %s\n", latencyLine(rep.Latency))
	for _, k := range rep.Kinds {
		pw.printf("  %-10s sent %-9d answered %-9d timeouts %-6d %s\n", k.Kind, k.Sent, k.Answered, k.Timeouts, latencyLine(k.Latency))
		for _, rc := range k.Results {
			pw.printf("  %10s result %-10s %d\n", "", rc.Result, rc.Count)
		}
	}
	return pw.err
}

func rampNote(r string) string {
	if r == "" {
		return ""
	}
	return ", ramp " + r
}

func latencyLine(l Latency) string {
	return fmt.Sprintf("p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f", l.P50, l.P90, l.P99, l.P999, l.Max)
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
