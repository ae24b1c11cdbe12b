package memstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/hss/memstore"
	"github.com/rcmhss/rcmhss/hss/storetest"
)

func benchStore(b *testing.B, subscribers int) (*memstore.Store, []hss.IMSI) {
	b.Helper()
	sealer, err := hss.NewKeySealer(make([]byte, hss.KEKSize))
	if err != nil {
		b.Fatal(err)
	}
	st := memstore.New(sealer)
	imsis := make([]hss.IMSI, subscribers)
	for i := range imsis {
		imsis[i] = hss.IMSI(fmt.Sprintf("00101%010d", i))
		if err := st.CreateSubscriber(context.Background(), storetest.Subscriber(imsis[i])); err != nil {
			b.Fatal(err)
		}
	}
	return st, imsis
}

// BenchmarkReserveSQN is one AIR's store work: one subscriber, one reservation.
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

// BenchmarkReserveSQNParallel spreads reservations over 1000 subscribers.
func BenchmarkReserveSQNParallel(b *testing.B) {
	st, imsis := benchStore(b, 1000)
	ctx := context.Background()
	var next atomic.Uint64
	b.ReportAllocs()
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
