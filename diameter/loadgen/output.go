package loadgen

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
)

// WriteJSON writes the report as one indented JSON document.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return fmt.Errorf("loadgen: write json: %w", err)
	}
	return nil
}

// WriteCSV writes one row per request kind and result, then one row per
// kind with no result for its timeouts, with the kind's latency summary:
// the shape a spreadsheet pivots on.
func (rep *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	_ = cw.Write([]string{"kind", "result_code", "experimental", "count", "sent", "answered", "timeouts",
		"p50_us", "p90_us", "p99_us", "p99_9_us", "max_us", "elapsed_s", "throughput_per_s"})
	row := func(k KindReport, code, exp, count string) {
		l := k.Latency
		_ = cw.Write([]string{k.Kind, code, exp, count, u(k.Sent), u(k.Answered), u(k.Timeouts),
			f(l.P50), f(l.P90), f(l.P99), f(l.P999), f(l.Max), strconv.FormatFloat(rep.Elapsed, 'f', 3, 64),
			f(rep.Throughput)})
	}
	for _, k := range rep.Kinds {
		for _, rc := range k.Results {
			row(k, u(uint64(rc.Code)), strconv.FormatBool(rc.Experimental), u(rc.Count))
		}
		if k.Timeouts > 0 {
			row(k, "timeout", "false", u(k.Timeouts))
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("loadgen: write csv: %w", err)
	}
	return nil
}
