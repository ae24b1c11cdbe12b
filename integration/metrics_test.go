package integration

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/rcmhss/rcmhss/diameter/diametertest"
)

// TestMetricsLint scrapes a node after S6a and admin traffic and lints every
// metric the process exports (the CoreDNS meta-test): the exposition parses,
// names are Prometheus snake_case, counters end in _total, histograms carry
// their unit, every family has help text, and no label value looks like an
// IMSI or a key.
func TestMetricsLint(t *testing.T) {
	n := StartNode(t, NodeOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const imsi = "001010000000044"
	body := `{"imsi":"` + imsi + `","k":"465b5ce8b199b49faa5f0a2ee238a6bc","opc":"cd63cb71954a9f4e48a5994e37a02baf"}`
	if r, err := n.Do(ctx, "POST", "/v1/subscribers", "application/json", []byte(body)); err != nil || r.Status != http.StatusCreated {
		t.Fatalf("create: %v %d %s", err, r.Status, r.Body)
	}
	if r, err := n.Do(ctx, "GET", "/v1/subscribers/"+imsi, "", nil); err != nil || r.Status != http.StatusOK {
		t.Fatalf("get: %v %d", err, r.Status)
	}
	if r, err := n.Do(ctx, "GET", "/v1/subscribers/001010000000999", "", nil); err != nil || r.Status != http.StatusNotFound {
		t.Fatalf("get unknown: %v %d", err, r.Status)
	}
	peer := diametertest.NewPeer(t, strings.TrimPrefix(n.DiameterAddrs[0], "tcp://"), "tcp", diametertest.PeerOptions{
		OriginHost: "mme.test", OriginRealm: "test",
		Apps: []diametertest.AppSpec{{ID: s6aAppID, Vendor: vendor3GPP}},
	})
	for _, u := range []string{imsi, "001010000000999"} {
		if _, err := peer.Do(ctx, newAIR(peer, u, 1)); err != nil {
			t.Fatal(err)
		}
	}

	text := httpGet(t, n.AdminURL+"/metrics")
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	name := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	secretish := regexp.MustCompile(`\d{6,15}|[0-9a-fA-F]{32}`)
	for fname, f := range families {
		if !name.MatchString(fname) {
			t.Errorf("%s: not snake_case", fname)
		}
		if f.GetHelp() == "" {
			t.Errorf("%s: no help text", fname)
		}
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			if !strings.HasSuffix(fname, "_total") {
				t.Errorf("%s: counter without _total", fname)
			}
		case dto.MetricType_HISTOGRAM:
			if !strings.HasSuffix(fname, "_seconds") && !strings.HasSuffix(fname, "_bytes") {
				t.Errorf("%s: histogram without a unit suffix", fname)
			}
		}
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if !name.MatchString(l.GetName()) {
					t.Errorf("%s: label %q not snake_case", fname, l.GetName())
				}
				if secretish.MatchString(l.GetValue()) && l.GetName() != "result_code" && l.GetName() != "code" {
					t.Errorf("%s: label %s=%q looks like an IMSI or a key", fname, l.GetName(), l.GetValue())
				}
			}
		}
	}
	for _, want := range []string{"diameter_requests_total", "diameter_request_duration_seconds", "hss_vectors_issued_total", "http_server_requests_total", "http_server_request_duration_seconds"} {
		if _, ok := families[want]; !ok {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
