package rcm_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rcmhss/rcmhss/rcm"
)

// serverIdentity issues a provisioning-server certificate for 127.0.0.1 under
// a fresh root, returning the certificate and a pool holding the root.
func serverIdentity(t *testing.T, now time.Time) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "RCM provisioning root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "rcm.rcmhss.test"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// provServer starts the provisioning API on a port-0 TLS listener with mutual
// TLS, backed by e's stores through its own Provisioner (a separate node).
func (e *provEnv) provServer(t *testing.T) (*httptest.Server, *x509.CertPool) {
	t.Helper()
	p := e.newNode(t)
	cert, pool := serverIdentity(t, time.Now())
	srv := httptest.NewUnstartedServer(rcm.NewProvisioningHandler(p, slog.New(slog.DiscardHandler)))
	srv.TLS = rcm.ProvisioningTLSConfig(cert)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, pool
}

// newNode builds another Provisioner over the same stores: what a second
// rcmhss node sharing them would run.
func (e *provEnv) newNode(t *testing.T) *rcm.Provisioner {
	t.Helper()
	sealer, err := newTestSealer()
	if err != nil {
		t.Fatal(err)
	}
	p, err := rcm.NewProvisioner(rcm.DefaultProvisioningConfig(), e.pki.Config, e.st, e.ps, e.hss, e.det, sealer,
		slog.New(slog.DiscardHandler), rcm.WithProvisionerClock(e.clock))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (d *testDevice) client(roots *x509.CertPool) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: roots, MinVersion: tls.VersionTLS13,
		Certificates: []tls.Certificate{{Certificate: d.cred.CertChain, PrivateKey: d.cred.Key}},
	}}}
}

// call sends body as JSON and decodes the answer into out (when not nil).
func call(t *testing.T, c *http.Client, method, url string, body, out any) (int, rcm.ProvisioningError) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var pe rcm.ProvisioningError
	if resp.StatusCode >= 300 {
		_ = json.Unmarshal(raw, &pe)
	} else if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, url, err, raw)
		}
	}
	return resp.StatusCode, pe
}

// TestProvisioningHTTPTwoNodes runs figure 5 and the swap over mutual TLS,
// starting the session on one node and finishing it on another.
func TestProvisioningHTTPTwoNodes(t *testing.T) {
	e := newProvEnv(t)
	e.provider(t, providerA, "meters-acme", "0010100000000", "")
	e.provider(t, providerB, "meters-beta", "0010200000000", "")
	node1, roots := e.provServer(t)
	node2, roots2 := e.provServer(t)
	d := e.device(t, 20)
	c1 := d.client(roots)
	c2 := d.client(roots2)

	st := d.start(t)
	var v rcm.SessionView
	if code, pe := call(t, c1, "POST", node1.URL+"/v1/sessions", rcm.StartSessionJSON{GuestIMSI: string(st.GuestIMSI), HPKEKey: st.HPKEKey,
		HPKESignature: st.HPKESignature}, &v); code != http.StatusCreated || v.Offer == nil || v.Offer.ProviderID != providerA {
		t.Fatalf("start: %d %+v %+v", code, pe, v)
	}
	if code, pe := call(t, c2, "POST", node2.URL+"/v1/sessions/"+v.ID+"/decline", rcm.DeclineJSON{OfferID: v.Offer.ID}, &v); code != http.StatusOK ||
		v.Offer == nil || v.Offer.ProviderID != providerB {
		t.Fatalf("decline on node 2: %d %+v %+v", code, pe, v)
	}
	// Error table: wrong offer, bad signature, another device's session.
	acc := d.accept(t, v.ID, v.Offer.ID, "")
	if code, pe := call(t, c1, "POST", node1.URL+"/v1/sessions/"+v.ID+"/accept", rcm.AcceptJSON{OfferID: "plan-" + providerA, Signature: acc.Signature}, nil); code != http.StatusConflict || pe.Code != "wrong_offer" {
		t.Fatalf("wrong offer: %d %+v", code, pe)
	}
	if code, pe := call(t, c1, "POST", node1.URL+"/v1/sessions/"+v.ID+"/accept", rcm.AcceptJSON{OfferID: v.Offer.ID, Signature: []byte{0x30, 0}}, nil); code != http.StatusForbidden || pe.Code != "bad_signature" {
		t.Fatalf("bad signature: %d %+v", code, pe)
	}
	other := e.device(t, 21)
	if code, pe := call(t, other.client(roots), "GET", node1.URL+"/v1/sessions/"+v.ID, nil, nil); code != http.StatusNotFound || pe.Code != "unknown_session" {
		t.Fatalf("another device's session: %d %+v", code, pe)
	}
	if code, pe := call(t, c1, "POST", node1.URL+"/v1/sessions/"+v.ID+"/accept", map[string]any{"offer_id": v.Offer.ID, "evil": 1}, nil); code != http.StatusBadRequest {
		t.Fatalf("unknown field: %d %+v", code, pe)
	}

	var a1, a2 rcm.SessionView
	if code, pe := call(t, c1, "POST", node1.URL+"/v1/sessions/"+v.ID+"/accept", rcm.AcceptJSON{OfferID: v.Offer.ID, Signature: acc.Signature}, &a1); code != http.StatusOK {
		t.Fatalf("accept: %d %+v", code, pe)
	}
	// The retry lands on the other node: same sealed bytes.
	if code, pe := call(t, c2, "POST", node2.URL+"/v1/sessions/"+v.ID+"/accept", rcm.AcceptJSON{OfferID: v.Offer.ID, Signature: acc.Signature}, &a2); code != http.StatusOK ||
		!bytes.Equal(a1.Sealed, a2.Sealed) {
		t.Fatalf("retried accept on node 2: %d %+v, identical sealed bytes %v", code, pe, bytes.Equal(a1.Sealed, a2.Sealed))
	}
	creds := d.open(t, a1)
	if creds.ProviderID != providerB {
		t.Fatalf("credentials of %s", creds.ProviderID)
	}
	var done rcm.SessionView
	if code, pe := call(t, c2, "POST", node2.URL+"/v1/sessions/"+v.ID+"/confirm", nil, &done); code != http.StatusOK || done.State != rcm.StateSwapped {
		t.Fatalf("confirm: %d %+v %+v", code, pe, done)
	}
	if sub, err := e.hss.GetSubscriber(provCtx, creds.IMSI); err != nil || sub.K != creds.K {
		t.Fatalf("subscriber after the swap: %v", err)
	}
	var got rcm.SessionView
	if code, _ := call(t, c1, "GET", node1.URL+"/v1/sessions/"+v.ID, nil, &got); code != http.StatusOK || got.State != rcm.StateSwapped {
		t.Fatalf("get on node 1: %d %+v", code, got)
	}
	if len(e.det.detached()) != 1 {
		t.Fatalf("detached %d times, want once", len(e.det.detached()))
	}
}

func TestProvisioningHTTPClientCertificate(t *testing.T) {
	e := newProvEnv(t)
	e.provider(t, providerA, "meters-acme", "0010100000000", "")
	srv, roots := e.provServer(t)

	t.Run("no client certificate", func(t *testing.T) {
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
		resp, err := c.Get(srv.URL + "/v1/sessions/x")
		if err == nil {
			resp.Body.Close()
			t.Fatalf("request without a client certificate answered %d", resp.StatusCode)
		}
	})
	t.Run("certificate of an unregistered vendor", func(t *testing.T) {
		stranger := rcm.NewTestPKI(t) // another vendor CA, never registered here
		cred := stranger.Device(t, imei(30))
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots,
			Certificates: []tls.Certificate{{Certificate: cred.CertChain, PrivateKey: cred.Key}}}}}
		code, pe := call(t, c, "GET", srv.URL+"/v1/sessions/x", nil, nil)
		if code != http.StatusUnauthorized || pe.Code != "device_not_authenticated" || !strings.Contains(pe.Message, "vendor ca") {
			t.Fatalf("unregistered vendor: %d %+v", code, pe)
		}
	})
	t.Run("revoked IMEI", func(t *testing.T) {
		d := e.device(t, 31)
		if err := e.st.RevokeIMEI(provCtx, d.cd.IMEI); err != nil {
			t.Fatal(err)
		}
		code, pe := call(t, d.client(roots), "GET", srv.URL+"/v1/sessions/x", nil, nil)
		if code != http.StatusUnauthorized || !strings.Contains(pe.Message, "revoked") {
			t.Fatalf("revoked IMEI: %d %+v", code, pe)
		}
	})
	t.Run("no provider", func(t *testing.T) {
		e2 := newProvEnv(t)
		srv2, roots2 := e2.provServer(t)
		d := e2.device(t, 32)
		st := d.start(t)
		code, pe := call(t, d.client(roots2), "POST", srv2.URL+"/v1/sessions", rcm.StartSessionJSON{GuestIMSI: string(st.GuestIMSI),
			HPKEKey: st.HPKEKey, HPKESignature: st.HPKESignature}, nil)
		if code != http.StatusConflict || pe.Code != "no_provider_available" || pe.Session == nil || pe.Session.State != rcm.StateFailed {
			t.Fatalf("no provider: %d %+v", code, pe)
		}
	})
}
