package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/diameter/diametertest"
	"github.com/rcmhss/rcmhss/diameter/rcmext"
	"github.com/rcmhss/rcmhss/diameter/s6a"
	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/rcm"
)

type pkiFiles struct {
	dir                  string
	caKey                *ecdsa.PrivateKey
	ca                   *x509.Certificate
	hssKey, hssCert, cas string
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func mkCert(t *testing.T, tmpl, parent *x509.Certificate, pub any, key *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

// rcmPKI writes the HSS RCM key and certificate and a vendor CA as PEM files.
func rcmPKI(t *testing.T) *pkiFiles {
	t.Helper()
	p := &pkiFiles{dir: t.TempDir()}
	ca := func(cn string) (*ecdsa.PrivateKey, *x509.Certificate) {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
			BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
		return k, mkCert(t, tmpl, tmpl, &k.PublicKey, k)
	}
	rootKey, root := ca("hss root")
	p.caKey, p.ca = ca("vendor")
	hk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	hc := mkCert(t, &x509.Certificate{SerialNumber: big.NewInt(2), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature}, root, &hk.PublicKey, rootKey)
	kder, _ := x509.MarshalPKCS8PrivateKey(hk)
	p.hssKey, p.hssCert, p.cas = filepath.Join(p.dir, "hss.key"), filepath.Join(p.dir, "hss.crt"), filepath.Join(p.dir, "vendor.crt")
	writePEM(t, p.hssKey, "PRIVATE KEY", kder)
	writePEM(t, p.hssCert, "CERTIFICATE", hc.Raw)
	writePEM(t, p.cas, "CERTIFICATE", p.ca.Raw)
	return p
}

func rcmLabConfig(t *testing.T, p *pkiFiles) Config {
	t.Helper()
	c, err := LoadConfig(repoConfig, true)
	if err != nil {
		t.Fatal(err)
	}
	c.Diameter.Listen = []string{"tcp://127.0.0.1:0"}
	c.Telemetry.OTLPEndpoint = ""
	c.RCM.Enabled = true
	c.RCM.GuestRanges = []string{"00101999"}
	c.RCM.GuestK, c.RCM.GuestOPc = "465b5ce8b199b49faa5f0a2ee238a6bc", "cd63cb71954a9f4e48a5994e37a02baf"
	c.RCM.SigningKeyFile, c.RCM.SigningCertFile = p.hssKey, p.hssCert
	c.RCM.VendorCAFiles, c.RCM.VendorTACs = []string{p.cas}, []string{"35000001"}
	return c
}

func TestRCMConfigProblems(t *testing.T) {
	c, err := LoadConfig(repoConfig, true)
	if err != nil {
		t.Fatal(err)
	}
	c.RCM.Enabled = true
	c.RCM.GuestRanges = []string{"001"}
	c.RCM.GuestK = "xyz"
	c.RCM.VendorCAFiles = []string{"/nonexistent"}
	_, err = newServer(context.Background(), c, slog.New(slog.DiscardHandler))
	if err == nil {
		t.Fatal("newServer accepted an invalid rcm section")
	}
	for _, want := range []string{"rcm.guest_k", "guest.ranges[0].prefix", "rcm.signing_key_file", "rcm.vendor_tacs"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not report %q:\n%v", want, err)
		}
	}
}

// TestRCMWired: with rcm enabled the server answers a provisioning AIR with
// bound vectors over Diameter, serves /v1/rcm/ behind the admin token, and
// keeps guest IMSIs out of the subscriber API.
func TestRCMWired(t *testing.T) {
	p := rcmPKI(t)
	c := rcmLabConfig(t, p)
	s, err := newServer(context.Background(), c, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.diam.Start(); err != nil {
		t.Fatal(err)
	}
	s.rcm.start(s.log)
	t.Cleanup(func() { _ = s.shutdown() })

	// Device side: certificate for an IMEI of TAC 35000001 under the vendor CA.
	imei := rcm.IMEI("35000001123456" + string(rcm.LuhnCheckDigit("35000001123456")))
	dk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	u, _ := url.Parse(imei.URN())
	dc := mkCert(t, &x509.Certificate{SerialNumber: big.NewInt(3), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, URIs: []*url.URL{u}}, p.ca, &dk.PublicKey, p.caKey)
	sess, err := rcm.NewDeviceSession(rcm.DeviceCredentials{IMEI: imei, CertChain: [][]byte{dc.Raw}, Key: dk})
	if err != nil {
		t.Fatal(err)
	}
	plmn := hss.PLMN{0x00, 0xf1, 0x10}
	boot, err := sess.Bootstrap("001019990000001", plmn, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ba, err := rcmext.EncodeBootstrap(&boot, rcmext.DefaultVendorID)
	if err != nil {
		t.Fatal(err)
	}
	peer := diametertest.NewPeer(t, s.diam.Addrs()[0].String(), "tcp", diametertest.PeerOptions{
		OriginHost: "mme.test", OriginRealm: "test", Apps: []diametertest.AppSpec{{ID: s6a.AppID, Vendor: s6a.VendorID}}})
	req := peer.NewRequest(318, s6a.AppID, c.Diameter.OriginRealm)
	req.NewAVP(avp.VendorSpecificApplicationID, avp.Mbit, 0, &diam.GroupedAVP{AVP: []*diam.AVP{
		diam.NewAVP(avp.VendorID, avp.Mbit, 0, datatype.Unsigned32(s6a.VendorID)),
		diam.NewAVP(avp.AuthApplicationID, avp.Mbit, 0, datatype.Unsigned32(s6a.AppID)),
	}})
	req.NewAVP(avp.AuthSessionState, avp.Mbit, 0, datatype.Enumerated(1))
	req.NewAVP(avp.UserName, avp.Mbit, 0, datatype.UTF8String("001019990000001"))
	req.NewAVP(1407, avp.Mbit|avp.Vbit, s6a.VendorID, datatype.OctetString(plmn[:]))
	req.NewAVP(1408, avp.Mbit|avp.Vbit, s6a.VendorID, &diam.GroupedAVP{AVP: []*diam.AVP{
		diam.NewAVP(1410, avp.Mbit|avp.Vbit, s6a.VendorID, datatype.Unsigned32(1))}})
	req.AddAVP(ba)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ans, err := peer.Do(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := diameter.ResultOf(ans); r != diameter.Success {
		t.Fatalf("AIA %v", r)
	}
	if _, err := rcmext.DecodeBindingInfo(ans, rcmext.DefaultVendorID); err != nil {
		t.Fatalf("no binding proof: %v", err)
	}

	srv := httptest.NewServer(s.http.Handler)
	t.Cleanup(srv.Close)
	call := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+c.Admin.Token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := call("GET", "/v1/rcm/bindings", ""); code != 200 || !strings.Contains(body, "mme.test") {
		t.Errorf("bindings: %d %s", code, body)
	}
	if code, body := call("GET", "/v1/rcm/profiles/config", ""); code != 200 || !strings.Contains(body, "35000001") {
		t.Errorf("seeded profile: %d %s", code, body)
	}
	if code, _ := call("GET", "/v1/subscribers/001019990000001", ""); code != http.StatusNotFound {
		t.Errorf("guest record visible through the subscriber API: %d", code)
	}
	if code, body := call("GET", "/v1/rcm/audit", ""); code != 200 || !strings.Contains(body, `"verified":true`) {
		t.Errorf("audit: %d %s", code, body)
	}
}
