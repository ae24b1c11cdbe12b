package loadgen

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
)

// WriteHTML writes a self-contained HTML report: run parameters, the
// summary, throughput and latency over time and the latency distribution,
// the charts as inline SVG, with no script and no external resource, so
// that it opens anywhere without network.
func (rep *Report) WriteHTML(w io.Writer) error {
	var b strings.Builder
	esc := html.EscapeString
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
	fmt.Fprintf(&b, "<title>diamload %s %s</title>\n", esc(rep.Mix), esc(rep.Started.Format("2006-01-02 15:04:05Z")))
	b.WriteString(`<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f3f3f3}
td.l,th.l{text-align:left}
svg{display:block;margin:1em 0}
</style>
</head>
<body>
`)
	fmt.Fprintf(&b, "<h1>diamload report</h1>\n<p>%s loop, %d connection(s) &times; window %d, mix <code>%s</code>, %d IMSIs, targets <code>%s</code>, started %s, %.3f s.</p>\n",
		esc(rep.Mode), rep.Conns, rep.Window, esc(rep.Mix), rep.IMSIs, esc(strings.Join(rep.Targets, " ")),
		esc(rep.Started.Format("2006-01-02 15:04:05Z")), rep.Elapsed)
	if rep.Mode == "open" {
		fmt.Fprintf(&b, "<p>Scheduled %d requests (rate %g/s%s). Latency is measured from each request's intended send time.</p>\n",
			rep.Schedule, rep.Rate, esc(rampNote(rep.Ramp)))
	}
	b.WriteString("<h2>Summary</h2>\n<table>\n<tr><th class=\"l\">issued</th><th>sent</th><th>answered</th><th>errors</th><th>timeouts</th><th>stale</th><th>max in flight</th><th>throughput /s</th></tr>\n")
	fmt.Fprintf(&b, "<tr><td class=\"l\">%d</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%.0f</td></tr>\n</table>\n",
		rep.Issued, rep.Sent, rep.Answered, rep.Errors, rep.Timeouts, rep.Stale, rep.MaxInFlight, rep.Throughput)
	b.WriteString("<table>\n<tr><th class=\"l\">kind</th><th>sent</th><th>answered</th><th>timeouts</th><th class=\"l\">results</th><th>p50 &micro;s</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th></tr>\n")
	for _, k := range rep.Kinds {
		var res []string
		for _, rc := range k.Results {
			res = append(res, fmt.Sprintf("%s: %d", rc.Result, rc.Count))
		}
		l := k.Latency
		fmt.Fprintf(&b, "<tr><td class=\"l\">%s</td><td>%d</td><td>%d</td><td>%d</td><td class=\"l\">%s</td><td>%.1f</td><td>%.1f</td><td>%.1f</td><td>%.1f</td><td>%.1f</td></tr>\n",
			esc(k.Kind), k.Sent, k.Answered, k.Timeouts, esc(strings.Join(res, ", ")), l.P50, l.P90, l.P99, l.P999, l.Max)
	}
	b.WriteString("</table>\n")

	xs := make([]float64, len(rep.Timeline))
	rate := make([]float64, len(rep.Timeline))
	errs := make([]float64, len(rep.Timeline))
	p50 := make([]float64, len(rep.Timeline))
	p99 := make([]float64, len(rep.Timeline))
	for i, tk := range rep.Timeline {
		xs[i], rate[i], p50[i], p99[i] = tk.T, tk.Rate, tk.P50, tk.P99
		errs[i] = float64(tk.Errors)
		if dt := tickWidth(rep.Timeline, i); dt > 0 {
			errs[i] = float64(tk.Errors) / dt
		}
	}
	b.WriteString("<h2>Throughput</h2>\n")
	b.WriteString(lineChart("throughput", "time (s)", "answers/s", xs, []series{
		{"answers/s", "#1f77b4", rate}, {"errors/s", "#d62728", errs}}))
	b.WriteString("<h2>Latency over time</h2>\n")
	b.WriteString(lineChart("latency", "time (s)", "latency (µs)", xs, []series{
		{"p50", "#2ca02c", p50}, {"p99", "#ff7f0e", p99}}))
	b.WriteString("<h2>Latency distribution</h2>\n")
	b.WriteString(distributionChart(rep.Distribution))
	b.WriteString("</body>\n</html>\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("loadgen: write html: %w", err)
	}
	return nil
}

func tickWidth(tl []Tick, i int) float64 {
	if i == 0 {
		return tl[0].T
	}
	return tl[i].T - tl[i-1].T
}

type series struct {
	name, color string
	ys          []float64
}

const (
	chartW, chartH         = 760.0, 280.0
	padL, padR, padT, padB = 70.0, 20.0, 20.0, 40.0
)

// niceMax rounds v up to 1, 2 or 5 times a power of ten.
func niceMax(v float64) float64 {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func svgOpen(b *strings.Builder, title string) {
	fmt.Fprintf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"%s\">\n",
		chartW, chartH, chartW, chartH, html.EscapeString(title))
	fmt.Fprintf(b, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"#999\"/>\n",
		padL, padT, chartW-padL-padR, chartH-padT-padB)
}

func lineChart(title, xLabel, yLabel string, xs []float64, ss []series) string {
	var b strings.Builder
	svgOpen(&b, title)
	xMax, yMax := 0.0, 0.0
	for _, x := range xs {
		xMax = max(xMax, x)
	}
	for _, s := range ss {
		for _, y := range s.ys {
			yMax = max(yMax, y)
		}
	}
	xMax, yMax = niceMax(xMax), niceMax(yMax)
	pw, ph := chartW-padL-padR, chartH-padT-padB
	px := func(x float64) float64 { return padL + x/xMax*pw }
	py := func(y float64) float64 { return padT + ph - y/yMax*ph }
	axes(&b, xMax, yMax, xLabel, yLabel, px, py)
	for i, s := range ss {
		var pts []string
		for j, y := range s.ys {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(xs[j]), py(y)))
		}
		fmt.Fprintf(&b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"%s\"/>\n", s.color, strings.Join(pts, " "))
		fmt.Fprintf(&b, "<text x=\"%.0f\" y=\"%.0f\" fill=\"%s\" font-size=\"12\">%s</text>\n",
			padL+10+float64(i)*110, padT+14, s.color, html.EscapeString(s.name))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func axes(b *strings.Builder, xMax, yMax float64, xLabel, yLabel string, px, py func(float64) float64) {
	for i := 0; i <= 5; i++ {
		x, y := xMax*float64(i)/5, yMax*float64(i)/5
		fmt.Fprintf(b, "<text x=\"%.1f\" y=\"%.0f\" font-size=\"11\" text-anchor=\"middle\">%s</text>\n", px(x), chartH-padB+15, fmtTick(x))
		fmt.Fprintf(b, "<text x=\"%.0f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%s</text>\n", padL-5, py(y)+4, fmtTick(y))
		fmt.Fprintf(b, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>\n", padL, chartW-padR, py(y), py(y))
	}
	fmt.Fprintf(b, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"12\" text-anchor=\"middle\">%s</text>\n",
		padL+(chartW-padL-padR)/2, chartH-5, html.EscapeString(xLabel))
	fmt.Fprintf(b, "<text x=\"14\" y=\"%.0f\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 14 %.0f)\">%s</text>\n",
		padT+(chartH-padT-padB)/2, padT+(chartH-padT-padB)/2, html.EscapeString(yLabel))
}

func fmtTick(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%gM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%gk", v/1e3)
	}
	return fmt.Sprintf("%g", v)
}

// distributionChart draws the share of requests per latency bin, the bins
// equally wide on a logarithmic latency axis.
func distributionChart(buckets []BucketJSON) string {
	var b strings.Builder
	svgOpen(&b, "latency distribution")
	if len(buckets) == 0 {
		b.WriteString("</svg>\n")
		return b.String()
	}
	lo := math.Max(buckets[0].Low, 1)
	hi := math.Max(buckets[len(buckets)-1].High, lo*10)
	lmin, lmax := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	const bins = 60
	counts := make([]float64, bins)
	total := 0.0
	for _, bk := range buckets {
		mid := math.Max((bk.Low+bk.High)/2, 1)
		i := int((math.Log10(mid) - lmin) / (lmax - lmin) * bins)
		counts[min(max(i, 0), bins-1)] += float64(bk.Count)
		total += float64(bk.Count)
	}
	yMax := 0.0
	for i := range counts {
		counts[i] = counts[i] / total * 100
		yMax = max(yMax, counts[i])
	}
	yMax = niceMax(yMax)
	pw, ph := chartW-padL-padR, chartH-padT-padB
	py := func(y float64) float64 { return padT + ph - y/yMax*ph }
	bw := pw / bins
	for i, c := range counts {
		if c == 0 {
			continue
		}
		fmt.Fprintf(&b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#1f77b4\"/>\n",
			padL+float64(i)*bw, py(c), bw*0.9, padT+ph-py(c))
	}
	for d := lmin; d <= lmax; d++ {
		x := padL + (d-lmin)/(lmax-lmin)*pw
		fmt.Fprintf(&b, "<text x=\"%.1f\" y=\"%.0f\" font-size=\"11\" text-anchor=\"middle\">%s</text>\n", x, chartH-padB+15, fmtTick(math.Pow(10, d)))
	}
	for i := 0; i <= 5; i++ {
		y := yMax * float64(i) / 5
		fmt.Fprintf(&b, "<text x=\"%.0f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%s</text>\n", padL-5, py(y)+4, fmtTick(y))
	}
	fmt.Fprintf(&b, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"12\" text-anchor=\"middle\">latency (µs, log scale)</text>\n", padL+pw/2, chartH-5)
	fmt.Fprintf(&b, "<text x=\"14\" y=\"%.0f\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 14 %.0f)\">%% of requests</text>\n", padT+ph/2, padT+ph/2)
	b.WriteString("</svg>\n")
	return b.String()
}
