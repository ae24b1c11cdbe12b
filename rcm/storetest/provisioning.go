package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/rcm"
)

// RunProvisioning runs every behaviour of rcm.ProvisioningStore against
// stores made by newStore, each subtest on a fresh, empty store.
func RunProvisioning(t *testing.T, newStore func(t *testing.T) rcm.ProvisioningStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, st rcm.ProvisioningStore)
	}{
		{"Providers", testProviders},
		{"Offers", testOffers},
		{"PoolAllocation", testPoolAllocation},
		{"PoolConcurrent", testPoolConcurrent},
		{"PreRegistrations", testPreRegistrations},
		{"SessionCAS", testSessionCAS},
		{"SessionCASConcurrent", testSessionCASConcurrent},
		{"ExpiredSessions", testExpiredSessions},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

// Provider is a valid provider for store tests.
func Provider(id string) rcm.Provider {
	return rcm.Provider{
		ID: id, Name: "Provider " + id, Kind: rcm.ProviderOperator, ProfileIDs: []string{"prof-" + id},
		IMSIPool:  []rcm.NumberRange{{First: "001010000000001", Last: "001010000000003"}},
		KeyPolicy: rcm.KeyPolicyOPc, OP: hss.Key{0xcd, 0xc2}, AMF: [2]byte{0x80, 0x00},
		Template: rcm.SubscriptionTemplate{
			APNs:             []hss.APNConfiguration{{ContextID: 1, Name: "internet", PDNType: hss.PDNIPv4, QCI: 9, ARP: hss.ARP{PriorityLevel: 8}}},
			DefaultContextID: 1, AMBR: hss.AMBR{UL: 1e6, DL: 2e6},
		},
	}
}

func testProviders(t *testing.T, st rcm.ProvisioningStore) {
	p := Provider("b")
	if err := st.CreateProvider(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateProvider(ctx, p); !errors.Is(err, rcm.ErrProviderExists) {
		t.Fatalf("second create: %v, want ErrProviderExists", err)
	}
	if err := st.CreateProvider(ctx, Provider("a")); err != nil {
		t.Fatal(err)
	}
	got, err := st.GetProvider(ctx, "b")
	if err != nil || got.OP != p.OP || got.Template.AMBR != p.Template.AMBR || len(got.IMSIPool) != 1 || got.AMF != p.AMF {
		t.Fatalf("get: %+v, %v", got, err)
	}
	got.Name = "renamed"
	if err := st.UpdateProvider(ctx, got); err != nil {
		t.Fatal(err)
	}
	if err := st.UpdateProvider(ctx, Provider("zz")); !errors.Is(err, rcm.ErrUnknownProvider) {
		t.Fatalf("update unknown: %v", err)
	}
	if _, err := st.GetProvider(ctx, "zz"); !errors.Is(err, rcm.ErrUnknownProvider) {
		t.Fatalf("get unknown: %v", err)
	}
	all, err := st.ListProviders(ctx)
	if err != nil || len(all) != 2 || all[0].ID != "a" || all[1].Name != "renamed" {
		t.Fatalf("list: %+v, %v", all, err)
	}
}

func testOffers(t *testing.T, st rcm.ProvisioningStore) {
	if err := st.PutOffer(ctx, rcm.Offer{ID: "o", ProviderID: "nobody"}); !errors.Is(err, rcm.ErrUnknownProvider) {
		t.Fatalf("offer of unknown provider: %v", err)
	}
	for _, id := range []string{"a", "b"} {
		if err := st.CreateProvider(ctx, Provider(id)); err != nil {
			t.Fatal(err)
		}
	}
	code := &rcm.ActivationCode{Iterations: 1, Salt: [16]byte{1}, Hash: [32]byte{2}}
	for _, o := range []rcm.Offer{
		{ID: "o2", ProviderID: "a", PlanName: "two", Duration: time.Hour},
		{ID: "o1", ProviderID: "a", PlanName: "one", DataCapBytes: 1 << 20, ActivationCode: code},
		{ID: "o1", ProviderID: "b", PlanName: "b's", Duration: time.Hour},
	} {
		if err := st.PutOffer(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.ListOffers(ctx, "a")
	if err != nil || len(got) != 2 || got[0].ID != "o1" || got[0].ActivationCode == nil || *got[0].ActivationCode != *code {
		t.Fatalf("list a: %+v, %v", got, err)
	}
	if o, err := st.GetOffer(ctx, "b", "o1"); err != nil || o.PlanName != "b's" {
		t.Fatalf("get b/o1: %+v, %v", o, err)
	}
	if _, err := st.GetOffer(ctx, "b", "o2"); !errors.Is(err, rcm.ErrUnknownOffer) {
		t.Fatalf("a's offer through b: %v", err)
	}
	if err := st.DeleteOffer(ctx, "a", "o1"); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteOffer(ctx, "a", "o1"); !errors.Is(err, rcm.ErrUnknownOffer) {
		t.Fatalf("second delete: %v", err)
	}
}

func testPoolAllocation(t *testing.T, st rcm.ProvisioningStore) {
	ranges := []rcm.NumberRange{{First: "00101000000005", Last: "00101000000006"}, {First: "00101000000009", Last: "00101000000009"}}
	var got []string
	for range 3 {
		n, err := st.AllocateNumber(ctx, "p", rcm.PoolIMSI, ranges)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, n)
	}
	if fmt.Sprint(got) != "[00101000000005 00101000000006 00101000000009]" {
		t.Fatalf("allocation order %v", got)
	}
	if _, err := st.AllocateNumber(ctx, "p", rcm.PoolIMSI, ranges); !errors.Is(err, rcm.ErrPoolExhausted) {
		t.Fatalf("exhausted pool: %v", err)
	}
	// Pools are per provider and per kind.
	if n, err := st.AllocateNumber(ctx, "q", rcm.PoolIMSI, ranges); err != nil || n != "00101000000005" {
		t.Fatalf("other provider: %q, %v", n, err)
	}
	if n, err := st.AllocateNumber(ctx, "p", rcm.PoolMSISDN, ranges); err != nil || n != "00101000000005" {
		t.Fatalf("other kind: %q, %v", n, err)
	}
	if err := st.ReleaseNumber(ctx, "p", rcm.PoolIMSI, "00101000000006"); err != nil {
		t.Fatal(err)
	}
	if n, err := st.AllocateNumber(ctx, "p", rcm.PoolIMSI, ranges); err != nil || n != "00101000000006" {
		t.Fatalf("released number not reused: %q, %v", n, err)
	}
	if _, err := st.AllocateNumber(ctx, "p", rcm.PoolIMSI, ranges); !errors.Is(err, rcm.ErrPoolExhausted) {
		t.Fatalf("released number handed out twice: %v", err)
	}
}

func testPoolConcurrent(t *testing.T, st rcm.ProvisioningStore) {
	ranges := []rcm.NumberRange{{First: "001010000000100", Last: "001010000000139"}}
	var mu sync.Mutex
	seen := map[string]bool{}
	exhausted := 0
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 6 {
				n, err := st.AllocateNumber(ctx, "p", rcm.PoolIMSI, ranges)
				mu.Lock()
				switch {
				case errors.Is(err, rcm.ErrPoolExhausted):
					exhausted++
				case err != nil:
					t.Error(err)
				case seen[n]:
					t.Errorf("%s allocated twice", n)
				default:
					seen[n] = true
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != 40 || exhausted != 8 {
		t.Fatalf("%d allocated, %d exhausted; want 40 and 8", len(seen), exhausted)
	}
}

func testPreRegistrations(t *testing.T, st rcm.ProvisioningStore) {
	r := rcm.PreRegistration{IMEI: "490154203237518", ProviderID: "a", OfferID: "o", ValidUntil: time.Unix(2e9, 0).UTC(), RenewFor: time.Hour}
	if _, err := st.GetPreRegistration(ctx, r.IMEI); !errors.Is(err, rcm.ErrNoPreRegistration) {
		t.Fatalf("get absent: %v", err)
	}
	if err := st.PutPreRegistration(ctx, r); err != nil {
		t.Fatal(err)
	}
	got, err := st.GetPreRegistration(ctx, r.IMEI)
	if err != nil || !got.ValidUntil.Equal(r.ValidUntil) || got.RenewFor != r.RenewFor || got.OfferID != "o" {
		t.Fatalf("get: %+v, %v", got, err)
	}
	if l, err := st.ListPreRegistrations(ctx, "a"); err != nil || len(l) != 1 {
		t.Fatalf("list a: %v, %v", l, err)
	}
	if l, err := st.ListPreRegistrations(ctx, "b"); err != nil || len(l) != 0 {
		t.Fatalf("list b: %v, %v", l, err)
	}
	if err := st.DeletePreRegistration(ctx, r.IMEI); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetPreRegistration(ctx, r.IMEI); !errors.Is(err, rcm.ErrNoPreRegistration) {
		t.Fatalf("get deleted: %v", err)
	}
}

func session(id string, expires time.Time) rcm.Session {
	return rcm.Session{ID: id, State: rcm.StateOffered, IMEI: "490154203237518", HPKEKey: []byte{4, 1, 2},
		Candidates: []rcm.Candidate{{ProviderID: "a", OfferID: "o"}}, CreatedAt: expires.Add(-time.Hour), ExpiresAt: expires}
}

func testSessionCAS(t *testing.T, st rcm.ProvisioningStore) {
	exp := time.Unix(2e9, 0).UTC()
	if err := st.CreateSession(ctx, session("s1", exp)); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSession(ctx, session("s1", exp)); err == nil {
		t.Fatal("session id created twice")
	}
	s, err := st.GetSession(ctx, "s1")
	if err != nil || s.Version != 1 || s.State != rcm.StateOffered || len(s.Candidates) != 1 || !s.ExpiresAt.Equal(exp) {
		t.Fatalf("get: %+v, %v", s, err)
	}
	stale := s
	s.State, s.ProviderID, s.Sealed = rcm.StateAccepted, "a", []byte{9, 9}
	s2, err := st.UpdateSession(ctx, s)
	if err != nil || s2.Version != 2 {
		t.Fatalf("update: %+v, %v", s2, err)
	}
	stale.State = rcm.StateDeclined
	if _, err := st.UpdateSession(ctx, stale); !errors.Is(err, rcm.ErrSessionConflict) {
		t.Fatalf("stale update: %v, want ErrSessionConflict", err)
	}
	got, _ := st.GetSession(ctx, "s1")
	if got.State != rcm.StateAccepted || string(got.Sealed) != "\x09\x09" || got.Version != 2 {
		t.Fatalf("after stale update: %+v", got)
	}
	if _, err := st.GetSession(ctx, "nope"); !errors.Is(err, rcm.ErrUnknownSession) {
		t.Fatalf("unknown: %v", err)
	}
	if _, err := st.UpdateSession(ctx, session("nope", exp)); !errors.Is(err, rcm.ErrUnknownSession) {
		t.Fatalf("update unknown: %v", err)
	}
	if l, err := st.ListSessions(ctx, "a"); err != nil || len(l) != 1 {
		t.Fatalf("list a: %v, %v", l, err)
	}
	if l, err := st.ListSessions(ctx, "b"); err != nil || len(l) != 0 {
		t.Fatalf("list b: %v, %v", l, err)
	}
}

func testSessionCASConcurrent(t *testing.T, st rcm.ProvisioningStore) {
	if err := st.CreateSession(ctx, session("s", time.Unix(2e9, 0))); err != nil {
		t.Fatal(err)
	}
	s, err := st.GetSession(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := s
			c.Reason = fmt.Sprint(i)
			_, err := st.UpdateSession(ctx, c)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				wins++
			} else if !errors.Is(err, rcm.ErrSessionConflict) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d updates from version 1 won; exactly one may", wins)
	}
}

func testExpiredSessions(t *testing.T, st rcm.ProvisioningStore) {
	now := time.Unix(2e9, 0).UTC()
	for i, c := range []struct {
		id    string
		exp   time.Time
		state rcm.SessionState
	}{
		{"live", now.Add(time.Minute), rcm.StateOffered},
		{"due", now, rcm.StateProvisioned},
		{"old", now.Add(-time.Hour), rcm.StateAccepted},
		{"done", now.Add(-time.Hour), rcm.StateSwapped},
		{"failed", now.Add(-time.Hour), rcm.StateFailed},
	} {
		s := session(c.id, c.exp)
		s.State = c.state
		s.CreatedAt = now.Add(time.Duration(i) * time.Second)
		if err := st.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.ExpiredSessions(ctx, now, 10)
	if err != nil || len(got) != 2 || got[0].ID != "old" || got[1].ID != "due" {
		t.Fatalf("expired: %v, %v; want old, due", got, err)
	}
	if got, err := st.ExpiredSessions(ctx, now, 1); err != nil || len(got) != 1 {
		t.Fatalf("limit 1: %v, %v", got, err)
	}
}
