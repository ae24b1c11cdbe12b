package rcm_test

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rcmhss/rcmhss/rcm"
	"github.com/rcmhss/rcmhss/rcm/memstore"
)

// TestDemoPKI: the files written are the ones loaded back, the device
// certificate passes the verifier under a profile trusting the vendor CA, and
// the server and HSS certificates chain to the pinned root.
func TestDemoPKI(t *testing.T) {
	now := time.Now()
	p, err := rcm.NewDemoPKI(now, 24*time.Hour, []string{"127.0.0.1", "rcm.example"})
	if err != nil {
		t.Fatal(err)
	}
	dev, err := p.IssueDevice(imei(70), "meter")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := p.Write(dir, []rcm.DeviceCredentials{dev}); err != nil {
		t.Fatal(err)
	}
	cf, kf := rcm.DemoDeviceFiles(dir, dev.IMEI)
	got, err := rcm.LoadDeviceCredentials(cf, kf)
	if err != nil || got.IMEI != dev.IMEI || !got.Key.Equal(dev.Key) {
		t.Fatalf("load device: %v", err)
	}
	if fi, err := os.Stat(kf); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("device key mode: %v %v", fi.Mode(), err)
	}
	roots, err := rcm.LoadCertPool(filepath.Join(dir, rcm.DemoInfraRootFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*x509.Certificate{p.ServerCert, p.HSSCert} {
		if _, err := c.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Fatalf("%s does not chain to the pinned root: %v", c.Subject.CommonName, err)
		}
	}
	if err := p.ServerCert.VerifyHostname("127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.HSSIdentity(); err != nil {
		t.Fatal(err)
	}
	st := memstore.New()
	prof := rcm.DeviceProfile{ID: "demo", ProviderID: "demo-provider", VendorCAs: [][]byte{p.VendorCA.Raw}, Coverage: rcm.Coverage{DeviceClasses: []string{"meter"}}}
	if err := st.CreateProfile(provCtx, prof); err != nil {
		t.Fatal(err)
	}
	v, err := rcm.NewVerifier(rcm.NewTestPKI(t).Config, st, st, st, st)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(got.CertChain[0])
	cd, err := v.VerifyDeviceCertificate(provCtx, []*x509.Certificate{leaf}, now)
	if err != nil || cd.IMEI != dev.IMEI || len(cd.Profiles) != 1 || cd.Classes[0] != "meter" {
		t.Fatalf("verify demo device: %+v, %v", cd, err)
	}
}
