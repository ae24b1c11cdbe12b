package redisstore_test

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/hss/redisstore/redistest"
	"github.com/rcmhss/rcmhss/rcm"
	"github.com/rcmhss/rcmhss/rcm/redisstore"
	"github.com/rcmhss/rcmhss/rcm/storetest"
)

func TestProvisioningConformance(t *testing.T) {
	addr := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = rdb.Close() })
	sealer, err := hss.NewKeySealer(bytes.Repeat([]byte{7}, hss.KEKSize))
	if err != nil {
		t.Fatal(err)
	}
	storetest.RunProvisioning(t, func(t *testing.T) rcm.ProvisioningStore {
		st, err := redisstore.NewProvisioning(rdb, "p"+strconv.FormatInt(prefixN.Add(1), 10)+":", sealer)
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}

// TestProviderOPSealed: the OP is not in Redis in clear, and a store with
// another key-encryption key cannot read the provider.
func TestProviderOPSealed(t *testing.T) {
	addr := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = rdb.Close() })
	s1, _ := hss.NewKeySealer(bytes.Repeat([]byte{1}, hss.KEKSize))
	s2, _ := hss.NewKeySealer(bytes.Repeat([]byte{2}, hss.KEKSize))
	a, err := redisstore.NewProvisioning(rdb, "op:", s1)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p := storetest.Provider("x")
	p.OP = hss.Key{0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c}
	if err := a.CreateProvider(ctx, p); err != nil {
		t.Fatal(err)
	}
	raw, err := rdb.HGetAll(ctx, "op:rcm:{rcmprov}:providers").Result()
	if err != nil || len(raw) != 1 {
		t.Fatalf("raw providers: %v, %v", raw, err)
	}
	if strings.Contains(raw["x"], p.OP.Hex()) || strings.Contains(raw["x"], "3q2+7wECAwQFBgcICQoLDA") {
		t.Fatal("OP stored in clear")
	}
	if got, err := a.GetProvider(ctx, "x"); err != nil || got.OP != p.OP {
		t.Fatalf("round trip: %v", err)
	}
	b, _ := redisstore.NewProvisioning(rdb, "op:", s2)
	if _, err := b.GetProvider(ctx, "x"); !errors.Is(err, hss.ErrSealBroken) {
		t.Fatalf("another KEK: %v", err)
	}
	if _, err := redisstore.NewProvisioning(rdb, "op:", nil); !errors.Is(err, hss.ErrInvalidInput) {
		t.Fatalf("nil sealer: %v", err)
	}
}
