package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rcmhss/rcmhss/hss"
)

// Run runs every behaviour of hss.Store against stores made by newStore. Each
// subtest calls newStore once and expects an empty store; newStore registers its
// own cleanup (t.Cleanup) and the suite may Close the store itself.
func Run(t *testing.T, newStore func(t *testing.T) hss.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, st hss.Store)
	}{
		{"CreateGet", testCreateGet},
		{"CopiesNotShared", testCopiesNotShared},
		{"CreateDuplicate", testCreateDuplicate},
		{"CreateInvalid", testCreateInvalid},
		{"Unknown", testUnknown},
		{"MalformedIMSI", testMalformedIMSI},
		{"Update", testUpdate},
		{"UpdateAborts", testUpdateAborts},
		{"UpdateKeys", testUpdateKeys},
		{"Delete", testDelete},
		{"List", testList},
		{"ReserveSQN", testReserveSQN},
		{"ReserveSQNInitial", testReserveSQNInitial},
		{"ReserveSQNLRU", testReserveSQNLRU},
		{"ReserveSQNNoIND", testReserveSQNNoIND},
		{"ReserveSQNBadArgs", testReserveSQNBadArgs},
		{"ReserveSQNExhausted", testReserveSQNExhausted},
		{"ResyncSQN", testResyncSQN},
		{"ResyncSQNBadArgs", testResyncSQNBadArgs},
		{"MMERegistration", testMMERegistration},
		{"AAARegistration", testAAARegistration},
		{"ConcurrentReserve", testConcurrentReserve},
		{"ConcurrentUpdate", testConcurrentUpdate},
		{"PingClose", testPingClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

// Subscriber returns a typical subscriber: OP and OPc, MSISDN, two APNs (one
// with static addresses), roaming to two PLMNs, non-3GPP access. Benchmarks and
// memory measurements use it too.
func Subscriber(imsi hss.IMSI) *hss.Subscriber {
	op := hss.Key{0xcd, 0xc2, 0x02, 0xd5, 0x12, 0x3e, 0x20, 0xf6, 0x2b, 0x6d, 0x67, 0x6a, 0xc7, 0x2c, 0xb3, 0x18}
	plmnA, _ := hss.ParsePLMN("001", "01")
	plmnB, _ := hss.ParsePLMN("310", "410")
	return &hss.Subscriber{
		IMSI:              imsi,
		K:                 hss.Key{0x46, 0x5b, 0x5c, 0xe8, 0xb1, 0x99, 0xb4, 0x9f, 0xaa, 0x5f, 0x0a, 0x2e, 0xe2, 0x38, 0xa6, 0xbc},
		OPc:               hss.Key{0xcd, 0x63, 0xcb, 0x71, 0x95, 0x4a, 0x9f, 0x4e, 0x48, 0xa5, 0x99, 0x4e, 0x37, 0xa0, 0x2b, 0xaf},
		OP:                &op,
		AMF:               [2]byte{0x80, 0x00},
		SQN:               0x20,
		MSISDN:            "491700000001",
		Status:            hss.ServiceGranted,
		NetworkAccessMode: hss.OnlyPacket,
		AMBR:              hss.AMBR{UL: 100_000_000, DL: 200_000_000},
		APNs: []hss.APNConfiguration{
			{
				ContextID: 1, Name: "internet", PDNType: hss.PDNIPv4v6, QCI: 9,
				ARP:  hss.ARP{PriorityLevel: 8, PreemptionCapability: false, PreemptionVulnerability: true},
				AMBR: hss.AMBR{UL: 50_000_000, DL: 100_000_000},
			},
			{
				ContextID: 2, Name: "ims", PDNType: hss.PDNIPv4, QCI: 5,
				ARP:        hss.ARP{PriorityLevel: 1, PreemptionCapability: true, PreemptionVulnerability: false},
				AMBR:       hss.AMBR{UL: 1_000_000, DL: 1_000_000},
				StaticIPv4: netip.MustParseAddr("10.45.0.7"),
				StaticIPv6: netip.MustParseAddr("2001:db8::7"),
			},
		},
		DefaultContextID:    1,
		AccessRestriction:   hss.UTRANNotAllowed | hss.GERANNotAllowed,
		RoamingAllowed:      true,
		AllowedVisitedPLMNs: []hss.PLMN{plmnA, plmnB},
		PeriodicRAUTAUTimer: 3240,
		Non3GPP:             hss.Non3GPPProfile{AccessAllowed: true, APNContextIDs: []uint32{1}},
	}
}

// MMERegistration returns a typical MME registration for host.
func MMERegistration(host string) hss.MMERegistration {
	plmn, _ := hss.ParsePLMN("001", "01")
	return hss.MMERegistration{
		Host:            host,
		Realm:           "epc.mnc001.mcc001.3gppnetwork.org",
		VisitedPLMN:     plmn,
		RATType:         hss.RATEUTRAN,
		ULRFlags:        hss.ULRS6aS6dIndicator | hss.ULRInitialAttach,
		IMEI:            "35209900176148",
		SoftwareVersion: "23",
		NORFlags:        0,
		UpdatedAt:       time.Date(2026, 11, 29, 10, 0, 0, 123456789, time.UTC),
	}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var imsiCounter struct {
	sync.Mutex
	n int
}

// newIMSI returns a distinct IMSI of the test PLMN 001/01.
func newIMSI() hss.IMSI {
	imsiCounter.Lock()
	defer imsiCounter.Unlock()
	imsiCounter.n++
	return hss.IMSI(fmt.Sprintf("00101%010d", imsiCounter.n))
}

func create(t *testing.T, st hss.Store, s *hss.Subscriber) {
	t.Helper()
	if err := st.CreateSubscriber(ctxFor(t), s); err != nil {
		t.Fatalf("CreateSubscriber(%s): %v", s.IMSI, err)
	}
}

func get(t *testing.T, st hss.Store, imsi hss.IMSI) *hss.Subscriber {
	t.Helper()
	s, err := st.GetSubscriber(ctxFor(t), imsi)
	if err != nil {
		t.Fatalf("GetSubscriber(%s): %v", imsi, err)
	}
	return s
}

func reserve(t *testing.T, st hss.Store, imsi hss.IMSI, node string, n int, indBits uint8) hss.SQNReservation {
	t.Helper()
	r, err := st.ReserveSQN(ctxFor(t), imsi, node, n, indBits)
	if err != nil {
		t.Fatalf("ReserveSQN(%s, %q, %d, %d): %v", imsi, node, n, indBits, err)
	}
	return r
}

// sameSubscriber compares two records field by field; timestamps with Equal.
func sameSubscriber(t *testing.T, what string, got, want *hss.Subscriber) {
	t.Helper()
	g, w := *got, *want
	if !g.CreatedAt.Equal(w.CreatedAt) || !g.UpdatedAt.Equal(w.UpdatedAt) {
		t.Errorf("%s: times created=%v updated=%v, want created=%v updated=%v", what, g.CreatedAt, g.UpdatedAt, w.CreatedAt, w.UpdatedAt)
	}
	g.CreatedAt, g.UpdatedAt, w.CreatedAt, w.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	// Key redacts itself under %v; compare the secrets explicitly.
	if g.K != w.K || g.OPc != w.OPc || (g.OP == nil) != (w.OP == nil) || (g.OP != nil && *g.OP != *w.OP) {
		t.Errorf("%s: keys differ (K %v, OPc %v, OP %v)", what, g.K == w.K, g.OPc == w.OPc, (g.OP == nil) == (w.OP == nil) && (g.OP == nil || *g.OP == *w.OP))
	}
	g.OP, w.OP = nil, nil
	if !reflect.DeepEqual(normalize(g), normalize(w)) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, g, w)
	}
}

// normalize treats nil and empty slices alike.
func normalize(s hss.Subscriber) hss.Subscriber {
	if len(s.APNs) == 0 {
		s.APNs = nil
	}
	if len(s.AllowedVisitedPLMNs) == 0 {
		s.AllowedVisitedPLMNs = nil
	}
	if len(s.Non3GPP.APNContextIDs) == 0 {
		s.Non3GPP.APNContextIDs = nil
	}
	return s
}

func testCreateGet(t *testing.T, st hss.Store) {
	want := Subscriber(newIMSI())
	want.CreatedAt = time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	create(t, st, want)
	got := get(t, st, want.IMSI)
	if got.UpdatedAt.IsZero() {
		t.Error("UpdatedAt not set by CreateSubscriber")
	}
	want.UpdatedAt = got.UpdatedAt
	sameSubscriber(t, "get after create", got, want)

	// Without OP, and with CreatedAt left to the store.
	min := &hss.Subscriber{IMSI: newIMSI(), K: hss.Key{1}, OPc: hss.Key{2}}
	create(t, st, min)
	got = get(t, st, min.IMSI)
	if got.OP != nil {
		t.Error("OP present on a subscriber created without OP")
	}
	if got.CreatedAt.IsZero() {
		t.Error("CreatedAt not set by CreateSubscriber")
	}
	if got.K != min.K || got.OPc != min.OPc || got.SQN != 0 {
		t.Errorf("minimal subscriber: keys equal %v/%v, SQN %d", got.K == min.K, got.OPc == min.OPc, got.SQN)
	}
}

func testCopiesNotShared(t *testing.T, st hss.Store) {
	orig := Subscriber(newIMSI())
	create(t, st, orig)
	want := get(t, st, orig.IMSI)
	// Changing the caller's value after the call must not reach the store.
	orig.APNs[0].Name = "changed"
	orig.AllowedVisitedPLMNs[0] = hss.PLMN{}
	orig.Non3GPP.APNContextIDs[0] = 2
	*orig.OP = hss.Key{9}
	got := get(t, st, orig.IMSI)
	got.APNs[1].QCI = 1
	got.AllowedVisitedPLMNs[1] = hss.PLMN{}
	*got.OP = hss.Key{8}
	sameSubscriber(t, "after mutating caller copies", get(t, st, orig.IMSI), want)

	if _, err := st.SetMMERegistration(ctxFor(t), orig.IMSI, MMERegistration("mme1")); err != nil {
		t.Fatal(err)
	}
	regs, err := st.GetRegistrations(ctxFor(t), orig.IMSI)
	if err != nil {
		t.Fatal(err)
	}
	regs.MME.Purged = true
	regs, err = st.GetRegistrations(ctxFor(t), orig.IMSI)
	if err != nil {
		t.Fatal(err)
	}
	if regs.MME.Purged {
		t.Error("registration returned by GetRegistrations is shared with the store")
	}
}

func testCreateDuplicate(t *testing.T, st hss.Store) {
	s := Subscriber(newIMSI())
	create(t, st, s)
	dup := Subscriber(s.IMSI)
	dup.MSISDN = "491700000999"
	dup.SQN = 1 << 20
	if err := st.CreateSubscriber(ctxFor(t), dup); !errors.Is(err, hss.ErrSubscriberExists) {
		t.Fatalf("duplicate create: %v, want ErrSubscriberExists", err)
	}
	got := get(t, st, s.IMSI)
	if got.MSISDN != s.MSISDN || got.SQN != s.SQN {
		t.Errorf("duplicate create changed the record: msisdn %s sqn %d", got.MSISDN, got.SQN)
	}
}

func testCreateInvalid(t *testing.T, st hss.Store) {
	ctx := ctxFor(t)
	s := Subscriber(newIMSI())
	s.K = hss.Key{}
	if err := st.CreateSubscriber(ctx, s); !errors.Is(err, hss.ErrInvalidInput) {
		t.Fatalf("create without K: %v, want ErrInvalidInput", err)
	}
	if _, err := st.GetSubscriber(ctx, s.IMSI); !errors.Is(err, hss.ErrUnknownSubscriber) {
		t.Fatalf("invalid subscriber was stored: %v", err)
	}
	s = Subscriber(newIMSI())
	s.SQN = hss.MaxSQN + 1
	if err := st.CreateSubscriber(ctx, s); !errors.Is(err, hss.ErrInvalidInput) {
		t.Fatalf("create with 49-bit SQN: %v, want ErrInvalidInput", err)
	}
	if err := st.CreateSubscriber(ctx, nil); !errors.Is(err, hss.ErrInvalidInput) {
		t.Fatalf("create nil: %v, want ErrInvalidInput", err)
	}
}

func testUnknown(t *testing.T, st hss.Store) {
	ctx := ctxFor(t)
	imsi := newIMSI()
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, hss.ErrUnknownSubscriber) {
			t.Errorf("%s on unknown IMSI: %v, want ErrUnknownSubscriber", op, err)
		}
	}
	_, err := st.GetSubscriber(ctx, imsi)
	check("GetSubscriber", err)
	called := false
	_, err = st.UpdateSubscriber(ctx, imsi, func(*hss.Subscriber) error { called = true; return nil })
	check("UpdateSubscriber", err)
	if called {
		t.Error("UpdateSubscriber called fn for an unknown IMSI")
	}
	_, err = st.DeleteSubscriber(ctx, imsi)
	check("DeleteSubscriber", err)
	_, err = st.ReserveSQN(ctx, imsi, "mme1", 1, 5)
	check("ReserveSQN", err)
	_, err = st.ResyncSQN(ctx, imsi, "mme1", 5, 100, 1, 5)
	check("ResyncSQN", err)
	_, err = st.SetMMERegistration(ctx, imsi, MMERegistration("mme1"))
	check("SetMMERegistration", err)
	_, err = st.UpdateMMERegistration(ctx, imsi, "mme1", func(*hss.MMERegistration) {})
	check("UpdateMMERegistration", err)
	_, err = st.SetAAARegistration(ctx, imsi, &hss.AAARegistration{ServerName: "aaa1"})
	check("SetAAARegistration", err)
	_, err = st.GetRegistrations(ctx, imsi)
	check("GetRegistrations", err)
	// Registrations for an unknown IMSI must not have been stored on the side.
	create(t, st, Subscriber(imsi))
	regs, err := st.GetRegistrations(ctx, imsi)
	if err != nil {
		t.Fatal(err)
	}
	if regs.MME != nil || regs.AAA != nil {
		t.Errorf("registrations set before the subscriber existed survived: %+v", regs)
	}
}

func testMalformedIMSI(t *testing.T, st hss.Store) {
	ctx := ctxFor(t)
	for _, imsi := range []hss.IMSI{"", "0010", "00101{123}4567", "00101abc"} {
		if _, err := st.GetSubscriber(ctx, imsi); !errors.Is(err, hss.ErrInvalidInput) {
			t.Errorf("GetSubscriber(%q): %v, want ErrInvalidInput", imsi, err)
		}
		if _, err := st.ReserveSQN(ctx, imsi, "mme1", 1, 5); !errors.Is(err, hss.ErrInvalidInput) {
			t.Errorf("ReserveSQN(%q): %v, want ErrInvalidInput", imsi, err)
		}
	}
}

func testUpdate(t *testing.T, st hss.Store) {
	s := Subscriber(newIMSI())
	create(t, st, s)
	before := get(t, st, s.IMSI)
	reserve(t, st, s.IMSI, "mme1", 2, 5)
	sqnHE := get(t, st, s.IMSI).SQN

	updated, err := st.UpdateSubscriber(ctxFor(t), s.IMSI, func(c *hss.Subscriber) error {
		c.MSISDN = "491700000002"
		c.APNs = append(c.APNs, hss.APNConfiguration{ContextID: 3, Name: "mms", PDNType: hss.PDNIPv4, QCI: 8, ARP: hss.ARP{PriorityLevel: 9}})
		c.SQN = 7 // has no effect on SQN_HE
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateSubscriber: %v", err)
	}
	got := get(t, st, s.IMSI)
	sameSubscriber(t, "returned by update vs stored", updated, got)
	if got.MSISDN != "491700000002" || len(got.APNs) != 3 || got.APNs[2].Name != "mms" {
		t.Errorf("update not applied: msisdn %s apns %d", got.MSISDN, len(got.APNs))
	}
	if got.SQN != sqnHE {
		t.Errorf("SQN_HE after update = %d, want %d (changing SQN must have no effect)", got.SQN, sqnHE)
	}
	if !got.CreatedAt.Equal(before.CreatedAt) {
		t.Errorf("CreatedAt changed by update: %v -> %v", before.CreatedAt, got.CreatedAt)
	}
	if got.UpdatedAt.Before(before.UpdatedAt) {
		t.Errorf("UpdatedAt went back: %v -> %v", before.UpdatedAt, got.UpdatedAt)
	}
}

func testUpdateAborts(t *testing.T, st hss.Store) {
	ctx := ctxFor(t)
	s := Subscriber(newIMSI())
	create(t, st, s)
	want := get(t, st, s.IMSI)

	errVeto := errors.New("veto")
	_, err := st.UpdateSubscriber(ctx, s.IMSI, func(c *hss.Subscriber) error {
		c.MSISDN = "491700000003"
		return errVeto
	})
	if !errors.Is(err, errVeto) {
		t.Errorf("fn error: got %v, want it wrapped", err)
	}
	_, err = st.UpdateSubscriber(ctx, s.IMSI, func(c *hss.Subscriber) error {
		c.IMSI = newIMSI()
		return nil
	})
	if !errors.Is(err, hss.ErrInvalidInput) {
		t.Errorf("IMSI change: %v, want ErrInvalidInput", err)
	}
	_, err = st.UpdateSubscriber(ctx, s.IMSI, func(c *hss.Subscriber) error {
		c.APNs[0].QCI = 0
		return nil
	})
	if !errors.Is(err, hss.ErrInvalidInput) {
		t.Errorf("invalid result: %v, want ErrInvalidInput", err)
	}
	sameSubscriber(t, "after aborted updates", get(t, st, s.IMSI), want)
}

func testUpdateKeys(t *testing.T, st hss.Store) {
	s := Subscriber(newIMSI())
	create(t, st, s)
	newK, newOPc := hss.Key{0xaa, 1}, hss.Key{0xbb, 2}
	if _, err := st.UpdateSubscriber(ctxFor(t), s.IMSI, func(c *hss.Subscriber) error {
		c.K, c.OPc, c.OP, c.AMF = newK, newOPc, nil, [2]byte{0x90, 0x01}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got := get(t, st, s.IMSI)
	if got.K != newK || got.OPc != newOPc || got.OP != nil || got.AMF != [2]byte{0x90, 0x01} {
		t.Errorf("keys after update: K ok %v, OPc ok %v, OP %v, AMF %x", got.K == newK, got.OPc == newOPc, got.OP != nil, got.AMF)
	}
	r := reserve(t, st, s.IMSI, "mme1", 1, 5)
	if r.Material.K != newK || r.Material.OPc != newOPc || r.Material.AMF != [2]byte{0x90, 0x01} {
		t.Error("ReserveSQN returns stale key material after an update")
	}
}

func testDelete(t *testing.T, st hss.Store) {
	ctx := ctxFor(t)
	s := Subscriber(newIMSI())
	create(t, st, s)
	other := Subscriber(newIMSI())
	create(t, st, other)
	reserve(t, st, s.IMSI, "mme1", 5, 5)
	mme := MMERegistration("mme1.example")
	aaa := &hss.AAARegistration{ServerName: "aaa1.example", Realm: "example", UpdatedAt: time.Date(2026, 5, 5, 5, 5, 5, 5, time.UTC)}
	if _, err := st.SetMMERegistration(ctx, s.IMSI, mme); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetAAARegistration(ctx, s.IMSI, aaa); err != nil {
		t.Fatal(err)
	}
	regs, err := st.DeleteSubscriber(ctx, s.IMSI)
	if err != nil {
		t.Fatalf("DeleteSubscriber: %v", err)
	}
	if regs.MME == nil || !reflect.DeepEqual(*regs.MME, mme) {
		t.Errorf("deleted MME registration = %+v, want %+v", regs.MME, mme)
	}
	if regs.AAA == nil || !reflect.DeepEqual(*regs.AAA, *aaa) {
		t.Errorf("deleted AAA registration = %+v, want %+v", regs.AAA, aaa)
	}
	if _, err := st.GetSubscriber(ctx, s.IMSI); !errors.Is(err, hss.ErrUnknownSubscriber) {
		t.Errorf("get after delete: %v, want ErrUnknownSubscriber", err)
	}
	if _, err := st.DeleteSubscriber(ctx, s.IMSI); !errors.Is(err, hss.ErrUnknownSubscriber) {
		t.Errorf("second delete: %v, want ErrUnknownSubscriber", err)
	}
	imsis, _, err := st.ListSubscribers(ctx, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(imsis, []hss.IMSI{other.IMSI}) {
		t.Errorf("list after delete = %v, want [%s]", imsis, other.IMSI)
	}
	get(t, st, other.IMSI)

	// A re-created subscriber starts from its own seed, with no registrations.
	s.SQN = 0x40
	create(t, st, s)
	if got := get(t, st, s.IMSI).SQN; got != 0x40 {
		t.Errorf("SQN_HE after re-create = %#x, want 0x40 (old SQN state survived delete)", got)
	}
	regs, err = st.GetRegistrations(ctx, s.IMSI)
	if err != nil {
		t.Fatal(err)
	}
	if regs.MME != nil || regs.AAA != nil {
		t.Errorf("registrations survived delete: %+v", regs)
	}
	// No registrations: Delete returns none.
	regs, err = st.DeleteSubscriber(ctx, other.IMSI)
	if err != nil || regs.MME != nil || regs.AAA != nil {
		t.Errorf("delete without registrations = %+v, %v", regs, err)
	}
}

func testList(t *testing.T, st hss.Store) {
	ctx := ctxFor(t)
	imsis, next, err := st.ListSubscribers(ctx, "", 10)
	if err != nil || len(imsis) != 0 || next != "" {
		t.Fatalf("empty store: %v %q %v", imsis, next, err)
	}
	var want []hss.IMSI
	for range 23 {
		want = append(want, newIMSI())
	}
	want = append(want, "9991234567", "0010100") // other lengths sort bytewise
	for _, i := range rand.Perm(len(want)) {
		create(t, st, &hss.Subscriber{IMSI: want[i], K: hss.Key{1}, OPc: hss.Key{2}})
	}
	slices.Sort(want)

	for _, limit := range []int{1, 7, 25, 100} {
		var got []hss.IMSI
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > len(want) {
				t.Fatalf("limit %d: paging does not end", limit)
			}
			page, next, err := st.ListSubscribers(ctx, cursor, limit)
			if err != nil {
				t.Fatalf("limit %d: %v", limit, err)
			}
			if len(page) > limit {
				t.Fatalf("limit %d: page of %d", limit, len(page))
			}
			if next != "" && len(page) != limit {
				t.Fatalf("limit %d: short page %d with next %q", limit, len(page), next)
			}
			got = append(got, page...)
			if next == "" {
				break
			}
			cursor = next
		}
		if !slices.Equal(got, want) {
			t.Errorf("limit %d: listed\n%v\nwant\n%v", limit, got, want)
		}
	}
	// A cursor need not be an existing IMSI.
	page, _, err := st.ListSubscribers(ctx, string(want[3])+"0", 2)
	if err != nil || !slices.Equal(page, want[4:6]) {
		t.Errorf("list after a non-member cursor = %v, %v; want %v", page, err, want[4:6])
	}
	if _, _, err := st.ListSubscribers(ctx, "", 0); !errors.Is(err, hss.ErrInvalidInput) {
		t.Errorf("limit 0: %v, want ErrInvalidInput", err)
	}
}

func testReserveSQN(t *testing.T, st hss.Store) {
	s := Subscriber(newIMSI())
	s.SQN = 0
	create(t, st, s)
	r1 := reserve(t, st, s.IMSI, "mme1", 3, 5)
	if r1.FirstSEQ != 1 {
		t.Errorf("first SEQ = %d, want 1", r1.FirstSEQ)
	}
	if r1.Material.K != s.K || r1.Material.OPc != s.OPc || r1.Material.AMF != s.AMF {
		t.Error("reservation material differs from the subscriber's keys")
	}
	r2 := reserve(t, st, s.IMSI, "mme1", 2, 5)
	if r2.FirstSEQ != 4 || r2.IND != r1.IND {
		t.Errorf("second reservation SEQ %d IND %d, want 4 and IND %d", r2.FirstSEQ, r2.IND, r1.IND)
	}
	r3 := reserve(t, st, s.IMSI, "mme2", 1, 5)
	if r3.FirstSEQ != 6 || r3.IND == r1.IND {
		t.Errorf("other node: SEQ %d IND %d, want 6 and an IND other than %d", r3.FirstSEQ, r3.IND, r1.IND)
	}
	if r3.IND >= 32 || r1.IND >= 32 {
		t.Errorf("IND out of 5 bits: %d %d", r1.IND, r3.IND)
	}
	// SQN_HE is the last SQN handed out: SEQ 6 || IND of mme2 (TS 33.102 C.1.2).
	if got, want := get(t, st, s.IMSI).SQN, uint64(6)<<5|uint64(r3.IND); got != want {
		t.Errorf("SQN_HE = %#x, want %#x", got, want)
	}
	if r := reserve(t, st, s.IMSI, "mme1", 1, 5); r.IND != r1.IND || r.FirstSEQ != 7 {
		t.Errorf("back to mme1: SEQ %d IND %d, want 7 and IND %d", r.FirstSEQ, r.IND, r1.IND)
	}
	// SQN state is per subscriber.
	o := Subscriber(newIMSI())
	o.SQN = 0
	create(t, st, o)
	if r := reserve(t, st, o.IMSI, "mme1", 1, 5); r.FirstSEQ != 1 {
		t.Errorf("another subscriber starts at SEQ %d, want 1", r.FirstSEQ)
	}
}

func testReserveSQNInitial(t *testing.T, st hss.Store) {
	s := Subscriber(newIMSI())
	s.SQN = 100<<5 | 7
	create(t, st, s)
	if got := get(t, st, s.IMSI).SQN; got != s.SQN {
		t.Errorf("SQN_HE before any reservation = %#x, want the seed %#x", got, s.SQN)
	}
	if r := reserve(t, st, s.IMSI, "mme1", 1, 5); r.FirstSEQ != 101 {
		t.Errorf("first SEQ from seed SEQ 100 = %d, want 101", r.FirstSEQ)
	}
}

func testReserveSQNLRU(t *testing.T, st hss.Store) {
	s := Subscriber(newIMSI())
	create(t, st, s)
	const bits = 2 // 4 slots
	ind := map[string]uint32{}
	for _, node := range []string{"a", "b", "c", "d"} {
		ind[node] = reserve(t, st, s.IMSI, node, 1, bits).IND
	}
	seen := map[uint32]string{}
	for node, i := range ind {
		if prev, dup := seen[i]; dup {
			t.Fatalf("nodes %s and %s share IND %d while slots are free", prev, node, i)
		}
		seen[i] = node
	}
	reserve(t, st, s.IMSI, "a", 1, bits) // b is now least recently used
	if got := reserve(t, st, s.IMSI, "e", 1, bits).IND; got != ind["b"] {
		t.Errorf("fifth node got IND %d, want b's slot %d (least recently used)", got, ind["b"])
	}
	ind["e"] = ind["b"]
	// c is now least recently used; b comes back and takes it.
	if got := reserve(t, st, s.IMSI, "b", 1, bits).IND; got != ind["c"] {
		t.Errorf("returning node b got IND %d, want c's slot %d", got, ind["c"])
	}
	for _, node := range []string{"a", "d", "e"} {
		if got := reserve(t, st, s.IMSI, node, 1, bits).IND; got != ind[node] {
			t.Errorf("node %s moved from IND %d to %d", node, ind[node], got)
		}
	}
}

func testReserveSQNNoIND(t *testing.T, st hss.Store) {
	s := Subscriber(newIMSI())
	s.SQN = 10
	create(t, st, s)
	r1 := reserve(t, st, s.IMSI, "mme1", 2, 0)
	r2 := reserve(t, st, s.IMSI, "mme2", 2, 0)
	if r1.IND != 0 || r2.IND != 0 || r1.FirstSEQ != 11 || r2.FirstSEQ != 13 {
		t.Errorf("indBits 0: %d/%d and %d/%d, want SEQ 11 and 13 with IND 0", r1.FirstSEQ, r1.IND, r2.FirstSEQ, r2.IND)
	}
	if got := get(t, st, s.IMSI).SQN; got != 14 {
		t.Errorf("SQN_HE = %d, want 14", got)
	}
}

func testReserveSQNBadArgs(t *testing.T, st hss.Store) {
	ctx := ctxFor(t)
	s := Subscriber(newIMSI())
	create(t, st, s)
	for _, c := range []struct {
		node    string
		n       int
		indBits uint8
	}{{"mme1", 0, 5}, {"mme1", -1, 5}, {"", 1, 5}, {"mme1", 1, 48}} {
		if _, err := st.ReserveSQN(ctx, s.IMSI, c.node, c.n, c.indBits); !errors.Is(err, hss.ErrInvalidInput) {
			t.Errorf("ReserveSQN(%q, %d, %d): %v, want ErrInvalidInput", c.node, c.n, c.indBits, err)
		}
	}
	if got := get(t, st, s.IMSI).SQN; got != s.SQN {
		t.Errorf("bad requests moved SQN_HE to %#x", got)
	}
}

func testReserveSQNExhausted(t *testing.T, st hss.Store) {
	ctx := ctxFor(t)
	s := Subscriber(newIMSI())
	const maxSEQ = 1<<43 - 1 // 48-bit SQN with 5 IND bits
	s.SQN = (maxSEQ - 2) << 5
	create(t, st, s)
	if r := reserve(t, st, s.IMSI, "mme1", 2, 5); r.FirstSEQ != maxSEQ-1 {
		t.Fatalf("FirstSEQ = %d, want %d", r.FirstSEQ, maxSEQ-1)
	}
	before := get(t, st, s.IMSI).SQN
	if _, err := st.ReserveSQN(ctx, s.IMSI, "mme1", 1, 5); !errors.Is(err, hss.ErrAuthDataUnavailable) {
		t.Errorf("reserve beyond 2^43-1: %v, want ErrAuthDataUnavailable", err)
	}
	if got := get(t, st, s.IMSI).SQN; got != before || got > hss.MaxSQN {
		t.Errorf("SQN_HE moved to %#x on a refused reservation (was %#x)", got, before)
	}
	// A resync to the last SEQ leaves no room either; it must not half-apply.
	o := Subscriber(newIMSI())
	o.SQN = 10 << 5
	create(t, st, o)
	if _, err := st.ResyncSQN(ctx, o.IMSI, "mme1", maxSEQ, 100, 1, 5); !errors.Is(err, hss.ErrAuthDataUnavailable) {
		t.Errorf("resync to SEQ 2^43-1: %v, want ErrAuthDataUnavailable", err)
	}
	if got := get(t, st, o.IMSI).SQN; got != o.SQN {
		t.Errorf("refused resync moved SQN_HE to %#x (was %#x)", got, o.SQN)
	}
}

func testResyncSQN(t *testing.T, st hss.Store) {
	const bits, delta = 5, 100
	cases := []struct {
		name   string
		seqHE  uint64
		seqMS  uint64
		reset  bool
		reason string
	}{
		{"ahead", 10, 20, true, "SEQ_HE+1 <= SEQ_MS"},
		{"equal-next", 10, 11, true, "SEQ_HE+1 == SEQ_MS"},
		{"just-behind", 10, 10, false, "SEQ_HE+1 = SEQ_MS+1, within delta"},
		{"behind", 10, 3, false, "within delta"},
		{"at-delta", 500, 401, false, "SEQ_HE+1-SEQ_MS == delta"},
		{"beyond-delta", 500, 400, true, "SEQ_HE+1-SEQ_MS > delta"},
		{"far-beyond-delta", 500, 0, true, "SEQ_HE+1-SEQ_MS > delta"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := Subscriber(newIMSI())
			s.SQN = c.seqHE<<bits | 3
			create(t, st, s)
			r, err := st.ResyncSQN(ctxFor(t), s.IMSI, "mme1", c.seqMS, delta, 2, bits)
			if err != nil {
				t.Fatalf("ResyncSQN: %v", err)
			}
			want := c.seqHE + 1
			if c.reset {
				want = c.seqMS + 1
			}
			if r.FirstSEQ != want {
				t.Errorf("SEQ_HE %d, SEQ_MS %d (%s): FirstSEQ %d, want %d", c.seqHE, c.seqMS, c.reason, r.FirstSEQ, want)
			}
			if r.Material.K != s.K || r.Material.OPc != s.OPc {
				t.Error("resync returned wrong key material")
			}
			if got := get(t, st, s.IMSI).SQN; got != (want+1)<<bits|uint64(r.IND) {
				t.Errorf("SQN_HE after resync = %#x, want %#x", got, (want+1)<<bits|uint64(r.IND))
			}
			if r2 := reserve(t, st, s.IMSI, "mme1", 1, bits); r2.FirstSEQ != want+2 || r2.IND != r.IND {
				t.Errorf("reservation after resync: SEQ %d IND %d, want %d and IND %d", r2.FirstSEQ, r2.IND, want+2, r.IND)
			}
		})
	}
	t.Run("uses-node-slot", func(t *testing.T) {
		s := Subscriber(newIMSI())
		create(t, st, s)
		a := reserve(t, st, s.IMSI, "mme-a", 1, bits)
		b := reserve(t, st, s.IMSI, "mme-b", 1, bits)
		r, err := st.ResyncSQN(ctxFor(t), s.IMSI, "mme-b", 1000, delta, 1, bits)
		if err != nil {
			t.Fatal(err)
		}
		if r.IND != b.IND || r.IND == a.IND {
			t.Errorf("resync for mme-b used IND %d, want %d", r.IND, b.IND)
		}
	})
}

func testResyncSQNBadArgs(t *testing.T, st hss.Store) {
	ctx := ctxFor(t)
	s := Subscriber(newIMSI())
	create(t, st, s)
	if _, err := st.ResyncSQN(ctx, s.IMSI, "mme1", 1<<43, 100, 1, 5); !errors.Is(err, hss.ErrInvalidInput) {
		t.Errorf("SEQ_MS of 44 bits with 5 IND bits: %v, want ErrInvalidInput", err)
	}
	if _, err := st.ResyncSQN(ctx, s.IMSI, "mme1", 5, 100, 0, 5); !errors.Is(err, hss.ErrInvalidInput) {
		t.Errorf("n = 0: %v, want ErrInvalidInput", err)
	}
	if got := get(t, st, s.IMSI).SQN; got != s.SQN {
		t.Errorf("refused resyncs moved SQN_HE to %#x", got)
	}
}

func testMMERegistration(t *testing.T, st hss.Store) {
	ctx := ctxFor(t)
	s := Subscriber(newIMSI())
	create(t, st, s)
	if ok, err := st.UpdateMMERegistration(ctx, s.IMSI, "mme1", func(r *hss.MMERegistration) { r.Purged = true }); ok || err != nil {
		t.Errorf("update without registration: ok=%v err=%v, want false, nil", ok, err)
	}
	first := MMERegistration("mme1.example")
	prev, err := st.SetMMERegistration(ctx, s.IMSI, first)
	if err != nil || prev != nil {
		t.Fatalf("first SetMMERegistration: prev %+v err %v, want nil, nil", prev, err)
	}
	second := MMERegistration("mme2.example")
	second.IMEI, second.RATType = "", hss.RATNR
	prev, err = st.SetMMERegistration(ctx, s.IMSI, second)
	if err != nil || prev == nil || !reflect.DeepEqual(*prev, first) {
		t.Fatalf("second SetMMERegistration: prev %+v err %v, want %+v", prev, err, first)
	}
	// Only the holder may update.
	ok, err := st.UpdateMMERegistration(ctx, s.IMSI, "mme1.example", func(r *hss.MMERegistration) { r.Purged = true })
	if ok || err != nil {
		t.Errorf("update by former holder: ok=%v err=%v, want false", ok, err)
	}
	ok, err = st.UpdateMMERegistration(ctx, s.IMSI, "mme2.example", func(r *hss.MMERegistration) {
		r.Purged = true
		r.NORFlags = 0x21
	})
	if !ok || err != nil {
		t.Fatalf("update by holder: ok=%v err=%v", ok, err)
	}
	regs, err := st.GetRegistrations(ctx, s.IMSI)
	if err != nil {
		t.Fatal(err)
	}
	want := second
	want.Purged, want.NORFlags = true, 0x21
	if regs.MME == nil || !reflect.DeepEqual(*regs.MME, want) {
		t.Errorf("registration = %+v, want %+v", regs.MME, want)
	}
	if regs.AAA != nil {
		t.Errorf("AAA registration appeared: %+v", regs.AAA)
	}
}

func testAAARegistration(t *testing.T, st hss.Store) {
	ctx := ctxFor(t)
	s := Subscriber(newIMSI())
	create(t, st, s)
	a1 := &hss.AAARegistration{ServerName: "aaa1.example", Realm: "example", UpdatedAt: time.Date(2026, 2, 3, 4, 5, 6, 7, time.UTC)}
	prev, err := st.SetAAARegistration(ctx, s.IMSI, a1)
	if err != nil || prev != nil {
		t.Fatalf("first set: %+v %v", prev, err)
	}
	a2 := &hss.AAARegistration{ServerName: "aaa2.example", Realm: "example"}
	prev, err = st.SetAAARegistration(ctx, s.IMSI, a2)
	if err != nil || prev == nil || !reflect.DeepEqual(*prev, *a1) {
		t.Fatalf("second set: prev %+v err %v, want %+v", prev, err, a1)
	}
	a2.ServerName = "changed after the call"
	regs, err := st.GetRegistrations(ctx, s.IMSI)
	if err != nil || regs.AAA == nil || regs.AAA.ServerName != "aaa2.example" || regs.MME != nil {
		t.Fatalf("get: %+v %v", regs, err)
	}
	prev, err = st.SetAAARegistration(ctx, s.IMSI, nil)
	if err != nil || prev == nil || prev.ServerName != "aaa2.example" {
		t.Fatalf("clear: prev %+v err %v", prev, err)
	}
	regs, err = st.GetRegistrations(ctx, s.IMSI)
	if err != nil || regs.AAA != nil {
		t.Fatalf("after clear: %+v %v", regs, err)
	}
	prev, err = st.SetAAARegistration(ctx, s.IMSI, nil)
	if err != nil || prev != nil {
		t.Fatalf("clear twice: %+v %v", prev, err)
	}
}

func testConcurrentReserve(t *testing.T, st hss.Store) {
	ctx := ctxFor(t)
	s := Subscriber(newIMSI())
	s.SQN = 0
	create(t, st, s)
	const workers, perWorker = 16, 40
	var (
		mu   sync.Mutex
		seqs = map[uint64]uint32{}
		wg   sync.WaitGroup
		errs = make(chan error, workers)
	)
	total := 0
	ns := make([]int, workers)
	for w := range workers {
		ns[w] = 1 + w%3
		total += ns[w] * perWorker
	}
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			node := fmt.Sprintf("mme%d", w%4)
			for range perWorker {
				r, err := st.ReserveSQN(ctx, s.IMSI, node, ns[w], 5)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for i := range uint64(ns[w]) {
					if other, dup := seqs[r.FirstSEQ+i]; dup {
						mu.Unlock()
						errs <- fmt.Errorf("SEQ %d handed out twice (IND %d and %d)", r.FirstSEQ+i, other, r.IND)
						return
					}
					seqs[r.FirstSEQ+i] = r.IND
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(seqs) != total {
		t.Fatalf("%d distinct SEQs, want %d", len(seqs), total)
	}
	for seq := uint64(1); seq <= uint64(total); seq++ {
		if _, ok := seqs[seq]; !ok {
			t.Fatalf("SEQ %d skipped: reservations are not consecutive", seq)
		}
	}
	if got := get(t, st, s.IMSI).SQN >> 5; got != uint64(total) {
		t.Errorf("SEQ_HE = %d, want %d", got, total)
	}
}

func testConcurrentUpdate(t *testing.T, st hss.Store) {
	ctx := ctxFor(t)
	s := Subscriber(newIMSI())
	s.PeriodicRAUTAUTimer = 0
	create(t, st, s)
	const workers, perWorker = 8, 10
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		succeeded int
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perWorker {
				_, err := st.UpdateSubscriber(ctx, s.IMSI, func(c *hss.Subscriber) error {
					c.PeriodicRAUTAUTimer++
					return nil
				})
				switch {
				case err == nil:
					mu.Lock()
					succeeded++
					mu.Unlock()
				case errors.Is(err, hss.ErrConflict):
					// Allowed after bounded retries; it must not have applied.
				default:
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if succeeded == 0 {
		t.Fatal("no update succeeded")
	}
	if got := get(t, st, s.IMSI).PeriodicRAUTAUTimer; got != uint32(succeeded) {
		t.Errorf("counter = %d after %d successful increments: updates lost or applied twice", got, succeeded)
	}
}

func testPingClose(t *testing.T, st hss.Store) {
	ctx := ctxFor(t)
	if err := st.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := st.Ping(ctx); !errors.Is(err, hss.ErrStoreUnavailable) {
		t.Errorf("Ping after Close: %v, want ErrStoreUnavailable", err)
	}
	if _, err := st.GetSubscriber(ctx, newIMSI()); !errors.Is(err, hss.ErrStoreUnavailable) {
		t.Errorf("GetSubscriber after Close: %v, want ErrStoreUnavailable", err)
	}
}
