package redisstore_test

import (
	"context"
	"regexp"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/hss/redisstore"
	"github.com/rcmhss/rcmhss/hss/redisstore/redistest"
	"github.com/rcmhss/rcmhss/hss/storetest"
)

var evalshaStatsRE = regexp.MustCompile(`cmdstat_evalsha:calls=(\d+),usec=(\d+)`)

// BenchmarkReserveSQNFailoverGuard compares one reservation without and with
// the failover guard. ns/op is the client's round trip (noisy on a shared
// machine); redis-us/call is the script's execution time inside
// redis-server (INFO commandstats), where the guard's cost (two INFO
// sections read per call) shows without the network.
func BenchmarkReserveSQNFailoverGuard(b *testing.B) {
	for _, bc := range []struct {
		name string
		jump uint64
	}{{"off", 0}, {"on", guardJump}} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			addr := redistest.Start(b)
			st, err := redisstore.New(ctx, redisstore.Config{Addrs: []string{addr}, KeyPrefix: "bench:", FailoverSEQJump: bc.jump}, testSealer(b))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = st.Close() })
			imsi := hss.IMSI("001010000000001")
			if err := st.CreateSubscriber(ctx, storetest.Subscriber(imsi)); err != nil {
				b.Fatal(err)
			}
			rdb := redis.NewClient(&redis.Options{Addr: addr})
			defer rdb.Close()
			if err := rdb.ConfigResetStat(ctx).Err(); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := st.ReserveSQN(ctx, imsi, "mme1", 1, 5); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			info, err := rdb.Info(ctx, "commandstats").Result()
			if err != nil {
				b.Fatal(err)
			}
			if m := evalshaStatsRE.FindStringSubmatch(info); m != nil {
				calls, _ := strconv.ParseFloat(m[1], 64)
				usec, _ := strconv.ParseFloat(m[2], 64)
				if calls > 0 {
					b.ReportMetric(usec/calls, "redis-us/call")
				}
			}
		})
	}
}
