package diameter

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	diamdict "github.com/fiorix/go-diameter/v4/diam/dict"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

type benchApp struct{}

func (benchApp) Name() string     { return "S6a" }
func (benchApp) AppID() uint32    { return 16777251 }
func (benchApp) VendorID() uint32 { return VendorID3GPP }
func (benchApp) Commands() map[uint32]Handler {
	return map[uint32]Handler{318: HandlerFunc(func(ctx context.Context, req *Request) *diam.Message {
		return NewAnswer(req.Msg, Success)
	})}
}

// rawPeer is a minimal client that does CER/CEA and then exchanges
// pre-serialized requests, so that the benchmark measures the server.
func rawPeer(b *testing.B, addr, host string) (net.Conn, *bufio.Reader) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { nc.Close() })
	cer := diam.NewMessage(257, diam.RequestFlag, 0, 1, 1, diamdict.Default)
	cer.NewAVP(avp.OriginHost, avp.Mbit, 0, datatype.DiameterIdentity(host))
	cer.NewAVP(avp.OriginRealm, avp.Mbit, 0, datatype.DiameterIdentity("test"))
	cer.NewAVP(avp.HostIPAddress, avp.Mbit, 0, datatype.Address([]byte{127, 0, 0, 1}))
	cer.NewAVP(avp.VendorID, avp.Mbit, 0, datatype.Unsigned32(0))
	cer.NewAVP(avp.ProductName, 0, 0, datatype.UTF8String("bench"))
	cer.NewAVP(avp.AuthApplicationID, avp.Mbit, 0, datatype.Unsigned32(16777251))
	if _, err := cer.WriteTo(nc); err != nil {
		b.Fatal(err)
	}
	br := bufio.NewReader(nc)
	if _, err := readFrame(br, nil); err != nil {
		b.Fatal(err)
	}
	return nc, br
}

// startBenchServer runs a server with the trivial benchApp over TCP on
// 127.0.0.1, without logs, metrics or traces; it stops with the benchmark.
func startBenchServer(b *testing.B) *Server {
	b.Helper()
	srv, err := NewServer(Config{Listen: []string{"tcp://127.0.0.1:0"}, OriginHost: "hss.test", OriginRealm: "test", AllowLoopback: true},
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		WithMeterProvider(metricnoop.NewMeterProvider()), WithTracerProvider(tracenoop.NewTracerProvider()))
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Register(benchApp{}); err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return srv
}

// BenchmarkServeAIRLike measures the server's request path over real TCP
// (frame read, validation, decode, dispatch to a trivial handler, answer
// completion, duplicate-cache put, write) with one connection per parallel
// worker.
func BenchmarkServeAIRLike(b *testing.B) {
	srv := startBenchServer(b)
	addr := srv.Addrs()[0].String()
	req := seedAIR(b)
	var n atomic.Uint32
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		id := n.Add(1)
		nc, br := rawPeer(b, addr, "mme"+string(rune('a'+id%26))+".test")
		msg := append([]byte(nil), req...)
		buf := make([]byte, 0, 4096)
		e2e := id << 24
		for pb.Next() {
			e2e++
			binary.BigEndian.PutUint32(msg[12:16], e2e)
			binary.BigEndian.PutUint32(msg[16:20], e2e)
			if _, err := nc.Write(msg); err != nil {
				b.Error(err)
				return
			}
			ans, err := readFrame(br, buf)
			if err != nil {
				b.Error(err)
				return
			}
			if binary.BigEndian.Uint32(ans[12:16]) != e2e {
				b.Error("answer for another request")
				return
			}
		}
	})
}

// BenchmarkServeAIRLikePipelined keeps 128 requests in flight on one
// connection, as an MME under load does: it measures the server's
// throughput path, where answers written together share syscalls.
func BenchmarkServeAIRLikePipelined(b *testing.B) {
	srv := startBenchServer(b)
	nc, br := rawPeer(b, srv.Addrs()[0].String(), "mmep.test")
	req := seedAIR(b)
	const window = 128
	credits := make(chan struct{}, window)
	for range window {
		credits <- struct{}{}
	}
	b.ReportAllocs()
	b.ResetTimer()
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 0, 4096)
		for i := 0; i < b.N; i++ {
			if _, err := readFrame(br, buf); err != nil {
				done <- err
				return
			}
			credits <- struct{}{}
		}
		done <- nil
	}()
	bw := bufio.NewWriterSize(nc, 64<<10)
	msg := append([]byte(nil), req...)
	for i := 0; i < b.N; i++ {
		select {
		case <-credits:
		default:
			if err := bw.Flush(); err != nil {
				b.Fatal(err)
			}
			<-credits
		}
		binary.BigEndian.PutUint32(msg[12:16], uint32(i))
		binary.BigEndian.PutUint32(msg[16:20], uint32(i))
		bw.Write(msg)
	}
	if err := bw.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}

// dupBenchAnswer is the size of an AIA with one E-UTRAN vector as the
// server serializes it, the answer the duplicate cache holds most of.
const dupBenchAnswer = 380

// dupBenchKeys returns n distinct duplicate keys as dispatch builds them.
func dupBenchKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = duplicateKey("mme"+strconv.Itoa(i%4)+".epc.mnc001.mcc001.3gppnetwork.org", uint32(i))
	}
	return keys
}

// BenchmarkMemoryDuplicateCachePut stores answers into a full cache (the
// steady state of a busy server: every Put evicts one entry).
func BenchmarkMemoryDuplicateCachePut(b *testing.B) {
	const max = 100_000
	c := NewMemoryDuplicateCache(time.Minute, max)
	keys := dupBenchKeys(4 * max)
	answer := make([]byte, dupBenchAnswer)
	ctx := context.Background()
	for _, k := range keys[:max] {
		c.Put(ctx, k, answer)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Put(ctx, keys[(max+i)%len(keys)], answer)
	}
}

// BenchmarkMemoryDuplicateCacheGet looks up stored answers (a
// retransmission answered from the cache).
func BenchmarkMemoryDuplicateCacheGet(b *testing.B) {
	const max = 100_000
	c := NewMemoryDuplicateCache(time.Minute, max)
	keys := dupBenchKeys(max)
	ctx := context.Background()
	for _, k := range keys {
		c.Put(ctx, k, make([]byte, dupBenchAnswer))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, ok, _ := c.Get(ctx, keys[i%max]); !ok {
			b.Fatal("miss")
		}
	}
}

// BenchmarkMemoryDuplicateCacheGC measures what a full cache costs the
// garbage collector: ns/op is one forced collection (runtime.GC, whose
// mark phase walks every live object) with 100k answers stored the way the
// server stores them (each a fresh serialization); heap-objects is the
// live heap's object count, which the mark phase visits.
func BenchmarkMemoryDuplicateCacheGC(b *testing.B) {
	const max = 100_000
	c := NewMemoryDuplicateCache(time.Minute, max)
	ctx := context.Background()
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range max {
		// Key and answer fresh for each request, as dispatch makes them.
		c.Put(ctx, duplicateKey("mme.epc.mnc001.mcc001.3gppnetwork.org", uint32(i)), make([]byte, dupBenchAnswer))
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		runtime.GC()
	}
	b.StopTimer()
	// After the loop: ResetTimer drops metrics reported before it.
	b.ReportMetric(float64(after.HeapObjects)-float64(before.HeapObjects), "heap-objects")
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "heap-MiB")
	runtime.KeepAlive(c)
}
