package diameter_test

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/rcmhss/rcmhss/diameter"
)

// TestPrometheusMetricNames checks the names a Prometheus scrape shows,
// through the same exporter cmd/rcmhss uses: the exporter adds suffixes
// from the unit and kind, and the names must come out exactly as
// documented, not as diameter_requests_total_total.
func TestPrometheusMetricNames(t *testing.T) {
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo())
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	t.Cleanup(func() { mp.Shutdown(context.Background()) })
	srv, err := diameter.NewServer(diameter.Config{
		Listen: []string{"tcp://127.0.0.1:0"}, OriginHost: testHost, OriginRealm: realm, AllowLoopback: true,
	}, diameter.WithLogger(quietLogger()), diameter.WithMeterProvider(mp))
	if err != nil {
		t.Fatal(err)
	}
	srv.Register(&testApp{})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	p := s6aPeer(t, &fixture{srv: srv, addr: srv.Addrs()[0].String()}, "mme1.test")
	if _, err := p.Do(ctxT(t), air(p)); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	got := map[string]bool{}
	for _, mf := range mfs {
		names = append(names, mf.GetName())
		got[mf.GetName()] = true
	}
	sort.Strings(names)
	for _, want := range []string{"diameter_requests_total", "diameter_request_duration_seconds", "diameter_peers"} {
		if !got[want] {
			t.Errorf("metric %s missing from the scrape: %v", want, names)
		}
	}
}
