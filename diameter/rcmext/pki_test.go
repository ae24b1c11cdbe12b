package rcmext_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rcmhss/rcmhss/rcm"
)

// A real PKI made in the test: vendor CAs that sign device (IMEI)
// certificates, and the HSS root the device pins with the HSS RCM certificate.

type ca struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

var serialN atomic.Int64

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func sign(t testing.TB, tmpl, parent *x509.Certificate, pub any, key *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newCA(t testing.TB, name string) *ca {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serialN.Add(1)), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-24 * time.Hour), NotAfter: time.Now().Add(5 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	return &ca{cert: sign(t, tmpl, tmpl, &key.PublicKey, key), key: key}
}

type certOpts struct {
	notBefore, notAfter time.Time
}

// leaf certifies key with the given URI SANs.
func (c *ca) leaf(t testing.TB, key *ecdsa.PrivateKey, o certOpts, uris ...string) *x509.Certificate {
	t.Helper()
	if o.notBefore.IsZero() {
		o.notBefore = time.Now().Add(-time.Hour)
	}
	if o.notAfter.IsZero() {
		o.notAfter = time.Now().Add(365 * 24 * time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serialN.Add(1)), Subject: pkix.Name{CommonName: "leaf"},
		NotBefore: o.notBefore, NotAfter: o.notAfter, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	for _, u := range uris {
		pu, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = append(tmpl.URIs, pu)
	}
	return sign(t, tmpl, c.cert, &key.PublicKey, c.key)
}

// device issues the credentials a vendor writes into a device: a certificate
// for certIMEI; presented says which IMEI the device claims (normally the same).
func (c *ca) device(t testing.TB, certIMEI, presented rcm.IMEI, o certOpts) (rcm.DeviceCredentials, *x509.Certificate) {
	t.Helper()
	key := newKey(t)
	cert := c.leaf(t, key, o, certIMEI.URN())
	return rcm.DeviceCredentials{IMEI: presented, CertChain: [][]byte{cert.Raw}, Key: key}, cert
}

// crl makes a CRL signed by c that lists serials.
func (c *ca) crl(t testing.TB, serials ...*big.Int) []byte {
	t.Helper()
	var entries []x509.RevocationListEntry
	for _, s := range serials {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: time.Now().Add(-time.Minute)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(serialN.Add(1)), ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().Add(time.Hour),
		RevokedCertificateEntries: entries,
	}, c.cert, c.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// hssIdentity is the HSS RCM key certified under root.
func hssIdentity(t testing.TB, root *ca) *rcm.HSSIdentity {
	t.Helper()
	key := newKey(t)
	cert := root.leaf(t, key, certOpts{})
	id, err := rcm.NewHSSIdentity(key, [][]byte{cert.Raw})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// imei makes a valid IMEI from 14 digits.
func imei(d14 string) rcm.IMEI {
	return rcm.IMEI(d14 + string(rcm.LuhnCheckDigit(d14)))
}
