package rcm

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rcmhss/rcmhss/hss"
)

// testNow is the verification time of the tests; certificates are valid a
// year either side unless a test says otherwise.
var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var serialMu sync.Mutex
var nextSerial int64 = 1000

func serial() *big.Int {
	serialMu.Lock()
	defer serialMu.Unlock()
	nextSerial++
	return big.NewInt(nextSerial)
}

// newCA makes a self-signed CA, or one signed by parent when parent is not nil.
func newCA(t testing.TB, name string, parent *testCA) *testCA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"rcmhss test"}},
		NotBefore:             testNow.Add(-5 * 365 * 24 * time.Hour),
		NotAfter:              testNow.Add(5 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: c, key: key}
}

type leafOpts struct {
	notBefore, notAfter time.Time
	uris                []string
	key                 any // public key to certify; default a fresh P-256 key
}

// issue signs a leaf for pub with the given URI SANs.
func (ca *testCA) issue(t testing.TB, cn string, pub any, o leafOpts) *x509.Certificate {
	t.Helper()
	if o.notBefore.IsZero() {
		o.notBefore = testNow.Add(-365 * 24 * time.Hour)
	}
	if o.notAfter.IsZero() {
		o.notAfter = testNow.Add(365 * 24 * time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    o.notBefore,
		NotAfter:     o.notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	for _, u := range o.uris {
		pu, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = append(tmpl.URIs, pu)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// device issues a device certificate for imei (and classes) under ca, the
// chain being leaf then any extra intermediates.
func (ca *testCA) device(t testing.TB, imei IMEI, o leafOpts, classes ...string) DeviceCredentials {
	t.Helper()
	key := newKey(t)
	o.uris = append(o.uris, imei.URN())
	for _, c := range classes {
		o.uris = append(o.uris, deviceClassURNPrefix+c)
	}
	leaf := ca.issue(t, "device "+string(imei), &key.PublicKey, o)
	return DeviceCredentials{IMEI: imei, CertChain: [][]byte{leaf.Raw}, Key: key}
}

func (ca *testCA) crl(t testing.TB, serials ...*big.Int) []byte {
	t.Helper()
	var entries []x509.RevocationListEntry
	for _, s := range serials {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: testNow.Add(-time.Hour)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    big.NewInt(1),
		ThisUpdate:                testNow.Add(-time.Hour),
		NextUpdate:                testNow.Add(24 * time.Hour),
		RevokedCertificateEntries: entries,
	}, ca.cert, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// memState is the in-memory ProfileSource, ReplayCache and RateLimiter the
// domain tests run Verify against; the real stores are tested by the store
// conformance suite.
type memState struct {
	mu       sync.Mutex
	profiles []DeviceProfile
	seen     map[string]bool
	counts   map[string]int
}

func newMemState(profiles ...DeviceProfile) *memState {
	return &memState{profiles: profiles, seen: map[string]bool{}, counts: map[string]int{}}
}

func (m *memState) ListProfiles(context.Context) ([]DeviceProfile, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.profiles), nil
}

func (m *memState) Seen(_ context.Context, key string, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ttl <= 0 {
		panic("replay ttl must be positive")
	}
	was := m.seen[key]
	m.seen[key] = true
	return was, nil
}

// Allow counts without expiry: every test finishes well inside any window.
func (m *memState) Allow(_ context.Context, key string, limit int, _ time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.counts[key]++
	return m.counts[key] <= limit, nil
}

// rcmFixture is a registered vendor PKI, an HSS RCM identity and a verifier.
type rcmFixture struct {
	cfg      Config
	vendor   *testCA
	hssRoot  *testCA
	hss      *HSSIdentity
	state    *memState
	revs     *Revocations
	verifier *Verifier
	guest    hss.IMSI
	visited  hss.PLMN
	profile  DeviceProfile
}

const testIMEI IMEI = "490154203237518"

func testConfig() Config {
	cfg := DefaultConfig()
	cfg.Guest.Ranges = []IMSIRange{{Prefix: "00101999"}}
	cfg.Guest.K = hss.Key{0x46, 0x5b, 0x5c, 0xe8, 0xb1, 0x99, 0xb4, 0x9f, 0xaa, 0x5f, 0x0a, 0x2e, 0xe2, 0x38, 0xa6, 0xbc}
	cfg.Guest.OPc = hss.Key{0xcd, 0x63, 0xcb, 0x71, 0x95, 0x4a, 0x9f, 0x4e, 0x48, 0xa5, 0x99, 0x4e, 0x37, 0xa0, 0x2b, 0xaf}
	cfg.Guest.AMF = [2]byte{0x80, 0x00}
	return cfg
}

func newFixture(t testing.TB) *rcmFixture {
	t.Helper()
	cfg := testConfig()
	f := &rcmFixture{cfg: cfg, guest: "001019990000001"}
	var err error
	if f.visited, err = hss.PLMNFromString("00101"); err != nil {
		t.Fatal(err)
	}
	f.vendor = newCA(t, "Vendor Device CA", nil)
	f.profile = DeviceProfile{
		ID: "meters-acme", ProviderID: "acme-utility",
		VendorCAs: [][]byte{f.vendor.cert.Raw},
		Coverage:  Coverage{TACs: []string{testIMEI.TAC()}},
	}
	if err := f.profile.Validate(); err != nil {
		t.Fatal(err)
	}
	f.state = newMemState(f.profile)
	f.revs = &Revocations{}
	if f.verifier, err = NewVerifier(cfg, f.state, f.revs, f.state, f.state); err != nil {
		t.Fatal(err)
	}
	f.hssRoot = newCA(t, "RCM HSS Root", nil)
	hssKey := newKey(t)
	hssCert := f.hssRoot.issue(t, "hss.rcmhss.test", &hssKey.PublicKey, leafOpts{})
	if f.hss, err = NewHSSIdentity(hssKey, [][]byte{hssCert.Raw}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *rcmFixture) pinned() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(f.hssRoot.cert)
	return p
}

// attach builds a signed bootstrap for cred at time at.
func (f *rcmFixture) attach(t testing.TB, cred DeviceCredentials, at time.Time) (*DeviceSession, Bootstrap) {
	t.Helper()
	s, err := NewDeviceSession(cred)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Bootstrap(f.guest, f.visited, at)
	if err != nil {
		t.Fatal(err)
	}
	return s, b
}
