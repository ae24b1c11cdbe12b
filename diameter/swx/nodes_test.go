package swx

import (
	"context"
	"testing"
	"time"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/hss/redisstore"
	"github.com/rcmhss/rcmhss/hss/redisstore/redistest"
)

// TestTwoNodesOnRedis: two HSS nodes share one real redis-server. The AAA
// server registered through node A holds the user for node B too (TS 29.273
// 8.1.2.1.1), and vectors handed out by both nodes never reuse an SQN.
func TestTwoNodesOnRedis(t *testing.T) {
	addr := redistest.Start(t)
	open := func() hss.Store {
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		st, err := redisstore.New(ctx, redisstore.Config{Addrs: []string{addr}, KeyPrefix: "swx:" + time.Now().Format("150405.000000") + ":"}, hss.NewPlaintextSealer())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		return st
	}
	st := open()
	a, b := newNode(t, "tcp", st), newNode(t, "tcp", st)
	if err := a.hss.CreateSubscriber(context.Background(), testSubscriber(testIMSI)); err != nil {
		t.Fatal(err)
	}
	ans := a.do(t, marRequest(aaa1, naiAKA, SchemeEAPAKA, 2, ""))
	wantResult(t, ans, diameter.Success)
	first := usimCheck(t, ans, 2, SchemeEAPAKA)

	ans = b.do(t, marRequest(aaa2, naiAKA, SchemeEAPAKA, 1, ""))
	wantResult(t, ans, experimental(diameter.CodeIdentityAlreadyRegistered))
	if got := string(mustOctets(t, find(ans.AVP, codeAAAServerName, VendorID))); got != aaa1 {
		t.Errorf("node B names %q, want %q", got, aaa1)
	}
	// aaa1 reaching node B is the same registration.
	ans = b.do(t, marRequest(aaa1, naiAKA, SchemeEAPAKA, 1, ""))
	wantResult(t, ans, diameter.Success)
	next := usimCheck(t, ans, 1, SchemeEAPAKA)
	if next[0].sqn <= first[1].sqn {
		t.Errorf("node B SQN %d not above node A's %d", next[0].sqn, first[1].sqn)
	}
	ans = b.do(t, sarRequest(aaa1, naiAKA, hss.SAAAAUserDataRequest))
	wantResult(t, ans, diameter.Success)
	checkUserData(t, ans)
}
