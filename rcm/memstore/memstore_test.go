package memstore_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/rcmhss/rcmhss/rcm"
	"github.com/rcmhss/rcmhss/rcm/memstore"
	"github.com/rcmhss/rcmhss/rcm/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(*testing.T) rcm.Store { return memstore.New() })
}

// TestSweepKeepsLiveEntries drives the amortised sweep with a fake clock: the
// expired entries go, the live ones keep their state.
func TestSweepKeepsLiveEntries(t *testing.T) {
	now := time.Unix(1767225600, 0)
	st := memstore.New(memstore.WithClock(func() time.Time { return now }))
	ctx := context.Background()
	if seen, _ := st.Seen(ctx, "live", time.Hour); seen {
		t.Fatal("new key seen")
	}
	if ok, _ := st.Allow(ctx, "live", 1, time.Hour); !ok {
		t.Fatal("first attempt refused")
	}
	for i := 0; i < 3000; i++ {
		_, _ = st.Seen(ctx, "short"+strconv.Itoa(i), time.Second)
	}
	now = now.Add(time.Minute)
	for i := 0; i < 3000; i++ { // triggers sweeps
		_, _ = st.Allow(ctx, "other"+strconv.Itoa(i), 5, time.Second)
	}
	if seen, _ := st.Seen(ctx, "live", time.Hour); !seen {
		t.Fatal("sweep dropped a live replay entry")
	}
	if ok, _ := st.Allow(ctx, "live", 1, time.Hour); ok {
		t.Fatal("sweep reset a live rate counter")
	}
	if seen, _ := st.Seen(ctx, "short0", time.Second); seen {
		t.Fatal("expired replay entry still seen")
	}
}
