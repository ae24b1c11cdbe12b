package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/rcm"
)

// Run runs every behaviour of rcm.Store against stores made by newStore, each
// subtest on a fresh, empty store.
func Run(t *testing.T, newStore func(t *testing.T) rcm.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, st rcm.Store)
	}{
		{"Profiles", testProfiles},
		{"ConcurrentCreateProfile", testConcurrentCreateProfile},
		{"Revocations", testRevocations},
		{"Bindings", testBindings},
		{"ReplayCache", testReplayCache},
		{"ReplayCacheConcurrent", testReplayCacheConcurrent},
		{"ReplayCacheExpiry", testReplayCacheExpiry},
		{"RateLimiter", testRateLimiter},
		{"RateLimiterConcurrent", testRateLimiterConcurrent},
		{"RateLimiterWindow", testRateLimiterWindow},
		{"Audit", testAudit},
		{"AuditConcurrent", testAuditConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

var ctx = context.Background()

func profile(id string, tacs ...string) rcm.DeviceProfile {
	return rcm.DeviceProfile{ID: id, ProviderID: "provider-" + id, VendorCAs: [][]byte{[]byte("ca-der-" + id)},
		Coverage: rcm.Coverage{TACs: tacs, IMEIs: []rcm.IMEI{"490154203237518"}}}
}

func testProfiles(t *testing.T, st rcm.Store) {
	if ps, err := st.ListProfiles(ctx); err != nil || len(ps) != 0 {
		t.Fatalf("empty store lists %v, %v", ps, err)
	}
	if _, err := st.GetProfile(ctx, "nope"); !errors.Is(err, rcm.ErrUnknownProfile) {
		t.Fatalf("GetProfile(missing) err = %v", err)
	}
	b, a := profile("b", "35693803"), profile("a", "49015420")
	for _, p := range []rcm.DeviceProfile{b, a} {
		if err := st.CreateProfile(ctx, p); err != nil {
			t.Fatalf("CreateProfile(%s): %v", p.ID, err)
		}
	}
	if err := st.CreateProfile(ctx, profile("a")); !errors.Is(err, rcm.ErrProfileExists) {
		t.Fatalf("duplicate CreateProfile err = %v", err)
	}
	got, err := st.GetProfile(ctx, "a")
	if err != nil || !reflect.DeepEqual(got, a) {
		t.Fatalf("GetProfile(a) = %+v, %v; want %+v", got, err, a)
	}
	// The store hands out copies: mutating one changes nothing stored.
	got.Coverage.TACs[0] = "00000000"
	got.VendorCAs[0][0] = 'X'
	if again, _ := st.GetProfile(ctx, "a"); !reflect.DeepEqual(again, a) {
		t.Fatalf("stored profile changed through a returned copy: %+v", again)
	}
	ps, err := st.ListProfiles(ctx)
	if err != nil || len(ps) != 2 || ps[0].ID != "a" || ps[1].ID != "b" {
		t.Fatalf("ListProfiles = %+v, %v (want a, b in id order)", ps, err)
	}
	a.Coverage.TACs = append(a.Coverage.TACs, "35332510")
	if err := st.UpdateProfile(ctx, a); err != nil {
		t.Fatalf("UpdateProfile: %v", err)
	}
	if got, _ := st.GetProfile(ctx, "a"); !reflect.DeepEqual(got, a) {
		t.Fatalf("after update %+v", got)
	}
	if err := st.UpdateProfile(ctx, profile("zz")); !errors.Is(err, rcm.ErrUnknownProfile) {
		t.Fatalf("UpdateProfile(missing) err = %v", err)
	}
	if err := st.DeleteProfile(ctx, "a"); err != nil {
		t.Fatalf("DeleteProfile: %v", err)
	}
	if err := st.DeleteProfile(ctx, "a"); !errors.Is(err, rcm.ErrUnknownProfile) {
		t.Fatalf("second DeleteProfile err = %v", err)
	}
	if ps, _ := st.ListProfiles(ctx); len(ps) != 1 || ps[0].ID != "b" {
		t.Fatalf("after delete %+v", ps)
	}
}

func testConcurrentCreateProfile(t *testing.T, st rcm.Store) {
	var ok, exists atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch err := st.CreateProfile(ctx, profile("same")); {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, rcm.ErrProfileExists):
				exists.Add(1)
			default:
				t.Errorf("CreateProfile: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 || exists.Load() != 15 {
		t.Fatalf("%d creations succeeded, %d saw ErrProfileExists; want 1 and 15", ok.Load(), exists.Load())
	}
}

func testRevocations(t *testing.T, st rcm.Store) {
	issuerA, issuerB := rcm.Fingerprint{0xa}, rcm.Fingerprint{0xb}
	if r, err := st.IMEIRevoked(ctx, "490154203237518"); err != nil || r {
		t.Fatalf("empty store: revoked=%v err=%v", r, err)
	}
	if err := st.RevokeIMEI(ctx, "490154203237518"); err != nil {
		t.Fatal(err)
	}
	for imei, want := range map[rcm.IMEI]bool{"490154203237518": true, "356938035643809": false} {
		if r, err := st.IMEIRevoked(ctx, imei); err != nil || r != want {
			t.Fatalf("IMEIRevoked(%s) = %v, %v", imei, r, err)
		}
	}
	if err := st.RevokeSerial(ctx, rcm.SerialRevocation{Issuer: issuerA, Serial: "1f"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		issuer rcm.Fingerprint
		serial int64
		want   bool
	}{{issuerA, 0x1f, true}, {issuerB, 0x1f, false}, {issuerA, 0x20, false}} {
		if r, err := st.SerialRevoked(ctx, c.issuer, big.NewInt(c.serial)); err != nil || r != c.want {
			t.Fatalf("SerialRevoked(%x, %x) = %v, %v; want %v", c.issuer[:1], c.serial, r, err, c.want)
		}
	}
	if err := st.AddCRL(ctx, issuerA, []byte("crl-a-1")); err != nil {
		t.Fatal(err)
	}
	if err := st.AddCRL(ctx, issuerB, []byte("crl-b-1")); err != nil {
		t.Fatal(err)
	}
	if crls, err := st.IssuerCRLs(ctx, issuerA); err != nil || len(crls) != 1 || string(crls[0]) != "crl-a-1" {
		t.Fatalf("IssuerCRLs(a) = %q, %v", crls, err)
	}
	if crls, err := st.IssuerCRLs(ctx, rcm.Fingerprint{0xc}); err != nil || len(crls) != 0 {
		t.Fatalf("IssuerCRLs(unknown) = %q, %v", crls, err)
	}
	r, err := st.GetRevocations(ctx)
	if err != nil || len(r.IMEIs) != 1 || len(r.Serials) != 1 || len(r.CRLs) != 2 {
		t.Fatalf("GetRevocations = %+v, %v", r, err)
	}
	// Revoking twice is idempotent.
	if err := st.RevokeIMEI(ctx, "490154203237518"); err != nil {
		t.Fatal(err)
	}
	if r, _ := st.GetRevocations(ctx); len(r.IMEIs) != 1 {
		t.Fatalf("duplicate IMEI revocation stored twice: %v", r.IMEIs)
	}
}

func binding(imsi hss.IMSI, expires time.Time) rcm.Binding {
	return rcm.Binding{GuestIMSI: imsi, IMEI: "490154203237518", CertFingerprint: rcm.Fingerprint{1, 2, 3},
		ProfileID: "p", ProviderID: "v", MMEHost: "mme1.epc", MMERealm: "epc",
		CreatedAt: expires.Add(-10 * time.Minute), ExpiresAt: expires}
}

func testBindings(t *testing.T, st rcm.Store) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	if _, err := st.GetBinding(ctx, "001019990000001"); !errors.Is(err, rcm.ErrNoBinding) {
		t.Fatalf("GetBinding(missing) err = %v", err)
	}
	past, future := binding("001019990000001", now.Add(-time.Second)), binding("001019990000002", now.Add(time.Hour))
	for _, b := range []rcm.Binding{past, future} {
		if err := st.PutBinding(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.GetBinding(ctx, future.GuestIMSI)
	if err != nil || !got.ExpiresAt.Equal(future.ExpiresAt) || got.IMEI != future.IMEI || got.CertFingerprint != future.CertFingerprint || got.MMEHost != "mme1.epc" {
		t.Fatalf("GetBinding = %+v, %v", got, err)
	}
	// An expired binding stays readable until deleted: the HSS must still send
	// its CLR and refuse ULRs with ErrBindingExpired.
	if got, err := st.GetBinding(ctx, past.GuestIMSI); err != nil || !got.Expired(now) {
		t.Fatalf("expired binding: %+v, %v", got, err)
	}
	exp, err := st.ExpiredBindings(ctx, now, 10)
	if err != nil || len(exp) != 1 || exp[0].GuestIMSI != past.GuestIMSI {
		t.Fatalf("ExpiredBindings = %+v, %v", exp, err)
	}
	if exp, _ := st.ExpiredBindings(ctx, now.Add(2*time.Hour), 1); len(exp) != 1 {
		t.Fatalf("limit 1 returned %d", len(exp))
	}
	// Replacing a binding moves its expiry.
	renewed := past
	renewed.ExpiresAt = now.Add(time.Hour)
	if err := st.PutBinding(ctx, renewed); err != nil {
		t.Fatal(err)
	}
	if exp, _ := st.ExpiredBindings(ctx, now, 10); len(exp) != 0 {
		t.Fatalf("renewed binding still listed as expired: %+v", exp)
	}
	if err := st.DeleteBinding(ctx, past.GuestIMSI); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetBinding(ctx, past.GuestIMSI); !errors.Is(err, rcm.ErrNoBinding) {
		t.Fatalf("after delete err = %v", err)
	}
	if exp, _ := st.ExpiredBindings(ctx, now.Add(2*time.Hour), 10); len(exp) != 1 || exp[0].GuestIMSI != future.GuestIMSI {
		t.Fatalf("deleted binding still listed: %+v", exp)
	}
}

func testReplayCache(t *testing.T, st rcm.Store) {
	for i, want := range []bool{false, true, true} {
		if seen, err := st.Seen(ctx, "k1", time.Minute); err != nil || seen != want {
			t.Fatalf("Seen #%d = %v, %v; want %v", i, seen, err, want)
		}
	}
	if seen, _ := st.Seen(ctx, "k2", time.Minute); seen {
		t.Fatal("keys are not independent")
	}
}

func testReplayCacheConcurrent(t *testing.T, st rcm.Store) {
	var first atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seen, err := st.Seen(ctx, "race", time.Minute)
			if err != nil {
				t.Error(err)
			}
			if !seen {
				first.Add(1)
			}
		}()
	}
	wg.Wait()
	if first.Load() != 1 {
		t.Fatalf("%d callers saw the key as new; exactly one may", first.Load())
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s", what)
		}
		time.Sleep(5 * time.Millisecond) // poll interval, not a readiness wait
	}
}

func testReplayCacheExpiry(t *testing.T, st rcm.Store) {
	if seen, _ := st.Seen(ctx, "short", 50*time.Millisecond); seen {
		t.Fatal("new key seen")
	}
	// A hit must not extend the TTL (SET NX semantics), so polling ends.
	eventually(t, "replay entry expires", func() bool {
		seen, err := st.Seen(ctx, "short", 50*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		return !seen
	})
}

func testRateLimiter(t *testing.T, st rcm.Store) {
	for i := 1; i <= 5; i++ {
		ok, err := st.Allow(ctx, "imei:1", 3, time.Minute)
		if err != nil || ok != (i <= 3) {
			t.Fatalf("attempt %d: Allow = %v, %v", i, ok, err)
		}
	}
	if ok, _ := st.Allow(ctx, "imei:2", 3, time.Minute); !ok {
		t.Fatal("keys are not independent")
	}
}

func testRateLimiterConcurrent(t *testing.T, st rcm.Store) {
	var allowed atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := st.Allow(ctx, "tac:49015420", 7, time.Minute)
			if err != nil {
				t.Error(err)
			}
			if ok {
				allowed.Add(1)
			}
		}()
	}
	wg.Wait()
	if allowed.Load() != 7 {
		t.Fatalf("%d of 40 concurrent attempts allowed with limit 7", allowed.Load())
	}
}

func testRateLimiterWindow(t *testing.T, st rcm.Store) {
	if ok, _ := st.Allow(ctx, "w", 1, 50*time.Millisecond); !ok {
		t.Fatal("first attempt refused")
	}
	if ok, _ := st.Allow(ctx, "w", 1, 50*time.Millisecond); ok {
		t.Fatal("second attempt in the window allowed")
	}
	eventually(t, "window resets", func() bool {
		ok, err := st.Allow(ctx, "w", 1, 50*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	})
}

func record(i int) rcm.AuditRecord {
	return rcm.NewAuditRecord(time.Unix(1767225600+int64(i), 0), rcm.AuditRejected, "001019990000001", "490154203237518",
		fmt.Errorf("attempt %d: %w", i, rcm.ErrBadSignature))
}

func testAudit(t *testing.T, st rcm.Store) {
	if es, err := st.ListAudit(ctx, 0, 10); err != nil || len(es) != 0 {
		t.Fatalf("empty log: %v, %v", es, err)
	}
	var last rcm.AuditEntry
	for i := 1; i <= 5; i++ {
		e, err := st.AppendAudit(ctx, record(i))
		if err != nil {
			t.Fatal(err)
		}
		if e.Seq != uint64(i) || (i > 1 && e.PrevHash != last.Hash) {
			t.Fatalf("entry %d = %+v", i, e)
		}
		last = e
	}
	all, err := st.ListAudit(ctx, 0, 100)
	if err != nil || len(all) != 5 {
		t.Fatalf("ListAudit = %d entries, %v", len(all), err)
	}
	if err := rcm.VerifyChain(all); err != nil {
		t.Fatalf("stored chain: %v", err)
	}
	if all[4] != last {
		t.Fatalf("listed %+v, appended %+v", all[4], last)
	}
	page, err := st.ListAudit(ctx, 2, 2)
	if err != nil || len(page) != 2 || page[0].Seq != 3 || page[1].Seq != 4 {
		t.Fatalf("ListAudit(after 2, limit 2) = %+v, %v", page, err)
	}
	if err := rcm.VerifyChain(page); err != nil {
		t.Fatalf("page: %v", err)
	}
}

func testAuditConcurrent(t *testing.T, st rcm.Store) {
	var wg sync.WaitGroup
	for i := 0; i < 24; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := st.AppendAudit(ctx, record(i)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	all, err := st.ListAudit(ctx, 0, 100)
	if err != nil || len(all) != 24 {
		t.Fatalf("ListAudit = %d entries, %v", len(all), err)
	}
	if err := rcm.VerifyChain(all); err != nil {
		t.Fatalf("concurrent appends broke the chain: %v", err)
	}
}
