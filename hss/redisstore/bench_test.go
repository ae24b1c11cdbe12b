package redisstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/hss/redisstore"
	"github.com/rcmhss/rcmhss/hss/redisstore/redistest"
	"github.com/rcmhss/rcmhss/hss/storetest"
)

func benchStore(b *testing.B, subscribers int) (*redisstore.Store, []hss.IMSI) {
	b.Helper()
	addr := redistest.Start(b)
	st, err := redisstore.New(context.Background(), redisstore.Config{Addrs: []string{addr}, KeyPrefix: "bench:"}, testSealer(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	imsis := make([]hss.IMSI, subscribers)
	for i := range imsis {
		imsis[i] = hss.IMSI(fmt.Sprintf("00101%010d", i))
		if err := st.CreateSubscriber(context.Background(), storetest.Subscriber(imsis[i])); err != nil {
			b.Fatal(err)
		}
	}
	return st, imsis
}

// BenchmarkReserveSQN is one AIR's store work on a real redis-server: one
// EVALSHA round trip returning sealed keys, SEQ and IND, then two AES-GCM opens.
func BenchmarkReserveSQN(b *testing.B) {
	st, imsis := benchStore(b, 1)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.ReserveSQN(ctx, imsis[0], "mme1", 1, 5); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReserveSQNParallel spreads reservations over 1000 subscribers from
// 8*GOMAXPROCS goroutines sharing the client's pool, as concurrent AIRs do:
// round trips overlap, so ns/op is throughput, not latency.
func BenchmarkReserveSQNParallel(b *testing.B) {
	st, imsis := benchStore(b, 1000)
	ctx := context.Background()
	var next atomic.Uint64
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			imsi := imsis[next.Add(1)%uint64(len(imsis))]
			if _, err := st.ReserveSQN(ctx, imsi, "mme1", 1, 5); err != nil {
				b.Fatal(err)
			}
		}
	})
}
