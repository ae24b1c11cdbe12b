package loadgen

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// testReport runs a short mixed run against a baseline answering with an
// experimental result, so that every output has several kinds and codes.
func testReport(t *testing.T) *Report {
	t.Helper()
	_, target := startBaseline(t, BaselineConfig{Result: Result{Code: 5001, Experimental: true}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := Run(ctx, Config{Targets: []string{target}, Conns: 2, Window: 8, Requests: 3000,
		Mix: Mix{{ScenarioAIR, 3}, {ScenarioULR, 1}, {ScenarioECR, 1}, {ScenarioMAR, 1}}, ResyncShare: 0.1,
		IMSIs: testRange(t, "001010000000001", 100), ProgressInterval: 10 * time.Millisecond}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestReportAccounting(t *testing.T) {
	rep := testReport(t)
	total := uint64(0)
	for _, k := range rep.Kinds {
		if k.Count(Result{Code: 5001, Experimental: true}) != k.Answered || k.Answered != k.Sent {
			t.Fatalf("%s: sent %d answered %d results %v", k.Kind, k.Sent, k.Answered, k.Results)
		}
		total += k.Answered
	}
	air, _ := rep.Kind("AIR")
	resync, _ := rep.Kind("AIR-resync")
	ulr, _ := rep.Kind("ULR")
	// 3000 scenarios, air:ulr:ecr:mar = 3:1:1:1, a tenth of the AIRs resync.
	if air.Sent+resync.Sent != 1500 || resync.Sent != 150 || ulr.Sent != 500 {
		t.Fatalf("AIR %d, AIR-resync %d, ULR %d; want 1350, 150, 500", air.Sent, resync.Sent, ulr.Sent)
	}
	if total != 3000 || rep.Errors != 3000 || rep.Answered != 3000 {
		t.Fatalf("answered %d, errors %d", rep.Answered, rep.Errors)
	}
}

func TestJSONAndCSVParse(t *testing.T) {
	rep := testReport(t)
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Answered != rep.Answered || len(back.Kinds) != len(rep.Kinds) || back.Latency.P99 != rep.Latency.P99 ||
		len(back.Timeline) == 0 || len(back.Distribution) == 0 {
		t.Fatalf("json round trip lost data: %+v", back)
	}
	var sum uint64
	for _, b := range back.Distribution {
		sum += b.Count
	}
	if sum != rep.Answered {
		t.Fatalf("distribution holds %d values, want %d", sum, rep.Answered)
	}

	buf.Reset()
	if err := rep.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if rows[0][0] != "kind" || rows[0][3] != "count" {
		t.Fatalf("csv header %v", rows[0])
	}
	var n uint64
	for _, r := range rows[1:] {
		if len(r) != len(rows[0]) || r[1] != "5001" || r[2] != "true" {
			t.Fatalf("csv row %v", r)
		}
		c, err := strconv.ParseUint(r[3], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		if r[0] != "attach" {
			n += c
		}
	}
	if n != rep.Answered {
		t.Fatalf("csv counts sum to %d, want %d", n, rep.Answered)
	}
}

func TestHTMLReport(t *testing.T) {
	rep := testReport(t)
	var buf bytes.Buffer
	if err := rep.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var svgs int
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "svg":
				svgs++
			case "script", "link", "img", "iframe":
				t.Errorf("report has a <%s>: it must be self-contained", n.Data)
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if svgs != 3 {
		t.Fatalf("%d svg charts, want 3 (throughput, latency over time, distribution)", svgs)
	}
	// Each chart is well-formed XML on its own, with drawn data.
	rest := page
	for range 3 {
		i, j := strings.Index(rest, "<svg"), strings.Index(rest, "</svg>")
		chart := rest[i : j+len("</svg>")]
		rest = rest[j+len("</svg>"):]
		dec := xml.NewDecoder(strings.NewReader(chart))
		dec.Strict = true
		shapes := 0
		for {
			tok, err := dec.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("svg not well-formed: %v", err)
			}
			if se, ok := tok.(xml.StartElement); ok && (se.Name.Local == "polyline" || se.Name.Local == "rect") {
				shapes++
			}
		}
		if shapes < 3 {
			t.Fatalf("svg with %d shapes: nothing drawn", shapes)
		}
	}
	if strings.Contains(page, "https://") || strings.Contains(page, "src=") {
		t.Fatal("report references an external resource")
	}
}
