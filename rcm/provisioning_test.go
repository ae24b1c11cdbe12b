package rcm_test

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rcmhss/rcmhss/hss"
	hssmem "github.com/rcmhss/rcmhss/hss/memstore"
	"github.com/rcmhss/rcmhss/rcm"
	"github.com/rcmhss/rcmhss/rcm/memstore"
)

// recordingDetacher stands where the S6a plugin sends its CLR; it records the
// bindings it was asked to cancel.
type recordingDetacher struct {
	mu  sync.Mutex
	got []rcm.Binding
}

func (d *recordingDetacher) Detach(_ context.Context, b rcm.Binding) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.got = append(d.got, b)
	return nil
}

func (d *recordingDetacher) detached() []rcm.Binding {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]rcm.Binding(nil), d.got...)
}

type provEnv struct {
	pki  *rcm.TestPKI
	st   rcm.Store
	ps   rcm.ProvisioningStore
	hss  *hss.HSS
	det  *recordingDetacher
	prov *rcm.Provisioner
	logs *bytes.Buffer
	mu   sync.Mutex
	now  time.Time
}

const (
	providerA = "acme-utility" // owns the TestPKI profile "meters-acme"
	providerB = "beta-m2m"
)

var provCtx = context.Background()

func testKEK() []byte { return bytes.Repeat([]byte{0x5a}, hss.KEKSize) }

func newProvEnv(t testing.TB) *provEnv {
	t.Helper()
	sealer, err := hss.NewKeySealer(testKEK())
	if err != nil {
		t.Fatal(err)
	}
	return newProvEnvOn(t, memstore.New(), memstore.NewProvisioning(), hssmem.New(sealer))
}

// newProvEnvOn builds the environment on the given stores (in memory, or a
// real redis-server shared by several nodes).
func newProvEnvOn(t testing.TB, st rcm.Store, ps rcm.ProvisioningStore, hs hss.Store) *provEnv {
	t.Helper()
	e := &provEnv{pki: rcm.NewTestPKI(t), st: st, ps: ps, det: &recordingDetacher{}, logs: &bytes.Buffer{}}
	e.now = e.pki.Now
	sealer, err := hss.NewKeySealer(testKEK())
	if err != nil {
		t.Fatal(err)
	}
	if e.hss, err = hss.New(hss.DefaultConfig(), hs); err != nil {
		t.Fatal(err)
	}
	if err := e.st.CreateProfile(provCtx, e.pki.Profile); err != nil {
		t.Fatal(err)
	}
	b := e.pki.Profile
	b.ID, b.ProviderID = "meters-beta", providerB
	if err := e.st.CreateProfile(provCtx, b); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(lockedWriter{e}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.prov, err = rcm.NewProvisioner(rcm.DefaultProvisioningConfig(), e.pki.Config, e.st, e.ps, e.hss, e.det, sealer, log,
		rcm.WithProvisionerClock(e.clock))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

type lockedWriter struct{ e *provEnv }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.e.mu.Lock()
	defer w.e.mu.Unlock()
	return w.e.logs.Write(p)
}

func (e *provEnv) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *provEnv) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(d)
}

// provider registers a provider with one offer and an IMSI pool of three.
func (e *provEnv) provider(t testing.TB, id, profile, imsiPrefix string, code string) {
	t.Helper()
	p := rcm.Provider{
		ID: id, Name: id, Kind: rcm.ProviderM2M, ProfileIDs: []string{profile},
		IMSIPool:  []rcm.NumberRange{{First: imsiPrefix + "01", Last: imsiPrefix + "03"}},
		KeyPolicy: rcm.KeyPolicyOPc, OP: hss.Key{0xcd, 0xc2, 0x02, 0xd5}, AMF: [2]byte{0x80, 0x00},
		Template: rcm.SubscriptionTemplate{
			APNs: []hss.APNConfiguration{{ContextID: 1, Name: "iot", PDNType: hss.PDNIPv4, QCI: 9,
				ARP: hss.ARP{PriorityLevel: 8}, AMBR: hss.AMBR{UL: 1e6, DL: 1e6}}},
			DefaultContextID: 1, AMBR: hss.AMBR{UL: 1e6, DL: 1e6},
			MSISDNPool: []rcm.NumberRange{{First: "4470000001", Last: "4470000009"}},
		},
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := e.ps.CreateProvider(provCtx, p); err != nil {
		t.Fatal(err)
	}
	o := rcm.Offer{ID: "plan-" + id, ProviderID: id, PlanName: "Plan of " + id, Terms: "12 months",
		Price: rcm.Price{Amount: 499, Currency: "EUR"}, Duration: 365 * 24 * time.Hour}
	if code != "" {
		var err error
		if o.ActivationCode, err = rcm.HashActivationCode(code); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := e.ps.PutOffer(provCtx, o); err != nil {
		t.Fatal(err)
	}
}

// testDevice is one simulated device: its certificate key, HPKE key, guest
// identity with a live binding.
type testDevice struct {
	cred  rcm.DeviceCredentials
	cd    *rcm.CertifiedDevice
	hpke  *ecdh.PrivateKey
	guest hss.IMSI
}

func imei(n int) rcm.IMEI {
	d14 := fmt.Sprintf("49015420%06d", n)
	return rcm.IMEI(d14 + string(rcm.LuhnCheckDigit(d14)))
}

func (e *provEnv) device(t testing.TB, n int) *testDevice {
	t.Helper()
	d := &testDevice{cred: e.pki.Device(t, imei(n)), guest: hss.IMSI(fmt.Sprintf("0010199900%05d", n))}
	certs := make([]*x509.Certificate, len(d.cred.CertChain))
	for i, der := range d.cred.CertChain {
		var err error
		if certs[i], err = x509.ParseCertificate(der); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	if d.cd, err = e.prov.Verifier().VerifyDeviceCertificate(provCtx, certs, e.clock()); err != nil {
		t.Fatal(err)
	}
	if d.hpke, err = ecdh.P256().GenerateKey(rand.Reader); err != nil {
		t.Fatal(err)
	}
	b := rcm.Binding{GuestIMSI: d.guest, IMEI: d.cd.IMEI, CertFingerprint: d.cd.CertFingerprint, ProfileID: "meters-acme",
		MMEHost: "mme1.rcmhss.test", MMERealm: "rcmhss.test", CreatedAt: e.clock(), ExpiresAt: e.clock().Add(time.Hour)}
	if err := e.st.PutBinding(provCtx, b); err != nil {
		t.Fatal(err)
	}
	return d
}

func (d *testDevice) start(t testing.TB) rcm.StartRequest {
	t.Helper()
	pub := d.hpke.PublicKey().Bytes()
	dg := rcm.HPKEKeyDigest(d.cd.CertFingerprint, pub)
	sig, err := ecdsa.SignASN1(rand.Reader, d.cred.Key, dg[:])
	if err != nil {
		t.Fatal(err)
	}
	return rcm.StartRequest{Device: d.cd, GuestIMSI: d.guest, HPKEKey: pub, HPKESignature: sig}
}

func (d *testDevice) accept(t testing.TB, sessionID, offerID, code string) rcm.AcceptRequest {
	t.Helper()
	dg := rcm.AcceptanceDigest(sessionID, offerID)
	sig, err := ecdsa.SignASN1(rand.Reader, d.cred.Key, dg[:])
	if err != nil {
		t.Fatal(err)
	}
	return rcm.AcceptRequest{SessionID: sessionID, Device: d.cd, OfferID: offerID, Signature: sig, ActivationCode: code}
}

func (d *testDevice) open(t *testing.T, v rcm.SessionView) *rcm.Credentials {
	t.Helper()
	if v.State != rcm.StateProvisioned || len(v.Sealed) == 0 {
		t.Fatalf("session %s: state %s with %d sealed bytes, want provisioned with credentials", v.ID, v.State, len(v.Sealed))
	}
	c, err := rcm.OpenCredentials(d.hpke, v.ID, v.Sealed)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *provEnv) audit(t *testing.T) []rcm.AuditEntry {
	t.Helper()
	all, err := e.st.ListAudit(provCtx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if err := rcm.VerifyChain(all); err != nil {
		t.Fatal(err)
	}
	return all
}

func (e *provEnv) hasAudit(t *testing.T, ev rcm.AuditEvent) bool {
	for _, a := range e.audit(t) {
		if a.Event == ev {
			return true
		}
	}
	return false
}

func TestSessionStateMachine(t *testing.T) {
	all := []rcm.SessionState{rcm.StateAuthenticated, rcm.StateOffered, rcm.StateDeclined, rcm.StateAccepted, rcm.StateProvisioned,
		rcm.StateConfirmed, rcm.StateSwapped, rcm.StateExpired, rcm.StateFailed}
	allowed := map[[2]rcm.SessionState]bool{}
	for _, p := range [][2]rcm.SessionState{
		{rcm.StateAuthenticated, rcm.StateOffered}, {rcm.StateAuthenticated, rcm.StateAccepted},
		{rcm.StateAuthenticated, rcm.StateFailed}, {rcm.StateAuthenticated, rcm.StateExpired},
		{rcm.StateOffered, rcm.StateAccepted}, {rcm.StateOffered, rcm.StateDeclined}, {rcm.StateOffered, rcm.StateFailed}, {rcm.StateOffered, rcm.StateExpired},
		{rcm.StateDeclined, rcm.StateOffered}, {rcm.StateDeclined, rcm.StateFailed}, {rcm.StateDeclined, rcm.StateExpired},
		{rcm.StateAccepted, rcm.StateProvisioned}, {rcm.StateAccepted, rcm.StateFailed}, {rcm.StateAccepted, rcm.StateExpired},
		{rcm.StateProvisioned, rcm.StateConfirmed}, {rcm.StateProvisioned, rcm.StateFailed}, {rcm.StateProvisioned, rcm.StateExpired},
		{rcm.StateConfirmed, rcm.StateSwapped}, {rcm.StateConfirmed, rcm.StateFailed},
	} {
		allowed[p] = true
	}
	now := time.Unix(1e9, 0)
	for _, from := range all {
		for _, to := range all {
			s := rcm.Session{ID: "s", State: from}
			got, err := s.Transition(to, now)
			if allowed[[2]rcm.SessionState{from, to}] {
				if err != nil || got.State != to || !got.UpdatedAt.Equal(now) {
					t.Errorf("%s -> %s: %v, state %s", from, to, err, got.State)
				}
				continue
			}
			var te *rcm.TransitionError
			if !errors.As(err, &te) || !errors.Is(err, rcm.ErrIllegalTransition) || te.From != from || te.To != to || got.State != from {
				t.Errorf("%s -> %s: %v (state %s), want a TransitionError", from, to, err, got.State)
			}
		}
	}
	for _, s := range []rcm.SessionState{rcm.StateSwapped, rcm.StateExpired, rcm.StateFailed} {
		if !s.Terminal() {
			t.Errorf("%s is not terminal", s)
		}
	}
}

// TestPreRegisteredProvisionsAtOnce: RCM.md step 4 "Found", then the swap.
func TestPreRegisteredProvisionsAtOnce(t *testing.T) {
	e := newProvEnv(t)
	e.provider(t, providerA, "meters-acme", "0010100000000", "")
	d := e.device(t, 1)
	if err := e.ps.PutPreRegistration(provCtx, rcm.PreRegistration{IMEI: d.cd.IMEI, ProviderID: providerA, OfferID: "plan-" + providerA,
		ValidUntil: e.clock().Add(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	v, err := e.prov.Start(provCtx, d.start(t))
	if err != nil {
		t.Fatal(err)
	}
	if !v.PreRegistered || v.Offer != nil {
		t.Fatalf("view %+v: want pre-registered without an offer", v)
	}
	c := d.open(t, v)
	if c.IMSI != "001010000000001" || c.MSISDN != "4470000001" || c.ProviderID != providerA || c.K.IsZero() {
		t.Fatalf("credentials IMSI %s MSISDN %s provider %s", c.IMSI, c.MSISDN, c.ProviderID)
	}
	if c.OPc != hss.ComputeOPc(c.K, hss.Key{0xcd, 0xc2, 0x02, 0xd5}) {
		t.Fatal("OPc is not f(K, OP) of the provider (TS 35.206 4.1)")
	}
	// Pending until confirmation: the HSS does not know the IMSI yet.
	if _, err := e.hss.GetSubscriber(provCtx, c.IMSI); !errors.Is(err, hss.ErrUnknownSubscriber) {
		t.Fatalf("subscriber before confirmation: %v", err)
	}
	if len(e.det.detached()) != 0 {
		t.Fatal("detached before confirmation")
	}
	v, err = e.prov.Confirm(provCtx, v.ID, d.cd)
	if err != nil || v.State != rcm.StateSwapped {
		t.Fatalf("confirm: %+v, %v", v, err)
	}
	sub, err := e.hss.GetSubscriber(provCtx, c.IMSI)
	if err != nil || sub.K != c.K || sub.OPc != c.OPc || sub.MSISDN != c.MSISDN || sub.Status != hss.ServiceGranted || sub.APNs[0].Name != "iot" {
		t.Fatalf("subscriber after swap: %v", err)
	}
	if _, err := e.st.GetBinding(provCtx, d.guest); !errors.Is(err, rcm.ErrNoBinding) {
		t.Fatalf("guest binding after swap: %v", err)
	}
	if got := e.det.detached(); len(got) != 1 || got[0].GuestIMSI != d.guest || got[0].MMEHost != "mme1.rcmhss.test" {
		t.Fatalf("detached %+v, want the guest registration at mme1", got)
	}
	// A retried confirmation changes nothing.
	if v2, err := e.prov.Confirm(provCtx, v.ID, d.cd); err != nil || v2.State != rcm.StateSwapped || len(e.det.detached()) != 1 {
		t.Fatalf("second confirm: %+v, %v", v2, err)
	}
	if !e.hasAudit(t, rcm.AuditSwapped) || !e.hasAudit(t, rcm.AuditSealed) {
		t.Fatal("audit lacks sealed/swapped entries")
	}
	// The new subscriber authenticates: vectors from the new keys.
	visited, _ := hss.PLMNFromString("00101")
	ai, err := e.hss.AuthenticationInfo(provCtx, hss.AuthInfoRequest{IMSI: c.IMSI, VisitedPLMN: visited, ServingNode: "mme1", EUTRAN: 1})
	if err != nil || len(ai.EUTRAN) != 1 {
		t.Fatalf("AIR for the new IMSI: %v", err)
	}
	vec := ai.EUTRAN[0]
	m := hss.NewMilenage(c.K, c.OPc)
	res, _, _, _ := m.F2345(vec.RAND)
	if !bytes.Equal(res[:], vec.XRES) {
		t.Fatal("RES from the delivered keys differs from XRES")
	}
}

// TestDeclineThenAccept: figure 5 with two providers.
func TestDeclineThenAccept(t *testing.T) {
	e := newProvEnv(t)
	e.provider(t, providerA, "meters-acme", "0010100000000", "")
	e.provider(t, providerB, "meters-beta", "0010200000000", "")
	d := e.device(t, 2)
	v, err := e.prov.Start(provCtx, d.start(t))
	if err != nil || v.State != rcm.StateOffered || v.Offer == nil || v.Offer.ProviderID != providerA {
		t.Fatalf("start: %+v, %v; want the first provider's offer", v, err)
	}
	v, err = e.prov.Decline(provCtx, v.ID, d.cd, v.Offer.ID)
	if err != nil || v.State != rcm.StateOffered || v.Offer == nil || v.Offer.ProviderID != providerB {
		t.Fatalf("decline: %+v, %v; want the second provider's offer", v, err)
	}
	// Accepting the declined offer now is refused.
	if _, err := e.prov.Accept(provCtx, d.accept(t, v.ID, "plan-"+providerA, "")); !errors.Is(err, rcm.ErrWrongOffer) {
		t.Fatalf("accept of the declined offer: %v", err)
	}
	v, err = e.prov.Accept(provCtx, d.accept(t, v.ID, v.Offer.ID, ""))
	if err != nil {
		t.Fatal(err)
	}
	c := d.open(t, v)
	if c.ProviderID != providerB || !strings.HasPrefix(string(c.IMSI), "0010200000000") {
		t.Fatalf("credentials from %s, IMSI %s", c.ProviderID, c.IMSI)
	}
	if !e.hasAudit(t, rcm.AuditOfferDeclined) {
		t.Fatal("no offer_declined audit entry")
	}
}

func TestNoProviderAvailable(t *testing.T) {
	t.Run("none covers the device", func(t *testing.T) {
		e := newProvEnv(t)
		d := e.device(t, 3)
		v, err := e.prov.Start(provCtx, d.start(t))
		if !errors.Is(err, rcm.ErrNoProviderAvailable) || v.State != rcm.StateFailed {
			t.Fatalf("start: %+v, %v; want failed with ErrNoProviderAvailable", v, err)
		}
		if got := e.det.detached(); len(got) != 1 || got[0].GuestIMSI != d.guest {
			t.Fatalf("detached %+v, want the device's guest registration", got)
		}
		if _, err := e.st.GetBinding(provCtx, d.guest); !errors.Is(err, rcm.ErrNoBinding) {
			t.Fatalf("binding after no-provider: %v", err)
		}
		if !e.hasAudit(t, rcm.AuditNoProvider) {
			t.Fatal("no no_provider audit entry")
		}
	})
	t.Run("a provider listing another's profile does not count", func(t *testing.T) {
		e := newProvEnv(t)
		e.provider(t, providerB, "meters-acme", "0010200000000", "") // meters-acme belongs to acme
		d := e.device(t, 4)
		if _, err := e.prov.Start(provCtx, d.start(t)); !errors.Is(err, rcm.ErrNoProviderAvailable) {
			t.Fatalf("start: %v, want ErrNoProviderAvailable", err)
		}
	})
	t.Run("every offer declined", func(t *testing.T) {
		e := newProvEnv(t)
		e.provider(t, providerA, "meters-acme", "0010100000000", "")
		d := e.device(t, 5)
		v, err := e.prov.Start(provCtx, d.start(t))
		if err != nil {
			t.Fatal(err)
		}
		v, err = e.prov.Decline(provCtx, v.ID, d.cd, v.Offer.ID)
		if !errors.Is(err, rcm.ErrNoProviderAvailable) || v.State != rcm.StateFailed {
			t.Fatalf("last decline: %+v, %v", v, err)
		}
		if len(e.det.detached()) != 1 {
			t.Fatal("device not detached")
		}
		if _, err := e.prov.Accept(provCtx, d.accept(t, v.ID, "plan-"+providerA, "")); !errors.Is(err, rcm.ErrIllegalTransition) {
			t.Fatalf("accept on a failed session: %v", err)
		}
	})
}

func TestExpiredPreRegistration(t *testing.T) {
	t.Run("renewable is renewed and provisioned", func(t *testing.T) {
		e := newProvEnv(t)
		e.provider(t, providerA, "meters-acme", "0010100000000", "")
		d := e.device(t, 6)
		if err := e.ps.PutPreRegistration(provCtx, rcm.PreRegistration{IMEI: d.cd.IMEI, ProviderID: providerA, OfferID: "plan-" + providerA,
			ValidUntil: e.clock().Add(-time.Hour), RenewFor: 30 * 24 * time.Hour}); err != nil {
			t.Fatal(err)
		}
		v, err := e.prov.Start(provCtx, d.start(t))
		if err != nil || !v.PreRegistered {
			t.Fatalf("start: %+v, %v", v, err)
		}
		d.open(t, v)
		r, err := e.ps.GetPreRegistration(provCtx, d.cd.IMEI)
		if err != nil || !r.ValidUntil.Equal(e.clock().Add(30*24*time.Hour)) || r.Renewals != 1 {
			t.Fatalf("renewed pre-registration %+v, %v", r, err)
		}
		if !e.hasAudit(t, rcm.AuditRenewed) {
			t.Fatal("no renewal audit entry")
		}
	})
	t.Run("not renewable falls back to offers", func(t *testing.T) {
		e := newProvEnv(t)
		e.provider(t, providerA, "meters-acme", "0010100000000", "")
		d := e.device(t, 7)
		if err := e.ps.PutPreRegistration(provCtx, rcm.PreRegistration{IMEI: d.cd.IMEI, ProviderID: providerA, OfferID: "plan-" + providerA,
			ValidUntil: e.clock().Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
		v, err := e.prov.Start(provCtx, d.start(t))
		if err != nil || v.PreRegistered || v.State != rcm.StateOffered {
			t.Fatalf("start: %+v, %v; want an offer", v, err)
		}
	})
}

// TestRetriedAcceptSameSealed: exactly-once delivery, also under concurrent
// retries, with one IMSI allocated.
func TestRetriedAcceptSameSealed(t *testing.T) {
	e := newProvEnv(t)
	e.provider(t, providerA, "meters-acme", "0010100000000", "")
	d := e.device(t, 8)
	v, err := e.prov.Start(provCtx, d.start(t))
	if err != nil {
		t.Fatal(err)
	}
	const n = 6
	sealed := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				got, err := e.prov.Accept(provCtx, d.accept(t, v.ID, v.Offer.ID, ""))
				if errors.Is(err, rcm.ErrSessionBusy) {
					continue // the device retries, as it would on 409
				}
				sealed[i], errs[i] = got.Sealed, err
				return
			}
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !bytes.Equal(sealed[i], sealed[0]) || len(sealed[0]) == 0 {
			t.Fatalf("accept %d got different sealed bytes", i)
		}
	}
	again, err := e.prov.Accept(provCtx, d.accept(t, v.ID, v.Offer.ID, ""))
	if err != nil || !bytes.Equal(again.Sealed, sealed[0]) {
		t.Fatalf("later retry: %v", err)
	}
	// Exactly one IMSI left the pool of three: two more can be allocated, then
	// none. (Which one the winner holds depends on the race: a loser returns
	// the IMSI it drew, so the lowest free one need not follow the winner's.)
	pool := []rcm.NumberRange{{First: "001010000000001", Last: "001010000000003"}}
	free := map[string]bool{}
	for range 2 {
		next, err := e.ps.AllocateNumber(provCtx, providerA, rcm.PoolIMSI, pool)
		if err != nil || free[next] {
			t.Fatalf("allocation after the accepts: %q, %v; want a fresh IMSI", next, err)
		}
		free[next] = true
	}
	if next, err := e.ps.AllocateNumber(provCtx, providerA, rcm.PoolIMSI, pool); !errors.Is(err, rcm.ErrPoolExhausted) {
		t.Fatalf("third allocation %q, %v; want ErrPoolExhausted (the session holds one IMSI)", next, err)
	}
}

// TestUnconfirmedSessionExpires: the IMSI goes back to the pool.
func TestUnconfirmedSessionExpires(t *testing.T) {
	e := newProvEnv(t)
	e.provider(t, providerA, "meters-acme", "0010100000000", "")
	d := e.device(t, 9)
	v, err := e.prov.Start(provCtx, d.start(t))
	if err != nil {
		t.Fatal(err)
	}
	v, err = e.prov.Accept(provCtx, d.accept(t, v.ID, v.Offer.ID, ""))
	if err != nil {
		t.Fatal(err)
	}
	c := d.open(t, v)
	if n, err := e.prov.ExpireSessions(provCtx, 10); err != nil || n != 0 {
		t.Fatalf("expire before the lifetime: %d, %v", n, err)
	}
	e.advance(rcm.DefaultProvisioningConfig().SessionLifetime)
	if n, err := e.prov.ExpireSessions(provCtx, 10); err != nil || n != 1 {
		t.Fatalf("expire: %d, %v", n, err)
	}
	got, err := e.prov.Get(provCtx, v.ID, d.cd)
	if err != nil || got.State != rcm.StateExpired || got.Sealed != nil {
		t.Fatalf("expired session: %+v, %v", got, err)
	}
	if _, err := e.prov.Confirm(provCtx, v.ID, d.cd); !errors.Is(err, rcm.ErrIllegalTransition) {
		t.Fatalf("confirm after expiry: %v", err)
	}
	if _, err := e.hss.GetSubscriber(provCtx, c.IMSI); !errors.Is(err, hss.ErrUnknownSubscriber) {
		t.Fatalf("expired session's subscriber exists: %v", err)
	}
	// The IMSI is free again: the next device gets it.
	d2 := e.device(t, 10)
	v2, err := e.prov.Start(provCtx, d2.start(t))
	if err != nil {
		t.Fatal(err)
	}
	v2, err = e.prov.Accept(provCtx, d2.accept(t, v2.ID, v2.Offer.ID, ""))
	if err != nil {
		t.Fatal(err)
	}
	if c2 := d2.open(t, v2); c2.IMSI != c.IMSI {
		t.Fatalf("second device got %s, want the returned %s", c2.IMSI, c.IMSI)
	}
	if !e.hasAudit(t, rcm.AuditSessionExpired) {
		t.Fatal("no session_expired audit entry")
	}
}

func TestAcceptanceChecks(t *testing.T) {
	e := newProvEnv(t)
	e.provider(t, providerA, "meters-acme", "0010100000000", "R3CE1PT-42")
	d := e.device(t, 11)
	other := e.device(t, 12)
	v, err := e.prov.Start(provCtx, d.start(t))
	if err != nil || !v.Offer.ActivationCodeRequired {
		t.Fatalf("start: %+v, %v", v, err)
	}
	// Signed by another device's key.
	forged := other.accept(t, v.ID, v.Offer.ID, "R3CE1PT-42")
	forged.Device = d.cd
	if _, err := e.prov.Accept(provCtx, forged); !errors.Is(err, rcm.ErrBadAcceptance) {
		t.Fatalf("foreign signature: %v", err)
	}
	// Signature over another session id.
	wrong := d.accept(t, "another-session", v.Offer.ID, "R3CE1PT-42")
	wrong.SessionID = v.ID
	if _, err := e.prov.Accept(provCtx, wrong); !errors.Is(err, rcm.ErrBadAcceptance) {
		t.Fatalf("signature over another session: %v", err)
	}
	// Another device cannot see or act on the session.
	if _, err := e.prov.Get(provCtx, v.ID, other.cd); !errors.Is(err, rcm.ErrUnknownSession) {
		t.Fatalf("other device's get: %v", err)
	}
	if _, err := e.prov.Accept(provCtx, other.accept(t, v.ID, v.Offer.ID, "R3CE1PT-42")); !errors.Is(err, rcm.ErrUnknownSession) {
		t.Fatalf("other device's accept: %v", err)
	}
	for i := range rcm.DefaultCodeAttempts {
		_, err := e.prov.Accept(provCtx, d.accept(t, v.ID, v.Offer.ID, "wrong"))
		want := rcm.ErrBadActivationCode
		if i == rcm.DefaultCodeAttempts-1 {
			want = rcm.ErrActivationLocked
		}
		if !errors.Is(err, want) {
			t.Fatalf("wrong code %d: %v, want %v", i+1, err, want)
		}
	}
	if _, err := e.prov.Accept(provCtx, d.accept(t, v.ID, v.Offer.ID, "R3CE1PT-42")); !errors.Is(err, rcm.ErrIllegalTransition) {
		t.Fatalf("right code after lockout: %v", err)
	}
	// A fresh session with the right code provisions.
	d3 := e.device(t, 13)
	v3, err := e.prov.Start(provCtx, d3.start(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.prov.Accept(provCtx, d3.accept(t, v3.ID, v3.Offer.ID, "R3CE1PT-42")); err != nil {
		t.Fatal(err)
	}
}

func TestStartChecks(t *testing.T) {
	e := newProvEnv(t)
	e.provider(t, providerA, "meters-acme", "0010100000000", "")
	d := e.device(t, 14)
	other := e.device(t, 15)
	r := d.start(t)
	r.HPKESignature = other.start(t).HPKESignature
	if _, err := e.prov.Start(provCtx, r); !errors.Is(err, rcm.ErrBadAcceptance) {
		t.Fatalf("hpke key signed by another device: %v", err)
	}
	r = d.start(t)
	r.GuestIMSI = other.guest
	if _, err := e.prov.Start(provCtx, r); !errors.Is(err, rcm.ErrIMEIMismatch) {
		t.Fatalf("another device's guest binding: %v", err)
	}
	r = d.start(t)
	r.GuestIMSI = ""
	if _, err := e.prov.Start(provCtx, r); !errors.Is(err, rcm.ErrNoBinding) {
		t.Fatalf("no guest binding: %v", err)
	}
	r = d.start(t)
	r.HPKEKey = []byte{4, 1, 2, 3}
	if _, err := e.prov.Start(provCtx, r); !errors.Is(err, rcm.ErrMalformedBootstrap) {
		t.Fatalf("bad hpke key: %v", err)
	}
}

func TestCredentialsSealedToDeviceAndSession(t *testing.T) {
	k1, _ := ecdh.P256().GenerateKey(rand.Reader)
	k2, _ := ecdh.P256().GenerateKey(rand.Reader)
	c := &rcm.Credentials{IMSI: "001010000000001", K: hss.Key{1, 2, 3}, OPc: hss.Key{4, 5, 6}, AMF: [2]byte{0x80, 0}, ProviderID: "p", OfferID: "o"}
	sealed, err := rcm.SealCredentials(k1.PublicKey().Bytes(), "s1", c)
	if err != nil {
		t.Fatal(err)
	}
	// DHKEM(P-256) enc is an uncompressed point (RFC 9180 7.1: Nenc 65), then
	// the AES-128-GCM ciphertext with its 16-byte tag.
	if sealed[0] != 4 || len(sealed) < 65+16 {
		t.Fatalf("sealed layout: %d bytes, first %#x", len(sealed), sealed[0])
	}
	got, err := rcm.OpenCredentials(k1, "s1", sealed)
	if err != nil || *got != *c {
		t.Fatalf("open: %v", err)
	}
	if _, err := rcm.OpenCredentials(k1, "s2", sealed); !errors.Is(err, rcm.ErrCredentialsUnreadable) {
		t.Fatalf("open under another session: %v", err)
	}
	if _, err := rcm.OpenCredentials(k2, "s1", sealed); !errors.Is(err, rcm.ErrCredentialsUnreadable) {
		t.Fatalf("open with another key: %v", err)
	}
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	if _, err := rcm.OpenCredentials(k1, "s1", tampered); !errors.Is(err, rcm.ErrCredentialsUnreadable) {
		t.Fatalf("open tampered: %v", err)
	}
	if s := fmt.Sprintf("%v %+v %#v", *got, got, got); strings.Contains(s, "010203") || strings.Contains(s, c.K.Hex()) {
		t.Fatalf("credentials print their key: %s", s)
	}
}

// TestNoSecretsInLogsOrAudit runs the whole flow at debug level and looks for
// K, OPc and the sealed payload in every log line, audit entry and session
// view handed to a provider.
func TestNoSecretsInLogsOrAudit(t *testing.T) {
	e := newProvEnv(t)
	e.provider(t, providerA, "meters-acme", "0010100000000", "")
	d := e.device(t, 16)
	v, err := e.prov.Start(provCtx, d.start(t))
	if err != nil {
		t.Fatal(err)
	}
	v, err = e.prov.Accept(provCtx, d.accept(t, v.ID, v.Offer.ID, ""))
	if err != nil {
		t.Fatal(err)
	}
	c := d.open(t, v)
	if _, err := e.prov.Confirm(provCtx, v.ID, d.cd); err != nil {
		t.Fatal(err)
	}
	auditJSON, err := json.Marshal(e.audit(t))
	if err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	logs := e.logs.String()
	e.mu.Unlock()
	if !strings.Contains(logs, "rcm credentials sealed") {
		t.Fatal("the provisioning log lines are missing: the check below would prove nothing")
	}
	secrets := map[string]string{
		"K hex": c.K.Hex(), "K upper hex": strings.ToUpper(c.K.Hex()), "OPc hex": c.OPc.Hex(),
		"K base64": base64.StdEncoding.EncodeToString(c.K[:]), "OPc base64": base64.StdEncoding.EncodeToString(c.OPc[:]),
		"sealed base64": base64.StdEncoding.EncodeToString(v.Sealed), "sealed hex": hex.EncodeToString(v.Sealed[:32]),
		"full IMSI": string(c.IMSI),
	}
	for name, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("%s in the log", name)
		}
		if strings.Contains(string(auditJSON), s) {
			t.Errorf("%s in the audit log", name)
		}
	}
	ss, err := e.ps.ListSessions(provCtx, providerA)
	if err != nil || len(ss) != 1 {
		t.Fatalf("sessions %v, %v", ss, err)
	}
	if p := fmt.Sprintf("%v %+v %#v", ss[0], ss[0], ss[0]); strings.Contains(p, c.K.Hex()) || strings.Contains(p, fmt.Sprint(ss[0].Sealed)) {
		t.Fatal("a printed session shows key or sealed material")
	}
}

func newTestSealer() (*hss.KeySealer, error) { return hss.NewKeySealer(testKEK()) }

func TestRunExpiry(t *testing.T) {
	e := newProvEnv(t)
	e.provider(t, providerA, "meters-acme", "0010100000000", "")
	d := e.device(t, 90)
	v, err := e.prov.Start(provCtx, d.start(t))
	if err != nil {
		t.Fatal(err)
	}
	e.advance(time.Hour)
	ctx, cancel := context.WithCancel(provCtx)
	done := make(chan error, 1)
	go func() { done <- e.prov.RunExpiry(ctx, time.Millisecond, 1) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := e.prov.Get(provCtx, v.ID, d.cd)
		if err == nil && got.State == rcm.StateExpired {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("session not expired by the sweeper: %+v, %v", got, err)
		}
		time.Sleep(time.Millisecond) // poll interval
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := e.prov.RunExpiry(provCtx, 0, 1); !errors.Is(err, rcm.ErrInvalidConfig) {
		t.Fatalf("zero interval: %v", err)
	}
}

// TestPreRegistrationOfUncoveredDevice: a provider cannot capture a device
// that only another provider's profiles cover by pre-registering its IMEI.
func TestPreRegistrationOfUncoveredDevice(t *testing.T) {
	e := newProvEnv(t)
	e.provider(t, providerA, "meters-acme", "0010100000000", "")
	// providerB lists no profile of its own that covers the device.
	e.provider(t, providerB, "no-such-profile", "0010200000000", "")
	d := e.device(t, 91)
	if err := e.ps.PutPreRegistration(provCtx, rcm.PreRegistration{IMEI: d.cd.IMEI, ProviderID: providerB, OfferID: "plan-" + providerB,
		ValidUntil: e.clock().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	v, err := e.prov.Start(provCtx, d.start(t))
	if err != nil || v.PreRegistered || v.State != rcm.StateOffered || v.Offer.ProviderID != providerA {
		t.Fatalf("start: %+v, %v; want provider a's offer, the pre-registration ignored", v, err)
	}
}
