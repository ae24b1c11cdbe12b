package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/rcmhss/rcmhss/hss"
)

const instrumentationName = "github.com/rcmhss/rcmhss/cmd/rcmhss"

// telemetry owns the meter and tracer providers of the process. Metrics go to
// a private Prometheus registry served on /metrics; traces go to an OTLP/gRPC
// collector when one is configured and nowhere otherwise.
type telemetry struct {
	registry *prometheus.Registry
	mp       *sdkmetric.MeterProvider
	tp       trace.TracerProvider
	shutdown []func(context.Context) error
}

func newTelemetry(ctx context.Context, c TelemetrySection, version string, log *slog.Logger) (*telemetry, error) {
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		semconv.ServiceName(c.ServiceName), semconv.ServiceVersion(version)))
	if err != nil {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, fmt.Errorf("telemetry: prometheus exporter: %w", err)
	}
	t := &telemetry{registry: reg}
	t.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp), sdkmetric.WithResource(res))
	t.shutdown = append(t.shutdown, t.mp.Shutdown)
	if c.OTLPEndpoint == "" {
		t.tp = noop.NewTracerProvider()
		return t, nil
	}
	// The collector is normally a sidecar or on the lab network: plaintext gRPC.
	te, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(c.OTLPEndpoint), otlptracegrpc.WithInsecure())
	if err != nil {
		return nil, errors.Join(fmt.Errorf("telemetry: otlp exporter: %w", err), t.mp.Shutdown(ctx))
	}
	stp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(te), sdktrace.WithResource(res))
	t.tp = stp
	t.shutdown = append(t.shutdown, stp.Shutdown)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	log.Info("telemetry: exporting traces over OTLP/gRPC", "endpoint", c.OTLPEndpoint)
	return t, nil
}

// metricsHandler serves the private registry in the Prometheus text format.
func (t *telemetry) metricsHandler() http.Handler {
	return promhttp.HandlerFor(t.registry, promhttp.HandlerOpts{Registry: t.registry})
}

// Shutdown flushes pending spans and stops the providers.
func (t *telemetry) Shutdown(ctx context.Context) error {
	var errs []error
	for i := len(t.shutdown) - 1; i >= 0; i-- {
		errs = append(errs, t.shutdown[i](ctx))
	}
	return errors.Join(errs...)
}

// httpMetrics counts HTTP requests by route pattern and status. The route is
// the ServeMux pattern that matched ("GET /v1/subscribers/{imsi}"), never the
// raw path, so an IMSI never becomes a label value.
func httpMetrics(mp metric.MeterProvider, next http.Handler) (http.Handler, error) {
	m := mp.Meter(instrumentationName)
	requests, err := m.Int64Counter("http_server_requests",
		metric.WithDescription("HTTP requests served on the admin listener, by route and status."))
	if err != nil {
		return nil, err
	}
	duration, err := m.Float64Histogram("http_server_request_duration", metric.WithUnit("s"),
		metric.WithDescription("Time to serve an HTTP request on the admin listener, by route."),
		metric.WithExplicitBucketBoundaries(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
	if err != nil {
		return nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		// ServeMux records the matched pattern on the request it was given.
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		attrs := metric.WithAttributes(attribute.String("route", route), attribute.String("status", strconv.Itoa(sw.status)))
		requests.Add(r.Context(), 1, attrs)
		duration.Record(r.Context(), time.Since(start).Seconds(), metric.WithAttributes(attribute.String("route", route)))
	}), nil
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush on the real writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// vectorMetrics is the backend the S6a and SWx plugins talk to: the HSS
// itself, with the vectors it hands out counted by kind. hss is pure domain and
// has no instruments of its own.
type vectorMetrics struct {
	*hss.HSS
	issued metric.Int64Counter
}

func newVectorMetrics(mp metric.MeterProvider, h *hss.HSS) (*vectorMetrics, error) {
	c, err := mp.Meter(instrumentationName).Int64Counter("hss_vectors_issued",
		metric.WithDescription("Authentication vectors issued, by kind (eutran, utran, geran, eap_aka, eap_aka_prime)."))
	if err != nil {
		return nil, err
	}
	return &vectorMetrics{HSS: h, issued: c}, nil
}

var (
	attrEUTRAN = metric.WithAttributes(attribute.String("kind", "eutran"))
	attrUTRAN  = metric.WithAttributes(attribute.String("kind", "utran"))
	attrGERAN  = metric.WithAttributes(attribute.String("kind", "geran"))
	attrEAP    = metric.WithAttributes(attribute.String("kind", "eap_aka"))
	attrEAPP   = metric.WithAttributes(attribute.String("kind", "eap_aka_prime"))
)

// AuthenticationInfo counts what the HSS returned.
func (v *vectorMetrics) AuthenticationInfo(ctx context.Context, req hss.AuthInfoRequest) (hss.AuthInfo, error) {
	info, err := v.HSS.AuthenticationInfo(ctx, req)
	if err == nil {
		v.issued.Add(ctx, int64(len(info.EUTRAN)), attrEUTRAN)
		v.issued.Add(ctx, int64(len(info.UTRAN)), attrUTRAN)
		v.issued.Add(ctx, int64(len(info.GERAN)), attrGERAN)
	}
	return info, err
}

// Non3GPPAuthentication counts the EAP-AKA and EAP-AKA' vectors of SWx MARs.
func (v *vectorMetrics) Non3GPPAuthentication(ctx context.Context, req hss.Non3GPPAuthRequest) ([]hss.EAPVector, error) {
	vs, err := v.HSS.Non3GPPAuthentication(ctx, req)
	if err == nil {
		attr := attrEAP
		if req.Prime {
			attr = attrEAPP
		}
		v.issued.Add(ctx, int64(len(vs)), attr)
	}
	return vs, err
}
