package rcm_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/rcm"
	"github.com/rcmhss/rcmhss/rcm/memstore"
)

const adminToken = "s3cret-admin-token"

type adminCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newAdminCA(t *testing.T) adminCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "vendor"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return adminCA{cert: c, key: key}
}

func (c adminCA) pem() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.cert.Raw}))
}

func (c adminCA) crl(t *testing.T) []byte {
	t.Helper()
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1),
		ThisUpdate: time.Now().Add(-time.Minute), NextUpdate: time.Now().Add(time.Hour),
		RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: big.NewInt(42), RevocationTime: time.Now()}}}, c.cert, c.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// recordingCanceller is the Diameter side as the admin API sees it: it
// records the bindings it was asked to cancel.
type recordingCanceller struct {
	mu  sync.Mutex
	got []rcm.Binding
}

func (c *recordingCanceller) CancelBinding(_ context.Context, b rcm.Binding) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, b)
	return nil
}

type adminEnv struct {
	srv    *httptest.Server
	st     *memstore.Store
	cancel *recordingCanceller
}

func newAdminEnv(t *testing.T, wrap func(rcm.Store) rcm.Store) *adminEnv {
	t.Helper()
	pki := rcm.NewTestPKI(t)
	e := &adminEnv{st: memstore.New(), cancel: &recordingCanceller{}}
	var st rcm.Store = e.st
	if wrap != nil {
		st = wrap(st)
	}
	svc, err := rcm.NewService(pki.Config, st, pki.Identity, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(rcm.NewAdminHandler(svc, adminToken, rcm.WithCanceller(e.cancel)))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *adminEnv) call(t *testing.T, method, path, contentType string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (e *adminEnv) json(t *testing.T, method, path string, v any) (int, []byte) {
	t.Helper()
	var b []byte
	if v != nil {
		var err error
		if b, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	return e.call(t, method, path, "application/json", b)
}

func TestAdminAuth(t *testing.T) {
	e := newAdminEnv(t, nil)
	for _, auth := range []string{"", "Bearer wrong", "Basic " + adminToken} {
		req, _ := http.NewRequest("GET", e.srv.URL+"/v1/rcm/profiles", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("Authorization %q: %d", auth, resp.StatusCode)
		}
	}
	srv := httptest.NewServer(rcm.NewAdminHandler(nil, ""))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/v1/rcm/profiles", nil)
	req.Header.Set("Authorization", "Bearer ")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("empty token configured: %d, want 401 (fail closed)", resp.StatusCode)
	}
}

func TestAdminProfiles(t *testing.T) {
	e := newAdminEnv(t, nil)
	ca := newAdminCA(t)
	p := map[string]any{"id": "meters", "provider_id": "acme", "vendor_cas": []string{ca.pem()},
		"coverage": map[string]any{"tacs": []string{"35000001"}}}
	if code, b := e.json(t, "POST", "/v1/rcm/profiles", p); code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, b)
	}
	if code, _ := e.json(t, "POST", "/v1/rcm/profiles", p); code != http.StatusConflict {
		t.Errorf("duplicate: %d", code)
	}
	code, b := e.json(t, "GET", "/v1/rcm/profiles/meters", nil)
	var got struct {
		VendorCAs []string     `json:"vendor_cas"`
		Coverage  rcm.Coverage `json:"coverage"`
	}
	if code != 200 || json.Unmarshal(b, &got) != nil || len(got.VendorCAs) != 1 || got.VendorCAs[0] != ca.pem() {
		t.Fatalf("get: %d %s", code, b)
	}
	stored, err := e.st.GetProfile(context.Background(), "meters")
	if err != nil || !bytes.Equal(stored.VendorCAs[0], ca.cert.Raw) {
		t.Fatalf("stored profile: %v", err)
	}
	// Bad inputs: not PEM, a leaf as CA, nothing covered, id mismatch.
	leafPEM := strings.ReplaceAll(ca.pem(), "CERTIFICATE", "PRIVATE KEY")
	for name, body := range map[string]map[string]any{
		"NotPEM":     {"id": "x", "provider_id": "a", "vendor_cas": []string{"garbage"}, "coverage": map[string]any{"tacs": []string{"35000001"}}},
		"KeyBlock":   {"id": "x", "provider_id": "a", "vendor_cas": []string{leafPEM}, "coverage": map[string]any{"tacs": []string{"35000001"}}},
		"NoCoverage": {"id": "x", "provider_id": "a", "vendor_cas": []string{ca.pem()}, "coverage": map[string]any{}},
		"Unknown":    {"id": "x", "provider_id": "a", "vendor_cas": []string{ca.pem()}, "coverage": map[string]any{"tacs": []string{"35000001"}}, "extra": 1},
	} {
		if code, b := e.json(t, "POST", "/v1/rcm/profiles", body); code != http.StatusBadRequest {
			t.Errorf("%s: %d %s", name, code, b)
		}
	}
	p["coverage"] = map[string]any{"tacs": []string{"35000002"}}
	if code, b := e.json(t, "PUT", "/v1/rcm/profiles/meters", p); code != 200 {
		t.Fatalf("put: %d %s", code, b)
	}
	if code, _ := e.json(t, "PUT", "/v1/rcm/profiles/other", p); code != http.StatusBadRequest {
		t.Errorf("put with another id: %d", code)
	}
	if sp, _ := e.st.GetProfile(context.Background(), "meters"); !slices.Equal(sp.Coverage.TACs, []string{"35000002"}) {
		t.Errorf("after put: %v", sp.Coverage.TACs)
	}
	if code, b := e.json(t, "GET", "/v1/rcm/profiles", nil); code != 200 || !strings.Contains(string(b), `"meters"`) {
		t.Errorf("list: %d %s", code, b)
	}
	if code, _ := e.json(t, "DELETE", "/v1/rcm/profiles/meters", nil); code != http.StatusNoContent {
		t.Errorf("delete: %d", code)
	}
	if code, _ := e.json(t, "GET", "/v1/rcm/profiles/meters", nil); code != http.StatusNotFound {
		t.Errorf("get deleted: %d", code)
	}
}

func TestAdminRevocations(t *testing.T) {
	e := newAdminEnv(t, nil)
	ctx := context.Background()
	ca := newAdminCA(t)
	if err := e.st.CreateProfile(ctx, rcm.DeviceProfile{ID: "p", ProviderID: "v", VendorCAs: [][]byte{ca.cert.Raw},
		Coverage: rcm.Coverage{TACs: []string{"35000001"}}}); err != nil {
		t.Fatal(err)
	}
	if code, b := e.json(t, "POST", "/v1/rcm/revocations/imeis", map[string]string{"imei": "490154203237518"}); code != http.StatusNoContent {
		t.Fatalf("revoke imei: %d %s", code, b)
	}
	if code, _ := e.json(t, "POST", "/v1/rcm/revocations/imeis", map[string]string{"imei": "490154203237519"}); code != http.StatusBadRequest {
		t.Errorf("bad check digit: %d", code)
	}
	if r, _ := e.st.IMEIRevoked(ctx, "490154203237518"); !r {
		t.Error("IMEI not revoked in the store")
	}
	issuer := rcm.FingerprintOf(ca.cert.Raw)
	if code, b := e.json(t, "POST", "/v1/rcm/revocations/serials", map[string]string{"issuer": issuer.String(), "serial": "2A"}); code != http.StatusNoContent {
		t.Fatalf("revoke serial: %d %s", code, b)
	}
	if r, _ := e.st.SerialRevoked(ctx, issuer, big.NewInt(42)); !r {
		t.Error("serial not revoked in the store")
	}
	if code, _ := e.json(t, "POST", "/v1/rcm/revocations/serials", map[string]string{"issuer": issuer.String(), "serial": "xyz"}); code != http.StatusBadRequest {
		t.Errorf("bad serial: %d", code)
	}
	crl := ca.crl(t)
	if code, b := e.call(t, "POST", "/v1/rcm/revocations/crls", "application/pkix-crl", crl); code != http.StatusCreated || !strings.Contains(string(b), issuer.String()) {
		t.Fatalf("crl DER: %d %s", code, b)
	}
	pemCRL := pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: crl})
	if code, b := e.call(t, "POST", "/v1/rcm/revocations/crls", "application/x-pem-file", pemCRL); code != http.StatusCreated {
		t.Fatalf("crl PEM: %d %s", code, b)
	}
	// A CRL signed by a CA no profile registers is no evidence.
	other := newAdminCA(t)
	if code, _ := e.call(t, "POST", "/v1/rcm/revocations/crls", "application/pkix-crl", other.crl(t)); code != http.StatusBadRequest {
		t.Errorf("foreign crl: %d", code)
	}
	if code, _ := e.call(t, "POST", "/v1/rcm/revocations/crls", "application/pkix-crl", []byte("junk")); code != http.StatusBadRequest {
		t.Errorf("junk crl: %d", code)
	}
	if crls, _ := e.st.IssuerCRLs(ctx, issuer); len(crls) != 2 {
		t.Errorf("%d CRLs stored", len(crls))
	}
	code, b := e.json(t, "GET", "/v1/rcm/revocations", nil)
	var rv struct {
		IMEIs   []string `json:"imeis"`
		Serials []any    `json:"serials"`
		CRLs    []string `json:"crls"`
	}
	if code != 200 || json.Unmarshal(b, &rv) != nil || len(rv.IMEIs) != 1 || len(rv.Serials) != 1 || len(rv.CRLs) != 2 {
		t.Fatalf("get revocations: %d %s", code, b)
	}
}

func TestAdminBindings(t *testing.T) {
	e := newAdminEnv(t, nil)
	ctx := context.Background()
	b := rcm.Binding{GuestIMSI: "001019990000001", IMEI: "490154203237518", ProfileID: "p", MMEHost: "mme1.epc", MMERealm: "epc",
		CreatedAt: time.Now().UTC(), ExpiresAt: time.Now().Add(time.Hour).UTC()}
	if err := e.st.PutBinding(ctx, b); err != nil {
		t.Fatal(err)
	}
	if code, body := e.json(t, "GET", "/v1/rcm/bindings", nil); code != 200 || !strings.Contains(string(body), `"mme1.epc"`) {
		t.Fatalf("list: %d %s", code, body)
	}
	if code, _ := e.json(t, "GET", "/v1/rcm/bindings/001019990000001", nil); code != 200 {
		t.Errorf("get: %d", code)
	}
	if code, _ := e.json(t, "GET", "/v1/rcm/bindings/notanimsi", nil); code != http.StatusBadRequest {
		t.Errorf("bad imsi: %d", code)
	}
	if code, _ := e.json(t, "DELETE", "/v1/rcm/bindings/001019990000001", nil); code != http.StatusNoContent {
		t.Fatalf("delete: %d", code)
	}
	if len(e.cancel.got) != 1 || e.cancel.got[0].MMEHost != "mme1.epc" {
		t.Errorf("cancelled %+v, want the binding's MME", e.cancel.got)
	}
	if _, err := e.st.GetBinding(ctx, b.GuestIMSI); err == nil {
		t.Error("binding still stored")
	}
	if code, _ := e.json(t, "DELETE", "/v1/rcm/bindings/001019990000001", nil); code != http.StatusNotFound {
		t.Errorf("second delete: %d", code)
	}
}

// tamperingStore corrupts one audit entry on read, as an attacker editing
// the store would.
type tamperingStore struct{ rcm.Store }

func (s tamperingStore) ListAudit(ctx context.Context, after uint64, limit int) ([]rcm.AuditEntry, error) {
	es, err := s.Store.ListAudit(ctx, after, limit)
	for i := range es {
		if es[i].Seq == 3 {
			es[i].Reason = "nothing happened"
		}
	}
	return es, err
}

func TestAdminAudit(t *testing.T) {
	for _, tamper := range []bool{false, true} {
		var wrap func(rcm.Store) rcm.Store
		if tamper {
			wrap = func(s rcm.Store) rcm.Store { return tamperingStore{s} }
		}
		e := newAdminEnv(t, wrap)
		for i := range 5 {
			if _, err := e.st.AppendAudit(context.Background(), rcm.NewAuditRecord(time.Now(), rcm.AuditRejected, hss.IMSI("001019990000001"), "", rcm.ErrReplay)); err != nil {
				t.Fatal(i, err)
			}
		}
		type page struct {
			Entries    []rcm.AuditEntry `json:"entries"`
			Verified   bool             `json:"verified"`
			ChainError string           `json:"chain_error"`
			Next       *uint64          `json:"next"`
		}
		var p1, p2 page
		code, b := e.json(t, "GET", "/v1/rcm/audit?limit=2", nil)
		if code != 200 || json.Unmarshal(b, &p1) != nil || len(p1.Entries) != 2 || p1.Next == nil || *p1.Next != 2 || !p1.Verified {
			t.Fatalf("tamper=%v page 1: %d %s", tamper, code, b)
		}
		code, b = e.json(t, "GET", "/v1/rcm/audit?after=2&limit=10", nil)
		if code != 200 || json.Unmarshal(b, &p2) != nil || len(p2.Entries) != 3 || p2.Next != nil {
			t.Fatalf("tamper=%v page 2: %d %s", tamper, code, b)
		}
		if p2.Verified == tamper || (tamper && p2.ChainError == "") {
			t.Errorf("tamper=%v: verified=%v chain_error=%q", tamper, p2.Verified, p2.ChainError)
		}
		if strings.Contains(string(b), "001019990000001") {
			t.Error("audit output carries an unmasked IMSI")
		}
		if code, _ := e.json(t, "GET", "/v1/rcm/audit?limit=0", nil); code != http.StatusBadRequest {
			t.Errorf("limit=0: %d", code)
		}
	}
}
