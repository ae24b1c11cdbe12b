package diameter

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

const instrumentationName = "github.com/rcmhss/rcmhss/diameter"

// commandAbbrev names the request of each command code as 3GPP and the IETF
// write it (TS 29.272 7.2, TS 29.273 8.2, TS 29.272 S13, RFC 6733 3.1).
var commandAbbrev = map[uint32]string{
	257: "CER", 280: "DWR", 282: "DPR", 258: "RAR", 271: "ACR", 274: "ASR", 275: "STR",
	316: "ULR", 317: "CLR", 318: "AIR", 319: "IDR", 320: "DSR", 321: "PUR", 322: "RSR", 323: "NOR",
	301: "SAR", 303: "MAR", 304: "RTR", 305: "PPR",
	324: "ECR",
}

// CommandName returns the abbreviation of a request command ("AIR"), or
// "other" for a code outside the table: peers choose the code, and a metric
// label per value would let them create unbounded series.
func CommandName(code uint32) string {
	if n, ok := commandAbbrev[code]; ok {
		return n
	}
	return "other"
}

// telemetry holds the instruments of the server. Attributes are the
// application, the command and the result code: never an identity or key.
type telemetry struct {
	series sync.Map // seriesKey -> *series: options built once per label set
	starts sync.Map // seriesKey (result empty) -> []trace.SpanStartOption

	tracer trace.Tracer
	// tracing is false when the tracer provider is the noop one (no OTLP
	// endpoint): the server span is then not started at all, which saves
	// its context and name per request.
	tracing  bool
	requests metric.Int64Counter
	duration metric.Float64Histogram
	peers    metric.Int64UpDownCounter
	sent     metric.Int64Counter
	sentDur  metric.Float64Histogram
}

// durationBuckets covers a cache-hit answer (tens of µs) up to a request
// that waits on a slow store (seconds).
var durationBuckets = []float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

func newTelemetry(tp trace.TracerProvider, mp metric.MeterProvider) (*telemetry, error) {
	m := mp.Meter(instrumentationName)
	_, isNoop := tp.(tracenoop.TracerProvider)
	t := &telemetry{tracer: tp.Tracer(instrumentationName), tracing: !isNoop}
	var err error
	if t.requests, err = m.Int64Counter("diameter_requests_total",
		metric.WithDescription("Diameter requests answered by the server, by application, command and result code.")); err != nil {
		return nil, err
	}
	if t.duration, err = m.Float64Histogram("diameter_request_duration_seconds", metric.WithUnit("s"),
		metric.WithDescription("Time from reading a request to writing its answer."),
		metric.WithExplicitBucketBoundaries(durationBuckets...)); err != nil {
		return nil, err
	}
	if t.peers, err = m.Int64UpDownCounter("diameter_peers",
		metric.WithDescription("Peers in the open state (CER/CEA done).")); err != nil {
		return nil, err
	}
	if t.sent, err = m.Int64Counter("diameter_client_requests_total",
		metric.WithDescription("Requests the server originated (CLR, IDR, ...), by application, command and result code.")); err != nil {
		return nil, err
	}
	if t.sentDur, err = m.Float64Histogram("diameter_client_request_duration_seconds", metric.WithUnit("s"),
		metric.WithDescription("Time from sending a request to receiving its answer."),
		metric.WithExplicitBucketBoundaries(durationBuckets...)); err != nil {
		return nil, err
	}
	return t, nil
}

func resultLabel(r Result, ok bool) string {
	if !ok {
		return "none"
	}
	// Result-Codes are 4 digits (RFC 6733 7.1); anything else a peer sends
	// in an answer to our requests is one series, not one per value.
	if r.Code < 1000 || r.Code > 9999 {
		return "other"
	}
	return strconv.FormatUint(uint64(r.Code), 10)
}

type seriesKey struct {
	kind             trace.SpanKind
	app, cmd, result string
}

type series struct {
	add    []metric.AddOption
	record []metric.RecordOption
}

// seriesFor returns the measurement options of a label set, built once: the
// labels are bounded (registered applications, the command table, result
// codes), and building attribute sets per request costs allocations.
func (t *telemetry) seriesFor(kind trace.SpanKind, app, cmd, result string) *series {
	k := seriesKey{kind, app, cmd, result}
	if v, ok := t.series.Load(k); ok {
		return v.(*series)
	}
	all := attribute.NewSet(attribute.String("app", app), attribute.String("command", cmd), attribute.String("result", result))
	dur := attribute.NewSet(attribute.String("app", app), attribute.String("command", cmd))
	v, _ := t.series.LoadOrStore(k, &series{
		add:    []metric.AddOption{metric.WithAttributeSet(all)},
		record: []metric.RecordOption{metric.WithAttributeSet(dur)},
	})
	return v.(*series)
}

func (t *telemetry) spanOptions(kind trace.SpanKind, app, cmd string) []trace.SpanStartOption {
	k := seriesKey{kind: kind, app: app, cmd: cmd}
	if v, ok := t.starts.Load(k); ok {
		return v.([]trace.SpanStartOption)
	}
	v, _ := t.starts.LoadOrStore(k, []trace.SpanStartOption{trace.WithSpanKind(kind),
		trace.WithAttributes(
			attribute.String("rpc.system", "diameter"),
			attribute.String("rpc.service", app),
			attribute.String("rpc.method", cmd),
		)})
	return v.([]trace.SpanStartOption)
}

// middleware is the per-application server span and request metrics: one
// span "<App>/<CMD>" per request with the result code as an attribute.
func (t *telemetry) middleware(app string) Middleware {
	return func(next Handler) Handler {
		return HandlerFunc(func(ctx context.Context, req *Request) (ans *diam.Message) {
			cmd := CommandName(req.Msg.Header.CommandCode)
			start := time.Now()
			if !t.tracing {
				defer func() {
					r, ok := Result{}, false
					if ans != nil {
						r, ok = ResultOf(ans)
					}
					se := t.seriesFor(trace.SpanKindServer, app, cmd, resultLabel(r, ok))
					t.requests.Add(ctx, 1, se.add...)
					t.duration.Record(ctx, time.Since(start).Seconds(), se.record...)
				}()
				return next.ServeDiameter(ctx, req)
			}
			ctx, span := t.tracer.Start(ctx, app+"/"+cmd, t.spanOptions(trace.SpanKindServer, app, cmd)...)
			if span.IsRecording() {
				span.SetAttributes(attribute.String("diameter.peer.host", req.Peer.OriginHost))
			}
			defer func() {
				r, ok := Result{}, false
				if ans != nil {
					r, ok = ResultOf(ans)
				}
				t.finish(ctx, span, trace.SpanKindServer, app, cmd, r, ok, start)
			}()
			return next.ServeDiameter(ctx, req)
		})
	}
}

// record counts an answer the server produced without a handler (base
// protocol errors, duplicates).
func (t *telemetry) record(ctx context.Context, app, cmd string, r Result, start time.Time) {
	se := t.seriesFor(trace.SpanKindServer, app, cmd, resultLabel(r, true))
	t.requests.Add(ctx, 1, se.add...)
	t.duration.Record(ctx, time.Since(start).Seconds(), se.record...)
}

func (t *telemetry) finish(ctx context.Context, span trace.Span, kind trace.SpanKind, app, cmd string, r Result, ok bool, start time.Time) {
	label := resultLabel(r, ok)
	if span.IsRecording() {
		if ok {
			span.SetAttributes(attribute.Int64("diameter.result_code", int64(r.Code)),
				attribute.Bool("diameter.result_experimental", r.Experimental))
			if r.Code >= 3000 {
				span.SetStatus(codes.Error, "result "+label)
			}
		} else {
			span.SetStatus(codes.Error, "no result code")
		}
	}
	span.End()
	se := t.seriesFor(kind, app, cmd, label)
	if kind == trace.SpanKindClient {
		t.sent.Add(ctx, 1, se.add...)
		t.sentDur.Record(ctx, time.Since(start).Seconds(), se.record...)
		return
	}
	t.requests.Add(ctx, 1, se.add...)
	t.duration.Record(ctx, time.Since(start).Seconds(), se.record...)
}

// startClient opens the client span of a request we originate.
func (t *telemetry) startClient(ctx context.Context, app, cmd, peer string) (context.Context, trace.Span) {
	ctx, span := t.tracer.Start(ctx, app+"/"+cmd, t.spanOptions(trace.SpanKindClient, app, cmd)...)
	if span.IsRecording() {
		span.SetAttributes(attribute.String("diameter.peer.host", peer))
	}
	return ctx, span
}

func (t *telemetry) finishClient(ctx context.Context, span trace.Span, app, cmd string, ans *diam.Message, err error, start time.Time) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		span.End()
		se := t.seriesFor(trace.SpanKindClient, app, cmd, "error")
		t.sent.Add(ctx, 1, se.add...)
		t.sentDur.Record(ctx, time.Since(start).Seconds(), se.record...)
		return
	}
	r, ok := ResultOf(ans)
	t.finish(ctx, span, trace.SpanKindClient, app, cmd, r, ok, start)
}
