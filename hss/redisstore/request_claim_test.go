package redisstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/hss/redisstore"
	"github.com/rcmhss/rcmhss/hss/redisstore/redistest"
	"github.com/rcmhss/rcmhss/hss/storetest"
)

// claimStores returns two stores (two nodes) on one redis-server with request
// claims on, and a provisioned subscriber.
func claimStores(ctx context.Context, t *testing.T, ttl time.Duration) (a, b *redisstore.Store, imsi hss.IMSI) {
	t.Helper()
	addr := redistest.Start(t)
	cfg := redisstore.Config{Addrs: []string{addr}, KeyPrefix: "claim:", FailoverSEQJump: guardJump, RequestClaimTTL: ttl}
	a, b = newGuardStore(ctx, t, cfg), newGuardStore(ctx, t, cfg)
	imsi = "001010000000401"
	if err := a.CreateSubscriber(ctx, storetest.Subscriber(imsi)); err != nil {
		t.Fatal(err)
	}
	return a, b, imsi
}

// TestRequestClaimReservation: a second copy of a request (same request key)
// on another node gets the first copy's SEQ and IND back and moves nothing;
// other requests are not affected.
func TestRequestClaimReservation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, b, imsi := claimStores(ctx, t, time.Minute)
	req := hss.WithRequestKey(ctx, "mme1.test/1f")

	first, err := a.ReserveSQN(req, imsi, "mme1", 3, 5)
	if err != nil {
		t.Fatal(err)
	}
	if first.Replayed {
		t.Fatal("the first copy of a request was reported as replayed")
	}
	again, err := b.ReserveSQN(req, imsi, "mme2", 3, 5)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Replayed || again.FirstSEQ != first.FirstSEQ || again.IND != first.IND {
		t.Fatalf("second copy on node B: FirstSEQ %d IND %d replayed %v, want %d %d true",
			again.FirstSEQ, again.IND, again.Replayed, first.FirstSEQ, first.IND)
	}
	if again.Material.K != first.Material.K || again.Material.OPc != first.Material.OPc {
		t.Error("the replayed reservation carries other key material")
	}
	// A resync copy of the same request is a copy too: nothing moves.
	rs, err := b.ResyncSQN(req, imsi, "mme1", first.FirstSEQ+1000, 1<<28, 3, 5)
	if err != nil {
		t.Fatal(err)
	}
	if !rs.Replayed || rs.FirstSEQ != first.FirstSEQ {
		t.Errorf("resync copy: FirstSEQ %d replayed %v, want %d true", rs.FirstSEQ, rs.Replayed, first.FirstSEQ)
	}
	// Another request key, and no key at all, reserve right after the three.
	next, err := b.ReserveSQN(hss.WithRequestKey(ctx, "mme1.test/20"), imsi, "mme1", 1, 5)
	if err != nil {
		t.Fatal(err)
	}
	if next.Replayed || next.FirstSEQ != first.FirstSEQ+3 {
		t.Errorf("next request: FirstSEQ %d replayed %v, want %d false", next.FirstSEQ, next.Replayed, first.FirstSEQ+3)
	}
	plain, err := a.ReserveSQN(ctx, imsi, "mme1", 1, 5)
	if err != nil {
		t.Fatal(err)
	}
	if plain.Replayed || plain.FirstSEQ != first.FirstSEQ+4 {
		t.Errorf("request without key: FirstSEQ %d replayed %v, want %d false", plain.FirstSEQ, plain.Replayed, first.FirstSEQ+4)
	}
	// The same End-to-End id from another Origin-Host is another request.
	other, err := a.ReserveSQN(hss.WithRequestKey(ctx, "mme2.test/1f"), imsi, "mme2", 1, 5)
	if err != nil {
		t.Fatal(err)
	}
	if other.Replayed {
		t.Error("same End-to-End id from another Origin-Host was taken for a copy")
	}
}

// TestRequestClaimConcurrentCopies: copies of one request racing on several
// nodes reserve once; every copy gets the same SEQ.
func TestRequestClaimConcurrentCopies(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, b, imsi := claimStores(ctx, t, time.Minute)
	const requests, copies = 50, 8
	seen := map[uint64]bool{}
	for r := range requests {
		req := hss.WithRequestKey(ctx, fmt.Sprintf("mme1.test/%x", r))
		var wg sync.WaitGroup
		res := make([]hss.SQNReservation, copies)
		errs := make([]error, copies)
		for c := range copies {
			st := a
			if c%2 == 1 {
				st = b
			}
			wg.Go(func() { res[c], errs[c] = st.ReserveSQN(req, imsi, "mme1", 1, 5) })
		}
		wg.Wait()
		fresh := 0
		for c := range copies {
			if errs[c] != nil {
				t.Fatal(errs[c])
			}
			if !res[c].Replayed {
				fresh++
			}
			if res[c].FirstSEQ != res[0].FirstSEQ {
				t.Fatalf("request %d: copies got SEQ %d and %d", r, res[0].FirstSEQ, res[c].FirstSEQ)
			}
		}
		if fresh != 1 {
			t.Fatalf("request %d: %d copies reserved, want exactly 1", r, fresh)
		}
		if seen[res[0].FirstSEQ] {
			t.Fatalf("request %d got SEQ %d, already issued to another request", r, res[0].FirstSEQ)
		}
		seen[res[0].FirstSEQ] = true
	}
}

// TestRequestClaimExpires: after the claim's TTL the same key reserves anew
// (the window is diameter.duplicate_ttl in rcmhss).
func TestRequestClaimExpires(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, _, imsi := claimStores(ctx, t, 50*time.Millisecond)
	req := hss.WithRequestKey(ctx, "mme1.test/1")
	first, err := a.ReserveSQN(req, imsi, "mme1", 1, 5)
	if err != nil {
		t.Fatal(err)
	}
	for {
		r, err := a.ReserveSQN(req, imsi, "mme1", 1, 5)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Replayed {
			if r.FirstSEQ != first.FirstSEQ+1 {
				t.Errorf("after expiry: FirstSEQ %d, want %d", r.FirstSEQ, first.FirstSEQ+1)
			}
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal("the claim never expired")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestRequestClaimMMERegistration is the stale ULR: MME1's ULR is handled on
// node A (after a retransmission), MME2 attaches, then node B runs the
// original of MME1's ULR late. It must not take the registration back from
// MME2, and it reports MME1 itself as the previous holder, so the service
// sends no Cancel-Location to MME2.
func TestRequestClaimMMERegistration(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, b, imsi := claimStores(ctx, t, time.Minute)
	ulr1 := hss.WithRequestKey(ctx, "mme1.test/a1")
	if _, err := a.SetMMERegistration(ulr1, imsi, hss.MMERegistration{Host: "mme1.test", Realm: "test"}); err != nil {
		t.Fatal(err)
	}
	prev, err := b.SetMMERegistration(hss.WithRequestKey(ctx, "mme2.test/b1"), imsi, hss.MMERegistration{Host: "mme2.test", Realm: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if prev == nil || prev.Host != "mme1.test" {
		t.Fatalf("MME2's ULR replaced %+v, want mme1.test", prev)
	}
	stale, err := b.SetMMERegistration(ulr1, imsi, hss.MMERegistration{Host: "mme1.test", Realm: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if stale == nil || stale.Host != "mme1.test" {
		t.Errorf("the stale ULR reported previous holder %+v, want mme1.test itself (no CLR)", stale)
	}
	regs, err := a.GetRegistrations(ctx, imsi)
	if err != nil {
		t.Fatal(err)
	}
	if regs.MME == nil || regs.MME.Host != "mme2.test" {
		t.Errorf("after the stale ULR the MME is %+v, want mme2.test", regs.MME)
	}
}

// TestRequestClaimMMEUpdate is the stale PUR: MME1's PUR is handled on node
// A (after a retransmission), the UE re-attaches through MME1 (a new ULR),
// then node B runs the original of the PUR late. The new registration must
// not be marked purged; the stale copy reports the update done, as the first
// copy's answer did.
func TestRequestClaimMMEUpdate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, b, imsi := claimStores(ctx, t, time.Minute)
	mme1 := hss.MMERegistration{Host: "mme1.test", Realm: "test"}
	if _, err := a.SetMMERegistration(hss.WithRequestKey(ctx, "mme1.test/u1"), imsi, mme1); err != nil {
		t.Fatal(err)
	}
	purge := func(r *hss.MMERegistration) { r.Purged = true }
	pur := hss.WithRequestKey(ctx, "mme1.test/p1")
	if ok, err := a.UpdateMMERegistration(pur, imsi, "mme1.test", purge); err != nil || !ok {
		t.Fatalf("PUR on node A: %v, %v", ok, err)
	}
	if _, err := b.SetMMERegistration(hss.WithRequestKey(ctx, "mme1.test/u2"), imsi, mme1); err != nil {
		t.Fatal(err)
	}
	ok, err := b.UpdateMMERegistration(pur, imsi, "mme1.test", purge)
	if err != nil || !ok {
		t.Errorf("the stale PUR on node B: %v, %v, want true (done by the first copy)", ok, err)
	}
	regs, err := a.GetRegistrations(ctx, imsi)
	if err != nil {
		t.Fatal(err)
	}
	if regs.MME == nil || regs.MME.Purged {
		t.Errorf("after the stale PUR the registration is %+v, want MME1's re-attach, not purged", regs.MME)
	}
	// Another PUR (another request key) purges as before.
	if ok, err := b.UpdateMMERegistration(hss.WithRequestKey(ctx, "mme1.test/p2"), imsi, "mme1.test", purge); err != nil || !ok {
		t.Fatalf("a new PUR: %v, %v", ok, err)
	}
	if regs, err = a.GetRegistrations(ctx, imsi); err != nil || regs.MME == nil || !regs.MME.Purged {
		t.Errorf("after a new PUR: %+v, %v, want purged", regs.MME, err)
	}
}

// TestRequestClaimAAARegistration is the stale SWx registration: AAA server
// X's MAR/SAR registered X (its retransmission, on node A), X later
// deregistered and Y registered; node B then runs the original of X's
// request late. It must leave Y registered and report X itself as the
// previous holder. A put-back made without the request key (what the
// service does when another server won a race) is not taken for a copy.
func TestRequestClaimAAARegistration(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, b, imsi := claimStores(ctx, t, time.Minute)
	x := &hss.AAARegistration{ServerName: "aaa-x.test", Realm: "test"}
	y := &hss.AAARegistration{ServerName: "aaa-y.test", Realm: "test"}
	sarX := hss.WithRequestKey(ctx, "aaa-x.test/9")
	if _, err := a.SetAAARegistration(sarX, imsi, x); err != nil {
		t.Fatal(err)
	}
	sarY := hss.WithRequestKey(ctx, "aaa-y.test/3")
	prev, err := b.SetAAARegistration(sarY, imsi, y)
	if err != nil {
		t.Fatal(err)
	}
	if prev == nil || prev.ServerName != "aaa-x.test" {
		t.Fatalf("Y's registration replaced %+v, want aaa-x.test", prev)
	}
	stale, err := b.SetAAARegistration(sarX, imsi, x)
	if err != nil {
		t.Fatal(err)
	}
	if stale == nil || stale.ServerName != "aaa-x.test" {
		t.Errorf("the stale registration reported previous holder %+v, want aaa-x.test itself", stale)
	}
	regs, err := a.GetRegistrations(ctx, imsi)
	if err != nil {
		t.Fatal(err)
	}
	if regs.AAA == nil || regs.AAA.ServerName != "aaa-y.test" {
		t.Fatalf("after the stale registration the AAA server is %+v, want aaa-y.test", regs.AAA)
	}
	// Y's request puts X back (as if X had won a race): with the request
	// key cleared the swap happens although Y's claim exists.
	if _, err := b.SetAAARegistration(hss.WithRequestKey(sarY, ""), imsi, x); err != nil {
		t.Fatal(err)
	}
	if regs, _ = a.GetRegistrations(ctx, imsi); regs.AAA == nil || regs.AAA.ServerName != "aaa-x.test" {
		t.Errorf("a put-back without the request key did not apply: AAA server %+v", regs.AAA)
	}
}
