package redisstore_test

import (
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rcmhss/rcmhss/hss/redisstore/redistest"
	"github.com/rcmhss/rcmhss/rcm"
	"github.com/rcmhss/rcmhss/rcm/redisstore"
	"github.com/rcmhss/rcmhss/rcm/storetest"
)

func TestProvisioningConformance(t *testing.T) {
	addr := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = rdb.Close() })
	storetest.RunProvisioning(t, func(t *testing.T) rcm.ProvisioningStore {
		st, err := redisstore.NewProvisioning(rdb, "p"+strconv.FormatInt(prefixN.Add(1), 10)+":")
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}
