package redisstore_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/rcmhss/rcmhss/hss/redisstore/redistest"
	"github.com/rcmhss/rcmhss/rcm"
)

// Benchmarks of the per-AIR store operations on a real redis-server over
// loopback: the replay check-and-set, one rate counter, one audit append.
func BenchmarkStore(b *testing.B) {
	addr := redistest.Start(b)
	ctx := context.Background()
	b.Run("Seen", func(b *testing.B) {
		st := openB(b, addr)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if _, err := st.Seen(ctx, "k"+strconv.Itoa(i), time.Minute); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Allow", func(b *testing.B) {
		st := openB(b, addr)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := st.Allow(ctx, "imei:35000001000001", 1<<30, time.Minute); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AppendAudit", func(b *testing.B) {
		st := openB(b, addr)
		r := rcm.NewAuditRecord(time.Now(), rcm.AuditBound, "001019990000001", "490154203237518", nil)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := st.AppendAudit(ctx, r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
