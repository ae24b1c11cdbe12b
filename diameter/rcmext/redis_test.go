package rcmext_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/diameter/rcmext"
	"github.com/rcmhss/rcmhss/hss/redisstore/redistest"
	"github.com/rcmhss/rcmhss/rcm"
	rcmredis "github.com/rcmhss/rcmhss/rcm/redisstore"
)

// TestTwoNodesOnRedis: two HSS nodes share the RCM state in a real
// redis-server. A provisioning attach bound on node A is known to node B (its
// ULR is served there), and the same AIR replayed to node B is refused: the
// replay cache is one atomic SET NX across nodes.
func TestTwoNodesOnRedis(t *testing.T) {
	addr := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = rdb.Close() })
	st, err := rcmredis.New(rdb, "rcmext-test:")
	if err != nil {
		t.Fatal(err)
	}
	a := newEnv(t, envOpts{store: st})
	b := newEnv(t, envOpts{store: st})
	// The profile is in the shared store: one registration serves both nodes.
	a.addProfile(t, "vendor-a", a.vendor, rcm.Coverage{TACs: []string{"35000001"}})

	dev := imei("35000001000010")
	cred, _ := a.vendor.device(t, dev, dev, certOpts{})
	d := newDevice(t, cred, time.Now())
	req := air(guestIMSI, 2, d.avp(t, rcmext.DefaultVendorID))
	checkBound(t, a, d, a.do(t, mme1, req), rcmext.DefaultVendorID)

	replayed := air(guestIMSI, 2, d.avp(t, rcmext.DefaultVendorID))
	ans := b.do(t, mme1, replayed)
	if r := resultOf(t, ans); r != authnRejected || len(vectors(t, ans)) != 0 {
		t.Fatalf("replay on the other node: %v with %d vectors", r, len(vectors(t, ans)))
	}
	if last := lastAudit(t, b); last.Event != rcm.AuditRejected || !strings.Contains(last.Reason, rcm.ErrReplay.Error()) {
		t.Fatalf("node B audit %+v, want a replay rejection", last)
	}
	if r := resultOf(t, b.do(t, mme1, ulr(mme1, guestIMSI, dev.TACSNR()))); r != diameter.Success {
		t.Fatalf("ULR on the other node: %v", r)
	}
	all, err := st.ListAudit(context.Background(), 0, 100)
	if err != nil || rcm.VerifyChain(all) != nil {
		t.Fatalf("shared audit chain: %d entries, %v", len(all), err)
	}
}
