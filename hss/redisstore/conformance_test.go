package redisstore_test

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/hss/redisstore"
	"github.com/rcmhss/rcmhss/hss/redisstore/redistest"
	"github.com/rcmhss/rcmhss/hss/storetest"
)

func testSealer(t testing.TB) *hss.KeySealer {
	t.Helper()
	s, err := hss.NewKeySealer([]byte(strings.Repeat("k", hss.KEKSize)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var dbPrefix atomic.Int64

// newStore opens a store on addr under a fresh key prefix, so that subtests
// sharing one redis-server start empty.
func newStore(t testing.TB, addr string, sealer *hss.KeySealer) *redisstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg := redisstore.Config{Addrs: []string{addr}, KeyPrefix: "t" + strconv.FormatInt(dbPrefix.Add(1), 10) + ":"}
	st, err := redisstore.New(ctx, cfg, sealer)
	if err != nil {
		t.Fatalf("redisstore.New: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func TestConformance(t *testing.T) {
	addr := redistest.Start(t)
	t.Run("KEK", func(t *testing.T) {
		sealer := testSealer(t)
		storetest.Run(t, func(t *testing.T) hss.Store { return newStore(t, addr, sealer) })
	})
	t.Run("Plaintext", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) hss.Store { return newStore(t, addr, hss.NewPlaintextSealer()) })
	})
}
