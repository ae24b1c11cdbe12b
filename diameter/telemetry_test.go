package diameter_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/diameter/diametertest"
)

func TestTelemetry(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	srv, err := diameter.NewServer(diameter.Config{
		Listen: []string{"tcp://127.0.0.1:0"}, OriginHost: testHost, OriginRealm: realm, AllowLoopback: true,
	}, diameter.WithLogger(quietLogger()), diameter.WithMeterProvider(mp), diameter.WithTracerProvider(tp))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Register(&testApp{}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	p := diametertest.NewPeer(t, srv.Addrs()[0].String(), "tcp", diametertest.PeerOptions{
		OriginHost: "mme1.test", Apps: []diametertest.AppSpec{{ID: s6aID, Vendor: 10415}}})
	if _, err := p.Do(ctxT(t), air(p)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Do(ctxT(t), p.NewRequest(cmdAIR, 16777265, realm)); err != nil {
		t.Fatal(err)
	}
	clr := diam.NewRequest(cmdCLR, s6aID, nil)
	clr.NewAVP(avp.SessionID, avp.Mbit, 0, datatype.UTF8String("hss;1"))
	if _, err := srv.Send(ctxT(t), "mme1.test", clr); err != nil {
		t.Fatal(err)
	}

	var server, client sdktrace.ReadOnlySpan
	for _, s := range spans.Ended() {
		switch {
		case s.Name() == "S6a/AIR" && s.SpanKind() == trace.SpanKindServer:
			server = s
		case s.Name() == "S6a/CLR" && s.SpanKind() == trace.SpanKindClient:
			client = s
		}
		for _, a := range s.Attributes() {
			if strings.Contains(a.Value.Emit(), "001010000000001") {
				t.Errorf("span %s carries the IMSI in %s", s.Name(), a.Key)
			}
		}
	}
	if server == nil || client == nil {
		t.Fatalf("spans S6a/AIR (server) and S6a/CLR (client) not both recorded: %v", spans.Ended())
	}
	if !hasAttr(server.Attributes(), "diameter.result_code", attribute.Int64Value(2001)) {
		t.Fatalf("server span attributes %v", server.Attributes())
	}
	if !hasAttr(client.Attributes(), "diameter.result_code", attribute.Int64Value(2001)) {
		t.Fatalf("client span attributes %v", client.Attributes())
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			got[m.Name] = m
		}
	}
	requests := got["diameter_requests_total"].Data.(metricdata.Sum[int64])
	want := map[string]int64{"S6a/AIR/2001": 1, "unknown/AIR/3007": 1}
	for _, dp := range requests.DataPoints {
		app, _ := dp.Attributes.Value("app")
		cmd, _ := dp.Attributes.Value("command")
		res, _ := dp.Attributes.Value("result")
		k := app.AsString() + "/" + cmd.AsString() + "/" + res.AsString()
		if want[k] != dp.Value {
			t.Errorf("diameter_requests_total{%s} = %d, want %d", k, dp.Value, want[k])
		}
		delete(want, k)
	}
	if len(want) != 0 {
		t.Errorf("missing request series %v", want)
	}
	hist := got["diameter_request_duration_seconds"].Data.(metricdata.Histogram[float64])
	var n uint64
	for _, dp := range hist.DataPoints {
		n += dp.Count
		if dp.Bounds[0] >= 0.001 {
			t.Errorf("first bucket %v is not sub-millisecond", dp.Bounds[0])
		}
	}
	if n != 2 {
		t.Errorf("duration histogram count %d, want 2", n)
	}
	peers := got["diameter_peers"].Data.(metricdata.Sum[int64])
	if len(peers.DataPoints) != 1 || peers.DataPoints[0].Value != 1 {
		t.Errorf("diameter_peers = %+v, want 1", peers.DataPoints)
	}
	if _, ok := got["diameter_client_request_duration_seconds"]; !ok {
		t.Error("no client duration histogram")
	}
}

func hasAttr(attrs []attribute.KeyValue, key string, v attribute.Value) bool {
	for _, a := range attrs {
		if string(a.Key) == key && a.Value == v {
			return true
		}
	}
	return false
}
