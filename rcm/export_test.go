package rcm

import (
	"crypto/x509"
	"testing"
	"time"
)

// Test PKI for the external tests of this directory (service_test.go), built
// on the helpers of pki_test.go.

// TestPKI is a registered vendor CA and an HSS RCM identity under a pinned root.
type TestPKI struct {
	Profile  DeviceProfile
	Identity *HSSIdentity
	Pinned   *x509.CertPool
	Config   Config
	Now      time.Time
	f        *rcmFixture
}

func NewTestPKI(t testing.TB) *TestPKI {
	f := newFixture(t)
	return &TestPKI{Profile: f.profile, Identity: f.hss, Pinned: f.pinned(), Config: f.cfg, Now: testNow, f: f}
}

// Device issues a device certificate for imei under the vendor CA.
func (p *TestPKI) Device(t testing.TB, imei IMEI) DeviceCredentials {
	return p.f.vendor.device(t, imei, leafOpts{})
}
