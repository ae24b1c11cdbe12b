package rcm

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
)

// deviceClassURNPrefix marks a device-class URI subjectAltName in a device
// certificate ("urn:rcmhss:device-class:meter"). The class is asserted by the
// vendor CA that signed the certificate, so a profile trusting that CA may
// cover devices by class.
const deviceClassURNPrefix = "urn:rcmhss:device-class:"

// Fingerprint is the SHA-256 of a certificate's DER encoding. It names
// certificates in bindings, audit entries and per-issuer revocations.
type Fingerprint [32]byte

// FingerprintOf hashes a DER certificate.
func FingerprintOf(der []byte) Fingerprint { return sha256.Sum256(der) }

// String is the lowercase hex encoding.
func (f Fingerprint) String() string { return hex.EncodeToString(f[:]) }

// MarshalText encodes as lowercase hex.
func (f Fingerprint) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// UnmarshalText decodes 64 hex digits.
func (f *Fingerprint) UnmarshalText(b []byte) error {
	if hex.DecodedLen(len(b)) != len(f) {
		return errors.New("rcm: fingerprint must be 64 hex digits")
	}
	_, err := hex.Decode(f[:], b)
	return err
}

// IMEIRange covers every IMEI whose TAC||SNR lies between First's and Last's
// (inclusive); the check digit plays no part in the ordering.
type IMEIRange struct {
	First IMEI `json:"first"`
	Last  IMEI `json:"last"`
}

// Coverage is the set of devices a profile authorises (patent message 650): a
// device is covered when any one criterion matches. An empty Coverage covers
// nothing.
type Coverage struct {
	IMEIs      []IMEI      `json:"imeis,omitempty"`
	IMEIRanges []IMEIRange `json:"imei_ranges,omitempty"`
	// TACs are 8-digit Type Allocation Codes (TS 23.003 6.2.1).
	TACs []string `json:"tacs,omitempty"`
	// DeviceClasses match the urn:rcmhss:device-class: URIs of the certificate.
	DeviceClasses []string `json:"device_classes,omitempty"`
}

// Covers reports whether the device with this IMEI and certified classes is
// covered.
func (c Coverage) Covers(imei IMEI, classes []string) bool {
	key := imei.TACSNR()
	for _, i := range c.IMEIs {
		if i.TACSNR() == key {
			return true
		}
	}
	for _, r := range c.IMEIRanges {
		if key >= r.First.TACSNR() && key <= r.Last.TACSNR() {
			return true
		}
	}
	if slices.Contains(c.TACs, imei.TAC()) {
		return true
	}
	for _, cl := range classes {
		if slices.Contains(c.DeviceClasses, cl) {
			return true
		}
	}
	return false
}

// DeviceProfile is one authorised device profile registered by a credential
// provider (RCM.md step 0, patent message 650): the vendor CAs it trusts and
// the devices it covers.
type DeviceProfile struct {
	ID         string `json:"id"`
	ProviderID string `json:"provider_id"`
	// VendorCAs are DER certificates of the vendor CAs (roots of the device
	// chains); every one must be a CA certificate.
	VendorCAs [][]byte `json:"vendor_cas"`
	Coverage  Coverage `json:"coverage"`
}

// CACertificates parses VendorCAs.
func (p *DeviceProfile) CACertificates() ([]*x509.Certificate, error) {
	out := make([]*x509.Certificate, 0, len(p.VendorCAs))
	for i, der := range p.VendorCAs {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("rcm: profile %q: vendor_cas[%d]: %w", p.ID, i, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// Validate reports every problem of the profile at once; each wraps
// ErrInvalidProfile.
func (p *DeviceProfile) Validate() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("rcm: %w: "+format, append([]any{ErrInvalidProfile}, a...)...))
	}
	if !validID(p.ID) {
		bad("id: must be 1 to 64 of [A-Za-z0-9._-]")
	}
	if !validID(p.ProviderID) {
		bad("provider_id: must be 1 to 64 of [A-Za-z0-9._-]")
	}
	if len(p.VendorCAs) == 0 {
		bad("vendor_cas: at least one vendor CA certificate is required")
	}
	for i, der := range p.VendorCAs {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			bad("vendor_cas[%d]: not a DER certificate: %v", i, err)
			continue
		}
		if !c.BasicConstraintsValid || !c.IsCA {
			bad("vendor_cas[%d]: not a CA certificate (basicConstraints cA=false)", i)
		}
	}
	cov := p.Coverage
	if len(cov.IMEIs)+len(cov.IMEIRanges)+len(cov.TACs)+len(cov.DeviceClasses) == 0 {
		bad("coverage: at least one imei, imei range, tac or device class is required")
	}
	for i, imei := range cov.IMEIs {
		if _, err := ParseIMEI(string(imei)); err != nil {
			bad("coverage.imeis[%d]: not a 15-digit IMEI with a valid check digit", i)
		}
	}
	for i, r := range cov.IMEIRanges {
		_, e1 := ParseIMEI(string(r.First))
		_, e2 := ParseIMEI(string(r.Last))
		if e1 != nil || e2 != nil {
			bad("coverage.imei_ranges[%d]: first and last must be valid IMEIs", i)
		} else if r.First.TACSNR() > r.Last.TACSNR() {
			bad("coverage.imei_ranges[%d]: first is after last", i)
		}
	}
	for i, tac := range cov.TACs {
		if len(tac) != 8 || !digits(tac) {
			bad("coverage.tacs[%d]: must be 8 digits", i)
		}
	}
	for i, cl := range cov.DeviceClasses {
		if !validID(cl) {
			bad("coverage.device_classes[%d]: must be 1 to 64 of [A-Za-z0-9._-]", i)
		}
	}
	return errors.Join(errs...)
}

// ErrInvalidProfile wraps every problem DeviceProfile.Validate reports.
var ErrInvalidProfile = errors.New("invalid device profile")

func validID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// SerialRevocation revokes one certificate serial of one issuer.
type SerialRevocation struct {
	// Issuer is the fingerprint of the issuing CA certificate.
	Issuer Fingerprint `json:"issuer"`
	// Serial is the certificate serial number in lowercase hex (big.Int Text(16)).
	Serial string `json:"serial"`
}

// Revocations is the operator's revocation state: an IMEI denylist, serials
// per issuer, and CRLs (DER) that a registered CA signed. It implements
// RevocationSource in memory.
type Revocations struct {
	IMEIs   []IMEI             `json:"imeis,omitempty"`
	Serials []SerialRevocation `json:"serials,omitempty"`
	CRLs    [][]byte           `json:"crls,omitempty"`
}

// RevocationSource answers revocation questions for the Verifier. It is
// consumer-defined so that a store can answer from indexed sets rather than
// hand over whole lists.
type RevocationSource interface {
	IMEIRevoked(ctx context.Context, imei IMEI) (bool, error)
	SerialRevoked(ctx context.Context, issuer Fingerprint, serial *big.Int) (bool, error)
	// IssuerCRLs returns the DER CRLs registered for the CA with this
	// fingerprint (it may return more: the Verifier uses only CRLs whose
	// signature verifies with that CA).
	IssuerCRLs(ctx context.Context, issuer Fingerprint) ([][]byte, error)
}

// IMEIRevoked implements RevocationSource; the check digit plays no part.
func (r *Revocations) IMEIRevoked(_ context.Context, imei IMEI) (bool, error) {
	for _, i := range r.IMEIs {
		if i.TACSNR() == imei.TACSNR() {
			return true, nil
		}
	}
	return false, nil
}

// SerialRevoked implements RevocationSource.
func (r *Revocations) SerialRevoked(_ context.Context, issuer Fingerprint, serial *big.Int) (bool, error) {
	s := serial.Text(16)
	for _, sr := range r.Serials {
		if sr.Issuer == issuer && strings.EqualFold(strings.TrimLeft(sr.Serial, "0"), strings.TrimLeft(s, "0")) {
			return true, nil
		}
	}
	return false, nil
}

// IssuerCRLs implements RevocationSource. Revocations holds no CA list, so it
// returns every CRL and the Verifier keeps those that the issuer signed.
func (r *Revocations) IssuerCRLs(context.Context, Fingerprint) ([][]byte, error) {
	return r.CRLs, nil
}

// ParseCRL parses a DER CRL and checks that one of cas signed it (crypto/x509
// checks no revocation by itself, and a CRL is only evidence when its
// signature verifies: RFC 5280 6.3.3 (f)). It returns the CRL and the
// fingerprint of its issuer, which is how stores index CRLs.
func ParseCRL(der []byte, cas []*x509.Certificate) (*x509.RevocationList, Fingerprint, error) {
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, Fingerprint{}, fmt.Errorf("rcm: parse crl: %w", err)
	}
	for _, ca := range cas {
		if crl.CheckSignatureFrom(ca) == nil {
			return crl, FingerprintOf(ca.Raw), nil
		}
	}
	return nil, Fingerprint{}, fmt.Errorf("rcm: parse crl: not signed by a registered ca: %w", ErrUnknownCA)
}
