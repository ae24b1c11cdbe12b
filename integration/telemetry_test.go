package integration

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/rcmhss/rcmhss/diameter/diametertest"
)

// collector is a real OTLP/gRPC trace receiver that keeps what it is sent.
type collector struct {
	coltrace.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans []*tracepb.Span
	raw   bytes.Buffer
}

func (c *collector) Export(_ context.Context, req *coltrace.ExportTraceServiceRequest) (*coltrace.ExportTraceServiceResponse, error) {
	b, err := proto.Marshal(req)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.raw.Write(b)
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			c.spans = append(c.spans, ss.Spans...)
		}
	}
	return &coltrace.ExportTraceServiceResponse{}, nil
}

// startCollector serves a collector on a loopback port for the test's
// lifetime and returns it with its address (telemetry.otlp_endpoint).
func startCollector(t *testing.T) (*collector, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	col := &collector{}
	gs := grpc.NewServer()
	coltrace.RegisterTraceServiceServer(gs, col)
	go func() { _ = gs.Serve(ln) }()
	t.Cleanup(gs.Stop)
	return col, ln.Addr().String()
}

// exported returns the bytes the collector received and the names of the spans.
func (c *collector) exported() ([]byte, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	names := make([]string, 0, len(c.spans))
	for _, s := range c.spans {
		names = append(names, s.Name)
	}
	return bytes.Clone(c.raw.Bytes()), names
}

// TestTracesExportedOverOTLP: with telemetry.otlp_endpoint set, the span of
// an S6a AIR reaches an OTLP collector (flushed at shutdown at the latest)
// with its result code, and no exported byte holds the subscriber's keys.
func TestTracesExportedOverOTLP(t *testing.T) {
	col, endpoint := startCollector(t)
	n := StartNode(t, NodeOptions{Env: map[string]string{"RCMHSS_TELEMETRY_OTLP_ENDPOINT": endpoint}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	k, opc := randomHex(t), randomHex(t)
	body := fmt.Sprintf(`{"imsi":"001010000000066","k":%q,"opc":%q}`, k, opc)
	if r, err := n.Do(ctx, "POST", "/v1/subscribers", "application/json", []byte(body)); err != nil || r.Status != http.StatusCreated {
		t.Fatalf("create: %v %d %s", err, r.Status, r.Body)
	}
	peer := diametertest.NewPeer(t, n.DiameterAddrs[0][len("tcp://"):], "tcp", diametertest.PeerOptions{
		OriginHost: "mme.test", OriginRealm: "test",
		Apps: []diametertest.AppSpec{{ID: s6aAppID, Vendor: vendor3GPP}},
	})
	aia, err := peer.Do(ctx, newAIR(peer, "001010000000066", 2))
	if err != nil || diametertest.ResultCode(aia) != diam.Success {
		t.Fatalf("AIR: %v %v", err, aia)
	}
	peer.Close()
	if err := n.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}

	col.mu.Lock()
	defer col.mu.Unlock()
	var air *tracepb.Span
	for _, s := range col.spans {
		if s.Name == "S6a/AIR" {
			air = s
		}
	}
	if air == nil {
		names := []string{}
		for _, s := range col.spans {
			names = append(names, s.Name)
		}
		t.Fatalf("no S6a/AIR span among %d exported: %v", len(col.spans), names)
	}
	if air.Kind != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("AIR span kind %v, want server", air.Kind)
	}
	gotCode := false
	for _, a := range air.Attributes {
		gotCode = gotCode || a.Value.GetIntValue() == 2001
	}
	if !gotCode {
		t.Errorf("AIR span has no result code 2001 attribute: %v", air.Attributes)
	}
	for _, secret := range []string{k, opc} {
		raw, _ := hex.DecodeString(secret)
		if bytes.Contains(col.raw.Bytes(), raw) || bytes.Contains(col.raw.Bytes(), []byte(secret)) {
			t.Error("key material in exported traces")
		}
	}
}
