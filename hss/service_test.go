package hss_test

import (
	"bytes"
	"context"
	"errors"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/hss/memstore"
)

const svcIMSI hss.IMSI = "001010000000001"

// TS 35.208 test set 1 keys.
var (
	set1K   = svcKey("465b5ce8b199b49faa5f0a2ee238a6bc")
	set1OP  = svcKey("cdc202d5123e20f62b6d676ac72cb318")
	set1OPc = svcKey("cd63cb71954a9f4e48a5994e37a02baf")
)

func svcKey(s string) hss.Key {
	k, err := hss.ParseKey(s)
	if err != nil {
		panic(err)
	}
	return k
}

func svcPLMN(t testing.TB, s string) hss.PLMN {
	t.Helper()
	p, err := hss.PLMNFromString(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// countingStore is the real memstore with call counters: it lets the tests
// assert how many store round trips a request costs.
type countingStore struct {
	*memstore.Store
	mu      sync.Mutex
	reserve int
	resync  int
	get     int
}

func (c *countingStore) ReserveSQN(ctx context.Context, imsi hss.IMSI, node string, n int, indBits uint8) (hss.SQNReservation, error) {
	c.mu.Lock()
	c.reserve++
	c.mu.Unlock()
	return c.Store.ReserveSQN(ctx, imsi, node, n, indBits)
}

func (c *countingStore) ResyncSQN(ctx context.Context, imsi hss.IMSI, node string, seqMS, delta uint64, n int, indBits uint8) (hss.SQNReservation, error) {
	c.mu.Lock()
	c.resync++
	c.mu.Unlock()
	return c.Store.ResyncSQN(ctx, imsi, node, seqMS, delta, n, indBits)
}

func (c *countingStore) GetSubscriber(ctx context.Context, imsi hss.IMSI) (*hss.Subscriber, error) {
	c.mu.Lock()
	c.get++
	c.mu.Unlock()
	return c.Store.GetSubscriber(ctx, imsi)
}

func (c *countingStore) counts() (reserve, resync, get int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reserve, c.resync, c.get
}

func svcSubscriber() *hss.Subscriber {
	return &hss.Subscriber{
		IMSI: svcIMSI,
		K:    set1K,
		OPc:  set1OPc,
		AMF:  [2]byte{0x00, 0x00},
		SQN:  32 << 5,
		APNs: []hss.APNConfiguration{{
			ContextID: 1, Name: "internet", PDNType: hss.PDNIPv4, QCI: 9,
			ARP: hss.ARP{PriorityLevel: 8},
		}},
		DefaultContextID: 1,
		AMBR:             hss.AMBR{UL: 1e8, DL: 1e8},
	}
}

type svcFixture struct {
	h     *hss.HSS
	store *countingStore
	now   time.Time
}

func newSvcFixture(t testing.TB, cfg hss.Config, subs ...*hss.Subscriber) *svcFixture {
	t.Helper()
	f := &svcFixture{
		store: &countingStore{Store: memstore.New(hss.NewPlaintextSealer())},
		now:   time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC),
	}
	t.Cleanup(func() { _ = f.store.Close() })
	h, err := hss.New(cfg, f.store,
		hss.WithRand(mrand.NewChaCha8([32]byte{1, 2, 3})),
		hss.WithClock(func() time.Time { return f.now }))
	if err != nil {
		t.Fatal(err)
	}
	f.h = h
	for _, s := range subs {
		if err := h.CreateSubscriber(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// seqHE reads SEQ_HE back from the store.
func (f *svcFixture) seqHE(t testing.TB, imsi hss.IMSI) uint64 {
	t.Helper()
	s, err := f.store.Store.GetSubscriber(context.Background(), imsi)
	if err != nil {
		t.Fatal(err)
	}
	seq, _ := hss.SplitSQN(s.SQN, f.h.Config().SQN.INDBits)
	return seq
}

func (f *svcFixture) air(t testing.TB, req hss.AuthInfoRequest) hss.AuthInfo {
	t.Helper()
	info, err := f.h.AuthenticationInfo(context.Background(), req)
	if err != nil {
		t.Fatalf("AIR %+v: %v", req, err)
	}
	return info
}

func TestAuthenticationInfoOneReservationEachVectorOwnSQN(t *testing.T) {
	f := newSvcFixture(t, hss.Config{}, svcSubscriber())
	home := svcPLMN(t, "00101")
	before := f.seqHE(t, svcIMSI)
	r0, _, g0 := f.store.counts()

	info := f.air(t, hss.AuthInfoRequest{IMSI: svcIMSI, VisitedPLMN: home, ServingNode: "mme-a", EUTRAN: 3, UTRAN: 2, GERAN: 2})
	if len(info.EUTRAN) != 3 || len(info.UTRAN) != 2 || len(info.GERAN) != 2 {
		t.Fatalf("got %d/%d/%d vectors, want 3/2/2", len(info.EUTRAN), len(info.UTRAN), len(info.GERAN))
	}
	r1, _, g1 := f.store.counts()
	if r1-r0 != 1 || g1 != g0 {
		t.Fatalf("home AIR cost %d ReserveSQN and %d GetSubscriber calls, want 1 and 0", r1-r0, g1-g0)
	}
	if got := f.seqHE(t, svcIMSI); got != before+7 {
		t.Fatalf("SEQ_HE advanced from %d to %d, want +7 (GERAN triplets come from quintets too)", before, got)
	}
	var sqns []uint64
	for _, v := range info.EUTRAN {
		sqns = append(sqns, v.SQN)
	}
	for _, v := range info.UTRAN {
		sqns = append(sqns, v.SQN)
	}
	indBits := f.h.Config().SQN.INDBits
	_, ind0 := hss.SplitSQN(sqns[0], indBits)
	for i, s := range sqns {
		seq, ind := hss.SplitSQN(s, indBits)
		if seq != before+1+uint64(i) || ind != ind0 {
			t.Errorf("vector %d: SEQ %d IND %d, want SEQ %d IND %d", i, seq, ind, before+1+uint64(i), ind0)
		}
	}
	// Every RAND is distinct.
	seen := map[[16]byte]bool{}
	for _, v := range info.EUTRAN {
		seen[v.RAND] = true
	}
	for _, v := range info.UTRAN {
		seen[v.RAND] = true
	}
	for _, v := range info.GERAN {
		seen[v.RAND] = true
	}
	if len(seen) != 7 {
		t.Fatalf("%d distinct RANDs for 7 vectors", len(seen))
	}
	// XRES slices of different vectors must not alias each other.
	info.EUTRAN[0].XRES[0] ^= 0xff
	if bytes.Equal(info.EUTRAN[0].XRES, info.EUTRAN[1].XRES) || &info.EUTRAN[0].XRES[0] == &info.UTRAN[0].XRES[0] {
		t.Fatal("XRES slices alias")
	}
}

func TestAuthenticationInfoCountsAndCap(t *testing.T) {
	f := newSvcFixture(t, hss.Config{MaxVectors: 4}, svcSubscriber())
	home := svcPLMN(t, "00101")
	info := f.air(t, hss.AuthInfoRequest{IMSI: svcIMSI, VisitedPLMN: home, ServingNode: "mme-a"})
	if len(info.EUTRAN) != 1 || len(info.UTRAN) != 0 || len(info.GERAN) != 0 {
		t.Fatalf("nothing requested: got %d/%d/%d, want one E-UTRAN vector", len(info.EUTRAN), len(info.UTRAN), len(info.GERAN))
	}
	info = f.air(t, hss.AuthInfoRequest{IMSI: svcIMSI, VisitedPLMN: home, ServingNode: "mme-a", EUTRAN: 50, UTRAN: 5, GERAN: -3})
	if len(info.EUTRAN) != 4 || len(info.UTRAN) != 4 || len(info.GERAN) != 0 {
		t.Fatalf("capped request: got %d/%d/%d, want 4/4/0", len(info.EUTRAN), len(info.UTRAN), len(info.GERAN))
	}
}

func TestAuthenticationInfoBadInput(t *testing.T) {
	f := newSvcFixture(t, hss.Config{}, svcSubscriber())
	home := svcPLMN(t, "00101")
	for name, req := range map[string]hss.AuthInfoRequest{
		"non-digit imsi":   {IMSI: "00101000000000a", VisitedPLMN: home, ServingNode: "mme"},
		"16-digit imsi":    {IMSI: "0010100000000011", VisitedPLMN: home, ServingNode: "mme"},
		"no serving node":  {IMSI: svcIMSI, VisitedPLMN: home},
		"bad visited plmn": {IMSI: svcIMSI, VisitedPLMN: hss.PLMN{0xff, 0xff, 0xff}, ServingNode: "mme"},
	} {
		_, err := f.h.AuthenticationInfo(context.Background(), req)
		var ve *hss.ValidationError
		if !errors.Is(err, hss.ErrInvalidInput) || !errors.As(err, &ve) {
			t.Errorf("%s: err = %v, want a ValidationError", name, err)
		}
	}
	_, err := f.h.AuthenticationInfo(context.Background(), hss.AuthInfoRequest{IMSI: "001010000000099", VisitedPLMN: home, ServingNode: "mme"})
	if !errors.Is(err, hss.ErrUnknownSubscriber) {
		t.Errorf("unknown IMSI: err = %v, want ErrUnknownSubscriber", err)
	}
}

func TestAuthenticationInfoRoaming(t *testing.T) {
	ctx := context.Background()
	noRoam := svcSubscriber()
	roam := svcSubscriber()
	roam.IMSI = "001010000000002"
	roam.RoamingAllowed = true
	roam.AllowedVisitedPLMNs = []hss.PLMN{svcPLMN(t, "23415")}
	roamAny := svcSubscriber()
	roamAny.IMSI = "001010000000003"
	roamAny.RoamingAllowed = true
	f := newSvcFixture(t, hss.Config{}, noRoam, roam, roamAny)

	foreign, allowed := svcPLMN(t, "310410"), svcPLMN(t, "23415")
	before := f.seqHE(t, noRoam.IMSI)
	_, err := f.h.AuthenticationInfo(ctx, hss.AuthInfoRequest{IMSI: noRoam.IMSI, VisitedPLMN: foreign, ServingNode: "mme"})
	if !errors.Is(err, hss.ErrRoamingNotAllowed) {
		t.Fatalf("roaming not allowed: err = %v", err)
	}
	if f.seqHE(t, noRoam.IMSI) != before {
		t.Fatal("a refused AIR consumed SQNs")
	}
	if _, err := f.h.AuthenticationInfo(ctx, hss.AuthInfoRequest{IMSI: roam.IMSI, VisitedPLMN: foreign, ServingNode: "mme"}); !errors.Is(err, hss.ErrRoamingNotAllowed) {
		t.Fatalf("PLMN outside AllowedVisitedPLMNs: err = %v", err)
	}
	_, _, g0 := f.store.counts()
	info := f.air(t, hss.AuthInfoRequest{IMSI: roam.IMSI, VisitedPLMN: allowed, ServingNode: "mme"})
	if _, _, g1 := f.store.counts(); g1-g0 != 1 {
		t.Errorf("roaming AIR read the subscriber %d times, want 1", g1-g0)
	}
	// KASME is bound to the visited PLMN: check through the USIM side.
	u := newUSIM(set1K, set1OPc, 5, hss.DefaultDelta)
	if err := u.authenticate(info.EUTRAN[0].RAND, info.EUTRAN[0].AUTN); err != nil {
		t.Fatal(err)
	}
	if k := u.kasme(allowed); k != info.EUTRAN[0].KASME {
		t.Error("KASME not derived for the visited PLMN")
	}
	f.air(t, hss.AuthInfoRequest{IMSI: roamAny.IMSI, VisitedPLMN: foreign, ServingNode: "mme"})

	// Configured home PLMNs replace the IMSI prefix rule.
	g := newSvcFixture(t, hss.Config{HomePLMNs: []string{"00101", "00102"}}, svcSubscriber())
	g.air(t, hss.AuthInfoRequest{IMSI: svcIMSI, VisitedPLMN: svcPLMN(t, "00102"), ServingNode: "mme"})
	if _, err := g.h.AuthenticationInfo(ctx, hss.AuthInfoRequest{IMSI: svcIMSI, VisitedPLMN: svcPLMN(t, "00103"), ServingNode: "mme"}); !errors.Is(err, hss.ErrRoamingNotAllowed) {
		t.Fatalf("PLMN outside HomePLMNs: err = %v", err)
	}
}

// usim is the USIM side of TS 33.102 6.3.3 with the SQN freshness check of
// Annex C.2.2 (one SEQ_MS per IND slot) and the wrap-around limit of C.2.1.
type usim struct {
	m       *hss.Milenage
	indBits uint8
	delta   uint64
	seqMS   []uint64
	last    struct {
		rand       [16]byte
		sqnXorAK   [6]byte
		res        [8]byte
		ck, ik     [16]byte
		authentics bool
	}
}

var errSyncFailure = errors.New("usim: synchronisation failure")

func newUSIM(k, opc hss.Key, indBits uint8, delta uint64) *usim {
	return &usim{m: hss.NewMilenage(k, opc), indBits: indBits, delta: delta, seqMS: make([]uint64, 1<<indBits)}
}

func (u *usim) highest() uint64 {
	var h uint64
	for _, s := range u.seqMS {
		h = max(h, s)
	}
	return h
}

// authenticate verifies MAC-A and SQN freshness and, on success, stores SEQ in
// its IND slot.
func (u *usim) authenticate(rand [16]byte, autn [16]byte) error {
	res, ck, ik, ak := u.m.F2345(rand)
	var sqnb, x [6]byte
	copy(x[:], autn[:6])
	for i := range sqnb {
		sqnb[i] = autn[i] ^ ak[i]
	}
	var amf [2]byte
	copy(amf[:], autn[6:8])
	mac := u.m.F1(rand, sqnb, amf)
	if !bytes.Equal(mac[:], autn[8:]) {
		return errors.New("usim: mac failure")
	}
	seq, ind := hss.SplitSQN(hss.SQNFromBytes(sqnb), u.indBits)
	if seq <= u.seqMS[ind] || seq-u.highest() > u.delta && seq > u.highest() {
		return errSyncFailure
	}
	u.seqMS[ind] = seq
	u.last.rand, u.last.sqnXorAK, u.last.res, u.last.ck, u.last.ik = rand, x, res, ck, ik
	return nil
}

func (u *usim) kasme(sn hss.PLMN) [32]byte {
	return hss.DeriveKASME(u.last.ck, u.last.ik, sn, u.last.sqnXorAK)
}

// auts builds AUTS for SQN_MS = highest SEQ_MS || its IND (TS 33.102 6.3.3).
func (u *usim) auts(rand [16]byte) [14]byte {
	return makeAUTS(u.m, rand, hss.ComposeSQN(u.highest(), 0, u.indBits))
}

func makeAUTS(m *hss.Milenage, rand [16]byte, sqnMS uint64) [14]byte {
	akStar := m.F5Star(rand)
	sqnb := hss.SQNBytes(sqnMS)
	var a [14]byte
	for i := range 6 {
		a[i] = sqnb[i] ^ akStar[i]
	}
	mac := m.F1Star(rand, sqnb, [2]byte{})
	copy(a[6:], mac[:])
	return a
}

// TestUSIMAcceptsVectorsFromTwoServingNodes plays several AIRs from two MMEs
// and consumes their vectors interleaved, as a UE moving between them would:
// every vector verifies and is fresh, because each MME has its own IND slot.
func TestUSIMAcceptsVectorsFromTwoServingNodes(t *testing.T) {
	f := newSvcFixture(t, hss.Config{}, svcSubscriber())
	home := svcPLMN(t, "00101")
	u := newUSIM(set1K, set1OPc, 5, hss.DefaultDelta)
	var a, b []hss.EUTRANVector
	for range 3 {
		a = append(a, f.air(t, hss.AuthInfoRequest{IMSI: svcIMSI, VisitedPLMN: home, ServingNode: "mme-a", EUTRAN: 2}).EUTRAN...)
		b = append(b, f.air(t, hss.AuthInfoRequest{IMSI: svcIMSI, VisitedPLMN: home, ServingNode: "mme-b", EUTRAN: 3}).EUTRAN...)
	}
	_, indA := hss.SplitSQN(a[0].SQN, 5)
	_, indB := hss.SplitSQN(b[0].SQN, 5)
	if indA == indB {
		t.Fatalf("both MMEs got IND %d", indA)
	}
	// B's vectors were generated after A's first ones but are used first.
	order := []hss.EUTRANVector{b[0], b[1], a[0], b[2], a[1], a[2], b[3], b[4], b[5], a[3], a[4], b[6], b[7], b[8], a[5]}
	for i, v := range order {
		if err := u.authenticate(v.RAND, v.AUTN); err != nil {
			t.Fatalf("vector %d (SQN %#x): %v", i, v.SQN, err)
		}
		if !bytes.Equal(u.last.res[:], v.XRES) {
			t.Fatalf("vector %d: RES != XRES", i)
		}
		if u.kasme(home) != v.KASME {
			t.Fatalf("vector %d: KASME differs", i)
		}
	}
	// Replay of a used vector, and an older vector of the same slot, are refused.
	if err := u.authenticate(a[5].RAND, a[5].AUTN); !errors.Is(err, errSyncFailure) {
		t.Fatalf("replayed vector: %v", err)
	}
	if err := u.authenticate(b[5].RAND, b[5].AUTN); !errors.Is(err, errSyncFailure) {
		t.Fatalf("stale vector of slot B: %v", err)
	}
}

func TestResyncMovesSEQPastSQNMS(t *testing.T) {
	ctx := context.Background()
	f := newSvcFixture(t, hss.Config{}, svcSubscriber())
	home := svcPLMN(t, "00101")
	// The USIM has seen SEQ 5000 (another HSS, a restored backup...): the
	// HSS's next vector is stale.
	u := newUSIM(set1K, set1OPc, 5, hss.DefaultDelta)
	v := f.air(t, hss.AuthInfoRequest{IMSI: svcIMSI, VisitedPLMN: home, ServingNode: "mme-a"}).EUTRAN[0]
	_, ind := hss.SplitSQN(v.SQN, 5)
	u.seqMS[ind] = 5000
	if err := u.authenticate(v.RAND, v.AUTN); !errors.Is(err, errSyncFailure) {
		t.Fatalf("stale vector: %v, want sync failure", err)
	}
	rs := &hss.Resync{RAND: v.RAND, AUTS: u.auts(v.RAND)}
	_, rs0, _ := f.store.counts()
	info, err := f.h.AuthenticationInfo(ctx, hss.AuthInfoRequest{IMSI: svcIMSI, VisitedPLMN: home, ServingNode: "mme-a", EUTRAN: 2, Resync: rs})
	if err != nil {
		t.Fatal(err)
	}
	if _, rs1, _ := f.store.counts(); rs1-rs0 != 1 {
		t.Fatalf("%d ResyncSQN calls, want 1", rs1-rs0)
	}
	for i, v := range info.EUTRAN {
		seq, _ := hss.SplitSQN(v.SQN, 5)
		if seq != 5001+uint64(i) {
			t.Errorf("vector %d after resync: SEQ %d, want %d", i, seq, 5001+i)
		}
		if err := u.authenticate(v.RAND, v.AUTN); err != nil {
			t.Fatalf("vector %d after resync refused: %v", i, err)
		}
	}
}

func TestResyncTamperedMACSLeavesStoreUntouched(t *testing.T) {
	ctx := context.Background()
	f := newSvcFixture(t, hss.Config{}, svcSubscriber())
	home := svcPLMN(t, "00101")
	v := f.air(t, hss.AuthInfoRequest{IMSI: svcIMSI, VisitedPLMN: home, ServingNode: "mme-a"}).EUTRAN[0]
	before := f.seqHE(t, svcIMSI)
	auts := makeAUTS(hss.NewMilenage(set1K, set1OPc), v.RAND, hss.ComposeSQN(1_000_000, 0, 5))
	auts[13] ^= 0x01
	r0, rs0, _ := f.store.counts()
	_, err := f.h.AuthenticationInfo(ctx, hss.AuthInfoRequest{IMSI: svcIMSI, VisitedPLMN: home, ServingNode: "mme-a", Resync: &hss.Resync{RAND: v.RAND, AUTS: auts}})
	if !errors.Is(err, hss.ErrResyncFailed) {
		t.Fatalf("tampered MAC-S: err = %v, want ErrResyncFailed", err)
	}
	if r1, rs1, _ := f.store.counts(); r1 != r0 || rs1 != rs0 {
		t.Fatal("a rejected AUTS reached ReserveSQN/ResyncSQN")
	}
	if got := f.seqHE(t, svcIMSI); got != before {
		t.Fatalf("SEQ_HE moved from %d to %d on a rejected AUTS", before, got)
	}
	// AUTS made with another subscriber's keys is rejected the same way.
	other := makeAUTS(hss.NewMilenage(svcKey("0396eb317b6d1c36f19c1c84cd6ffd16"), set1OPc), v.RAND, 99<<5)
	if _, err := f.h.EAPAKAVectors(ctx, hss.EAPVectorRequest{IMSI: svcIMSI, ServingNode: "aaa", Resync: &hss.Resync{RAND: v.RAND, AUTS: other}}); !errors.Is(err, hss.ErrResyncFailed) {
		t.Fatalf("foreign AUTS on MAR: err = %v", err)
	}
}

// TestResyncAnnexC covers the SQN_HE range check of TS 33.102 6.3.5 / C.2.1:
// SQN_HE is reset to SQN_MS when SEQ_HE+1 would be refused (not above SEQ_MS,
// or more than Δ above it) and kept otherwise.
func TestResyncAnnexC(t *testing.T) {
	const delta = 1000
	for _, tc := range []struct {
		name         string
		seqHE, seqMS uint64
		wantFirst    uint64
	}{
		{"MS far ahead", 100, 1_000_000, 1_000_001},
		{"MS equal to HE", 100, 100, 101},
		{"HE ahead within delta", 600, 100, 601},
		{"HE ahead exactly delta", 1100, 101, 1101},
		{"HE ahead beyond delta", 5_000_000, 10, 11},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := svcSubscriber()
			s.SQN = hss.ComposeSQN(tc.seqHE, 0, 5)
			f := newSvcFixture(t, hss.Config{SQN: hss.SQNConfig{INDBits: 5, Delta: delta}}, s)
			var rand [16]byte
			rand[0] = 7
			auts := makeAUTS(hss.NewMilenage(set1K, set1OPc), rand, hss.ComposeSQN(tc.seqMS, 4, 5))
			info, err := f.h.AuthenticationInfo(context.Background(), hss.AuthInfoRequest{
				IMSI: svcIMSI, VisitedPLMN: svcPLMN(t, "00101"), ServingNode: "mme", UTRAN: 1,
				Resync: &hss.Resync{RAND: rand, AUTS: auts},
			})
			if err != nil {
				t.Fatal(err)
			}
			seq, _ := hss.SplitSQN(info.UTRAN[0].SQN, 5)
			if seq != tc.wantFirst {
				t.Fatalf("first SEQ after resync = %d, want %d", seq, tc.wantFirst)
			}
			// The USIM that sent SQN_MS accepts the new vector.
			u := newUSIM(set1K, set1OPc, 5, delta)
			u.seqMS[4] = tc.seqMS
			if err := u.authenticate(info.UTRAN[0].RAND, info.UTRAN[0].AUTN); err != nil {
				t.Fatalf("USIM refuses the resynchronised vector: %v", err)
			}
		})
	}
}

func TestEAPAKAVectors(t *testing.T) {
	ctx := context.Background()
	f := newSvcFixture(t, hss.Config{MaxVectors: 5}, svcSubscriber())
	vs, err := f.h.EAPAKAVectors(ctx, hss.EAPVectorRequest{IMSI: svcIMSI, ServingNode: "aaa"})
	if err != nil || len(vs) != 1 {
		t.Fatalf("N=0: %d vectors, %v; want 1", len(vs), err)
	}
	if vs[0].AUTN[6]&0x80 != 0 {
		t.Error("EAP-AKA vector has the AMF separation bit set although the AMF is 0000")
	}
	vs, err = f.h.EAPAKAVectors(ctx, hss.EAPVectorRequest{IMSI: svcIMSI, ServingNode: "aaa", N: 99, Prime: true, AccessNetworkID: "WLAN"})
	if err != nil || len(vs) != 5 {
		t.Fatalf("N=99 capped at 5: %d vectors, %v", len(vs), err)
	}
	u := newUSIM(set1K, set1OPc, 5, hss.DefaultDelta)
	for i, v := range vs {
		if v.AUTN[6]&0x80 == 0 {
			t.Errorf("EAP-AKA' vector %d: AMF separation bit not set", i)
		}
		if err := u.authenticate(v.RAND, v.AUTN); err != nil {
			t.Fatalf("vector %d: %v", i, err)
		}
		ckp, ikp, err := hss.DeriveCKIKPrime(u.last.ck, u.last.ik, "WLAN", u.last.sqnXorAK)
		if err != nil || ckp != v.CK || ikp != v.IK {
			t.Fatalf("vector %d: CK'/IK' differ from the USIM's", i)
		}
	}
	if _, err := f.h.EAPAKAVectors(ctx, hss.EAPVectorRequest{IMSI: svcIMSI, ServingNode: "aaa", Prime: true}); !errors.Is(err, hss.ErrInvalidInput) {
		t.Fatalf("EAP-AKA' without access network id: %v", err)
	}
}

func TestUpdateLocation(t *testing.T) {
	ctx := context.Background()
	noAPN := svcSubscriber()
	noAPN.IMSI = "001010000000002"
	noAPN.APNs, noAPN.DefaultContextID = nil, 0
	// Also barred from E-UTRAN: the missing EPS subscription is reported first.
	noAPN.AccessRestriction = hss.EUTRANNotAllowed
	barred := svcSubscriber()
	barred.IMSI = "001010000000003"
	barred.AccessRestriction = hss.EUTRANNotAllowed | hss.NBIoTNotAllowed
	f := newSvcFixture(t, hss.Config{}, svcSubscriber(), noAPN, barred)
	home := svcPLMN(t, "00101")
	ulr := func(imsi hss.IMSI, host string, rat hss.RATType, plmn hss.PLMN, flags hss.ULRFlags) (hss.UpdateLocationResult, error) {
		return f.h.UpdateLocation(ctx, hss.UpdateLocationRequest{IMSI: imsi, Host: host, Realm: "epc.test", VisitedPLMN: plmn, RATType: rat, Flags: flags, IMEI: "3534900698733190"})
	}
	for name, tc := range map[string]struct {
		imsi hss.IMSI
		rat  hss.RATType
		plmn hss.PLMN
		want error
	}{
		"unknown":          {"001010000000099", hss.RATEUTRAN, home, hss.ErrUnknownSubscriber},
		"no apn":           {noAPN.IMSI, hss.RATEUTRAN, home, hss.ErrUnknownEPSSubscription},
		"eutran barred":    {barred.IMSI, hss.RATEUTRAN, home, hss.ErrRATNotAllowed},
		"nb-iot barred":    {barred.IMSI, hss.RATEUTRANNBIoT, home, hss.ErrRATNotAllowed},
		"roaming":          {svcIMSI, hss.RATEUTRAN, svcPLMN(t, "310410"), hss.ErrRoamingNotAllowed},
		"non-digit imsi":   {"0010100000x0001", hss.RATEUTRAN, home, hss.ErrInvalidInput},
		"16 digit imsi":    {"0010100000000012", hss.RATEUTRAN, home, hss.ErrInvalidInput},
		"utran not barred": {barred.IMSI, hss.RATUTRAN, home, nil},
	} {
		_, err := ulr(tc.imsi, "mme-x", tc.rat, tc.plmn, hss.ULRS6aS6dIndicator)
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: err = %v, want %v", name, err, tc.want)
		}
	}

	r, err := ulr(svcIMSI, "mme-a", hss.RATEUTRAN, home, hss.ULRS6aS6dIndicator|hss.ULRInitialAttach)
	if err != nil || r.Cancel != nil || r.Subscriber == nil || r.Subscriber.IMSI != svcIMSI {
		t.Fatalf("first ULR: %+v, %v", r, err)
	}
	r, err = ulr(svcIMSI, "mme-a", hss.RATEUTRAN, home, hss.ULRS6aS6dIndicator)
	if err != nil || r.Cancel != nil {
		t.Fatalf("ULR from the same MME asks to cancel it: %+v, %v", r.Cancel, err)
	}
	r, err = ulr(svcIMSI, "mme-b", hss.RATEUTRAN, home, hss.ULRS6aS6dIndicator|hss.ULRSkipSubscriberData)
	if err != nil || r.Cancel == nil || r.Cancel.Host != "mme-a" || r.Subscriber != nil {
		t.Fatalf("MME change: cancel %+v, subscriber %v, err %v; want cancel mme-a and no subscriber data", r.Cancel, r.Subscriber, err)
	}
	regs, err := f.h.Registrations(ctx, svcIMSI)
	if err != nil || regs.MME == nil || regs.MME.Host != "mme-b" || regs.MME.Realm != "epc.test" || regs.MME.IMEI != "3534900698733190" || !regs.MME.UpdatedAt.Equal(f.now) {
		t.Fatalf("registration %+v, %v", regs.MME, err)
	}
	// PUR from the MME that holds the registration: the next MME change sends no CLR.
	if err := f.h.Purge(ctx, svcIMSI, "mme-a"); err != nil {
		t.Fatal(err)
	}
	if regs, _ := f.h.Registrations(ctx, svcIMSI); regs.MME.Purged {
		t.Fatal("PUR from a former MME purged the current registration")
	}
	if err := f.h.Purge(ctx, svcIMSI, "mme-b"); err != nil {
		t.Fatal(err)
	}
	if regs, _ := f.h.Registrations(ctx, svcIMSI); !regs.MME.Purged {
		t.Fatal("PUR did not mark the registration purged")
	}
	r, err = ulr(svcIMSI, "mme-c", hss.RATEUTRAN, home, hss.ULRS6aS6dIndicator)
	if err != nil || r.Cancel != nil {
		t.Fatalf("ULR after PUR asks to cancel a purged MME: %+v, %v", r.Cancel, err)
	}
	if err := f.h.Purge(ctx, "001010000000099", "mme-c"); !errors.Is(err, hss.ErrUnknownSubscriber) {
		t.Fatalf("PUR for unknown IMSI: %v", err)
	}

	// NOR stores flags and terminal information on the holder's registration only.
	if err := f.h.Notify(ctx, hss.NotifyRequest{IMSI: svcIMSI, Host: "mme-c", Flags: 0x3, IMEI: "3534900698733191", SoftwareVersion: "02"}); err != nil {
		t.Fatal(err)
	}
	if err := f.h.Notify(ctx, hss.NotifyRequest{IMSI: svcIMSI, Host: "mme-a", Flags: 0x10}); err != nil {
		t.Fatal(err)
	}
	regs, _ = f.h.Registrations(ctx, svcIMSI)
	if regs.MME.NORFlags != 0x3 || regs.MME.IMEI != "3534900698733191" || regs.MME.SoftwareVersion != "02" {
		t.Fatalf("after NOR: %+v", regs.MME)
	}
	if err := f.h.Notify(ctx, hss.NotifyRequest{IMSI: "001010000000099", Host: "mme-c"}); !errors.Is(err, hss.ErrUnknownSubscriber) {
		t.Fatalf("NOR for unknown IMSI: %v", err)
	}
}

type recordingObserver struct {
	mu      sync.Mutex
	updated []struct {
		before, after *hss.Subscriber
		regs          hss.Registrations
	}
	deleted []struct {
		s    *hss.Subscriber
		regs hss.Registrations
	}
}

func (o *recordingObserver) SubscriberUpdated(_ context.Context, before, after *hss.Subscriber, regs hss.Registrations) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.updated = append(o.updated, struct {
		before, after *hss.Subscriber
		regs          hss.Registrations
	}{before, after, regs})
}

func (o *recordingObserver) SubscriberDeleted(_ context.Context, s *hss.Subscriber, regs hss.Registrations) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.deleted = append(o.deleted, struct {
		s    *hss.Subscriber
		regs hss.Registrations
	}{s, regs})
}

func TestProvisioning(t *testing.T) {
	ctx := context.Background()
	f := newSvcFixture(t, hss.Config{})
	obs := &recordingObserver{}
	f.h.AddObserver(obs)

	// OP only: OPc is derived (TS 35.208 set 1).
	s := svcSubscriber()
	op := set1OP
	s.OP, s.OPc = &op, hss.Key{}
	if err := f.h.CreateSubscriber(ctx, s); err != nil {
		t.Fatal(err)
	}
	got, err := f.h.GetSubscriber(ctx, svcIMSI)
	if err != nil {
		t.Fatal(err)
	}
	// CreatedAt comes from the HSS clock; the store stamps UpdatedAt itself.
	if got.OPc != set1OPc || !got.CreatedAt.Equal(f.now) || got.UpdatedAt.IsZero() {
		t.Fatalf("created: OPc derived %v, CreatedAt %v", got.OPc == set1OPc, got.CreatedAt)
	}
	if err := f.h.CreateSubscriber(ctx, svcSubscriber()); !errors.Is(err, hss.ErrSubscriberExists) {
		t.Fatalf("duplicate create: %v", err)
	}
	// OP with an OPc that does not belong to it is refused.
	bad := svcSubscriber()
	bad.IMSI = "001010000000002"
	bad.OP = &op
	bad.OPc = svcKey("00000000000000000000000000000001")
	if err := f.h.CreateSubscriber(ctx, bad); !errors.Is(err, hss.ErrInvalidInput) || !strings.Contains(err.Error(), "opc") {
		t.Fatalf("mismatched OPc: %v", err)
	}
	// Validation reports every problem.
	invalidSub := &hss.Subscriber{IMSI: "12345"}
	err = f.h.CreateSubscriber(ctx, invalidSub)
	for _, field := range []string{"imsi", "k", "opc"} {
		if err == nil || !strings.Contains(err.Error(), "invalid "+field) {
			t.Errorf("invalid subscriber: %v does not name %s", err, field)
		}
	}
	if err != nil && (strings.Contains(err.Error(), set1K.Hex()) || strings.Contains(err.Error(), set1OPc.Hex())) {
		t.Fatal("error leaks key material")
	}

	// A registration, so that the observer learns whom to notify.
	if _, err := f.h.UpdateLocation(ctx, hss.UpdateLocationRequest{IMSI: svcIMSI, Host: "mme-a", VisitedPLMN: svcPLMN(t, "00101"), RATType: hss.RATEUTRAN}); err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(time.Hour)
	op2 := svcKey("ff53bade17df5d4e793073ce9d7579fa")
	k2 := svcKey("0396eb317b6d1c36f19c1c84cd6ffd16")
	after, err := f.h.UpdateSubscriber(ctx, svcIMSI, func(s *hss.Subscriber) error {
		s.K, s.OP = k2, &op2
		s.MSISDN = "15551234567"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// TS 35.208 set 2: K 0396eb31..., OP ff53bade... give OPc 53c15671...
	if after.OPc != svcKey("53c15671c60a4b731c55b4a441c0bde2") || after.UpdatedAt.IsZero() || !after.CreatedAt.Equal(f.now.Add(-time.Hour)) {
		t.Fatalf("after update: OPc re-derived %v, UpdatedAt %v, CreatedAt %v", after.OPc == svcKey("53c15671c60a4b731c55b4a441c0bde2"), after.UpdatedAt, after.CreatedAt)
	}
	if len(obs.updated) != 1 {
		t.Fatalf("observer told %d times", len(obs.updated))
	}
	u := obs.updated[0]
	if u.before.MSISDN != "" || u.before.OPc != set1OPc || u.after.MSISDN != "15551234567" || u.regs.MME == nil || u.regs.MME.Host != "mme-a" {
		t.Fatalf("observer got before %+v after %+v regs %+v", u.before.MSISDN, u.after.MSISDN, u.regs.MME)
	}

	// An update that breaks the subscriber is refused and not stored.
	_, err = f.h.UpdateSubscriber(ctx, svcIMSI, func(s *hss.Subscriber) error { s.APNs[0].QCI = 0; return nil })
	if !errors.Is(err, hss.ErrInvalidInput) {
		t.Fatalf("invalid update: %v", err)
	}
	_, err = f.h.UpdateSubscriber(ctx, svcIMSI, func(s *hss.Subscriber) error { s.IMSI = "001010000000009"; return nil })
	if !errors.Is(err, hss.ErrInvalidInput) {
		t.Fatalf("IMSI change: %v", err)
	}
	got, _ = f.h.GetSubscriber(ctx, svcIMSI)
	if got.APNs[0].QCI != 9 || len(obs.updated) != 1 {
		t.Fatal("refused update was stored or notified")
	}

	// Listing pages through IMSIs.
	for _, i := range []hss.IMSI{"001010000000005", "001010000000003"} {
		s := svcSubscriber()
		s.IMSI = i
		if err := f.h.CreateSubscriber(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	page, next, err := f.h.ListSubscribers(ctx, "", 2)
	if err != nil || len(page) != 2 || page[0] != svcIMSI || page[1] != "001010000000003" || next == "" {
		t.Fatalf("page 1: %v %q %v", page, next, err)
	}
	page, next, err = f.h.ListSubscribers(ctx, next, 2)
	if err != nil || len(page) != 1 || page[0] != "001010000000005" || next != "" {
		t.Fatalf("page 2: %v %q %v", page, next, err)
	}
	if _, _, err := f.h.ListSubscribers(ctx, "", -1); !errors.Is(err, hss.ErrInvalidInput) {
		t.Fatalf("negative limit: %v", err)
	}
	if _, _, err := f.h.ListSubscribers(ctx, "abc", 10); !errors.Is(err, hss.ErrInvalidInput) {
		t.Fatalf("bad cursor: %v", err)
	}

	// Delete tells observers which MME held the subscriber.
	if err := f.h.DeleteSubscriber(ctx, svcIMSI); err != nil {
		t.Fatal(err)
	}
	if len(obs.deleted) != 1 || obs.deleted[0].s.IMSI != svcIMSI || obs.deleted[0].regs.MME == nil || obs.deleted[0].regs.MME.Host != "mme-a" {
		t.Fatalf("delete observer: %+v", obs.deleted)
	}
	if _, err := f.h.GetSubscriber(ctx, svcIMSI); !errors.Is(err, hss.ErrUnknownSubscriber) {
		t.Fatalf("after delete: %v", err)
	}
	if err := f.h.DeleteSubscriber(ctx, svcIMSI); !errors.Is(err, hss.ErrUnknownSubscriber) {
		t.Fatalf("second delete: %v", err)
	}
}

func TestConfig(t *testing.T) {
	c := hss.Config{}.WithDefaults()
	if c.MaxVectors != 32 || c.SQN.INDBits != 5 || c.SQN.Delta != 1<<28 {
		t.Fatalf("defaults: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c := (hss.Config{SQN: hss.SQNConfig{Delta: 10}}).WithDefaults(); c.SQN.INDBits != 0 {
		t.Fatalf("explicit INDBits 0 replaced: %+v", c.SQN)
	}
	err := hss.Config{MaxVectors: 97, SQN: hss.SQNConfig{INDBits: 11, Delta: 1}, HomePLMNs: []string{"00101", "1234"}}.Validate()
	for _, field := range []string{"max_vectors", "sqn.ind_bits", "home_plmns[1]"} {
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("Validate: %v does not name %s", err, field)
		}
	}
	if _, err := hss.New(hss.Config{MaxVectors: -1}, memstore.New(hss.NewPlaintextSealer())); !errors.Is(err, hss.ErrInvalidInput) {
		t.Fatalf("New with a bad config: %v", err)
	}
	if _, err := hss.New(hss.Config{}, nil); !errors.Is(err, hss.ErrInvalidInput) {
		t.Fatalf("New without a store: %v", err)
	}
}

func BenchmarkAuthenticationInfo(b *testing.B) {
	f := newSvcFixture(b, hss.Config{}, svcSubscriber())
	req := hss.AuthInfoRequest{IMSI: svcIMSI, VisitedPLMN: svcPLMN(b, "00101"), ServingNode: "mme-a", EUTRAN: 1}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.h.AuthenticationInfo(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
