package loadgen

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rcmhss/rcmhss/hss"
)

func TestResyncInfoVerifies(t *testing.T) {
	k, _ := hss.ParseKey(testK)
	opc, _ := hss.ParseKey(testOPc)
	info := resyncInfo(&ResyncKeys{K: k, OPc: opc, SQNMS: 0x1234_5678})
	m := hss.NewMilenage(k, opc)
	sqn, err := m.VerifyAUTS([16]byte(info[:16]), [14]byte(info[16:]))
	if err != nil || sqn != 0x1234_5678 {
		t.Fatalf("VerifyAUTS = %#x, %v; want 0x12345678", sqn, err)
	}
	random := resyncInfo(nil)
	if _, err := m.VerifyAUTS([16]byte(random[:16]), [14]byte(random[16:])); !errors.Is(err, hss.ErrResyncFailed) {
		t.Fatalf("random AUTS: %v, want ErrResyncFailed", err)
	}
}

// TestResyncAgainstRCMHSS sends resync AIRs to the real HSS: with the
// range's keys the AUTS verifies and the answers are 2001; with a random
// AUTS every one is refused.
func TestResyncAgainstRCMHSS(t *testing.T) {
	_, target, adminURL := startRCMHSS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const start, n = "001010000000001", 100
	provisionRange(ctx, t, adminURL, start, n)
	k, _ := hss.ParseKey(testK)
	opc, _ := hss.ParseKey(testOPc)
	for _, keys := range []*ResyncKeys{{K: k, OPc: opc}, nil} {
		rep, err := Run(ctx, Config{Targets: []string{target}, Conns: 1, Window: 4, Requests: 2 * n,
			ResyncShare: 0.5, ResyncKeys: keys, IMSIs: testRange(t, start, n),
			Identity: mmeIdentity}, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		air, _ := rep.Kind("AIR")
		rs, _ := rep.Kind("AIR-resync")
		if air.Count(Result{Code: 2001}) != n || rs.Answered != n {
			t.Fatalf("keys %v: AIR %v, AIR-resync answered %d", keys != nil, air.Results, rs.Answered)
		}
		if ok := rs.Count(Result{Code: 2001}); (keys != nil && ok != n) || (keys == nil && ok != 0) {
			t.Fatalf("keys %v: AIR-resync results %v", keys != nil, rs.Results)
		}
	}
}
