package rcm

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"fmt"
	"time"
)

// CertifiedDevice is a device authenticated by its IMEI certificate alone, as
// the provisioning server's mutual TLS does it (RCM.md step 4: "a mutually
// authenticated secure channel").
type CertifiedDevice struct {
	IMEI            IMEI
	Classes         []string
	CertFingerprint Fingerprint
	Key             *ecdsa.PublicKey
	// Profiles are the registered profiles whose vendor CA issued the
	// certificate and whose coverage includes the device.
	Profiles []DeviceProfile
}

// VerifyDeviceCertificate authenticates a device certificate chain (leaf
// first) with the same rules as a provisioning attach: path to a registered
// vendor CA (RFC 5280 6.1), validity, exactly one RFC 7254 IMEI URN, IMEI
// denylist, serial denylists and CRLs of every issuer on the path, coverage.
// Errors wrap the sentinels of errors.go.
func (v *Verifier) VerifyDeviceCertificate(ctx context.Context, certs []*x509.Certificate, now time.Time) (*CertifiedDevice, error) {
	if len(certs) == 0 || len(certs) > MaxChainCerts {
		return nil, reject(ErrMalformedBootstrap, "chain must hold 1 to %d certificates", MaxChainCerts)
	}
	for i, c := range certs {
		if err := checkValidity(c, now); err != nil {
			return nil, reject(err, "certificate %d (serial %s)", i, c.SerialNumber.Text(16))
		}
	}
	leaf := certs[0]
	if leaf.IsCA {
		return nil, reject(ErrUnknownCA, "device certificate is a CA certificate")
	}
	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, reject(ErrBadSignature, "certificate key is not ECDSA P-256")
	}
	imeis, classes := deviceIdentities(leaf)
	if len(imeis) != 1 {
		return nil, reject(ErrMalformedBootstrap, "device certificate must carry exactly one imei urn, has %d", len(imeis))
	}
	imei := imeis[0]
	chains, err := v.chains(ctx, certs, now)
	if err != nil {
		return nil, err
	}
	if revoked, err := v.revocations.IMEIRevoked(ctx, imei); err != nil {
		return nil, fmt.Errorf("rcm: verify: imei denylist: %w", err)
	} else if revoked {
		return nil, reject(ErrIMEIRevoked, "")
	}
	d := &CertifiedDevice{IMEI: imei, Classes: classes, CertFingerprint: FingerprintOf(leaf.Raw), Key: pub}
	for _, ch := range chains {
		if err := v.checkRevocation(ctx, ch.certs); err != nil {
			return nil, err
		}
		if ch.profile.Coverage.Covers(imei, classes) {
			d.Profiles = append(d.Profiles, *ch.profile)
		}
	}
	if len(d.Profiles) == 0 {
		return nil, reject(ErrIMEINotCovered, "")
	}
	return d, nil
}
