package rcm

import (
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/rcmhss/rcmhss/hss"
)

// ReplayCache remembers accepted transcripts. Seen records key for ttl and
// reports whether it was already recorded, as one atomic check-and-set (Redis
// SET NX PX) so that two HSS nodes cannot both accept the same AIR.
type ReplayCache interface {
	Seen(ctx context.Context, key string, ttl time.Duration) (bool, error)
}

// RateLimiter counts attempts per key in a window and reports whether this one
// is within limit. It counts the attempt either way.
type RateLimiter interface {
	Allow(ctx context.Context, key string, limit int, window time.Duration) (bool, error)
}

// ProfileSource lists the registered device profiles.
type ProfileSource interface {
	ListProfiles(ctx context.Context) ([]DeviceProfile, error)
}

// Device is an authenticated RCM device: what Verify proved.
type Device struct {
	IMEI IMEI
	// Classes are the device classes the vendor certified.
	Classes    []string
	ProfileID  string
	ProviderID string
	// CertFingerprint and Serial identify the device certificate.
	CertFingerprint Fingerprint
	Serial          string
	Certificate     *x509.Certificate
	// TranscriptHash is the hash the device signed; it salts the bound KASME.
	TranscriptHash [32]byte
	// Ephemeral is the device's ECDH key for this attach.
	Ephemeral *ecdh.PublicKey
}

// Verifier authenticates provisioning attaches (RCM.md step 2, patent
// messages 654/656). It is safe for concurrent use.
type Verifier struct {
	cfg         Config
	profiles    ProfileSource
	revocations RevocationSource
	replay      ReplayCache
	limiter     RateLimiter

	mu      sync.Mutex
	caCache map[Fingerprint]*x509.Certificate
}

// caCacheMax bounds the parsed-CA cache; it is cleared when full.
const caCacheMax = 1024

// NewVerifier builds a Verifier; cfg must be valid.
func NewVerifier(cfg Config, profiles ProfileSource, revocations RevocationSource, replay ReplayCache, limiter RateLimiter) (*Verifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if profiles == nil || revocations == nil || replay == nil || limiter == nil {
		return nil, errors.New("rcm: new verifier: profiles, revocations, replay cache and rate limiter are required")
	}
	return &Verifier{cfg: cfg, profiles: profiles, revocations: revocations, replay: replay, limiter: limiter,
		caCache: make(map[Fingerprint]*x509.Certificate)}, nil
}

func reject(err error, format string, a ...any) error {
	if format == "" {
		return fmt.Errorf("rcm: verify: %w", err)
	}
	return fmt.Errorf("rcm: verify: %w: "+format, append([]any{err}, a...)...)
}

// Verify authenticates the device behind a guest AIR. The checks run cheapest
// first so that an unauthenticated peer cannot make the HSS do expensive work
// beyond its rate limit; the replay cache is written only after the signature
// verifies, so forged requests cannot poison it. Every rejection wraps exactly
// one of the sentinels of errors.go; any other error is an internal failure
// (store unavailable).
func (v *Verifier) Verify(ctx context.Context, guestIMSI hss.IMSI, visitedPLMN hss.PLMN, b Bootstrap, now time.Time) (*Device, error) {
	if b.IsZero() {
		return nil, reject(ErrNoBootstrap, "")
	}
	if b.ConnectionType != ConnectionProvisioning {
		return nil, reject(ErrNotProvisioning, "connection type %v", b.ConnectionType)
	}
	if err := b.Check(); err != nil {
		return nil, fmt.Errorf("rcm: verify: %w", err)
	}
	if !withinWindow(b.Timestamp, now, v.cfg.TimestampWindow) {
		return nil, reject(ErrStaleTimestamp, "timestamp %d, now %d, window %s", b.Timestamp, now.Unix(), v.cfg.TimestampWindow)
	}
	if err := v.allow(ctx, b.IMEI, guestIMSI); err != nil {
		return nil, err
	}

	certs := make([]*x509.Certificate, len(b.CertChain))
	for i, der := range b.CertChain {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, reject(ErrMalformedBootstrap, "certificate %d: %v", i, err)
		}
		certs[i] = c
	}
	for i, c := range certs {
		if err := checkValidity(c, now); err != nil {
			return nil, reject(err, "certificate %d (serial %s)", i, c.SerialNumber.Text(16))
		}
	}
	leaf := certs[0]
	// RFC 5280 4.2.1.9 / 4.2.1.3: the device certificate is an end-entity
	// certificate, and when keyUsage is present it must allow signatures.
	if leaf.IsCA {
		return nil, reject(ErrUnknownCA, "device certificate is a CA certificate")
	}
	if leaf.KeyUsage != 0 && leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return nil, reject(ErrBadSignature, "device certificate key usage excludes digitalSignature")
	}

	chains, err := v.chains(ctx, certs, now)
	if err != nil {
		return nil, err
	}

	imeis, classes := deviceIdentities(leaf)
	certified := false
	for _, i := range imeis {
		if i == b.IMEI {
			certified = true
		}
	}
	if !certified {
		return nil, reject(ErrIMEIMismatch, "presented imei is not the one certified")
	}

	if revoked, err := v.revocations.IMEIRevoked(ctx, b.IMEI); err != nil {
		return nil, fmt.Errorf("rcm: verify: imei denylist: %w", err)
	} else if revoked {
		return nil, reject(ErrIMEIRevoked, "")
	}
	for _, ch := range chains {
		if err := v.checkRevocation(ctx, ch.certs); err != nil {
			return nil, err
		}
	}

	var profile *DeviceProfile
	for i := range chains {
		if chains[i].profile.Coverage.Covers(b.IMEI, classes) {
			profile = chains[i].profile
			break
		}
	}
	if profile == nil {
		return nil, reject(ErrIMEINotCovered, "")
	}

	hash := TranscriptHash(guestIMSI, visitedPLMN, &b)
	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, reject(ErrBadSignature, "certificate key is not ECDSA P-256")
	}
	if !ecdsa.VerifyASN1(pub, hash[:], b.Signature) {
		return nil, reject(ErrBadSignature, "")
	}

	// |now - ts| <= window, so the transcript cannot be accepted again after
	// ts + window <= now + 2*window.
	seen, err := v.replay.Seen(ctx, "rcm-replay:"+hex.EncodeToString(hash[:]), 2*v.cfg.TimestampWindow)
	if err != nil {
		return nil, fmt.Errorf("rcm: verify: replay cache: %w", err)
	}
	if seen {
		return nil, reject(ErrReplay, "")
	}

	eph, _ := DecodeEphemeralKey(b.DeviceEphemeral) // checked by b.Check
	return &Device{
		IMEI:            b.IMEI,
		Classes:         classes,
		ProfileID:       profile.ID,
		ProviderID:      profile.ProviderID,
		CertFingerprint: FingerprintOf(leaf.Raw),
		Serial:          leaf.SerialNumber.Text(16),
		Certificate:     leaf,
		TranscriptHash:  hash,
		Ephemeral:       eph,
	}, nil
}

func withinWindow(ts uint64, now time.Time, window time.Duration) bool {
	if ts > math.MaxInt64 {
		return false
	}
	d := now.Sub(time.Unix(int64(ts), 0))
	return d <= window && d >= -window
}

func checkValidity(c *x509.Certificate, now time.Time) error {
	if now.Before(c.NotBefore) {
		return ErrCertNotYetValid
	}
	if now.After(c.NotAfter) {
		return ErrCertExpired
	}
	return nil
}

func (v *Verifier) allow(ctx context.Context, imei IMEI, imsi hss.IMSI) error {
	l := v.cfg.RateLimits
	for _, c := range []struct {
		key string
		l   RateLimit
	}{
		{"rcm-rate:imei:" + imei.TACSNR(), l.PerIMEI},
		{"rcm-rate:tac:" + imei.TAC(), l.PerTAC},
		{"rcm-rate:imsi:" + string(imsi), l.PerIMSI},
	} {
		if c.l.Limit <= 0 {
			continue
		}
		ok, err := v.limiter.Allow(ctx, c.key, c.l.Limit, c.l.Window)
		if err != nil {
			return fmt.Errorf("rcm: verify: rate limiter: %w", err)
		}
		if !ok {
			return reject(ErrRateLimited, "%s", strings.SplitN(c.key, ":", 3)[1])
		}
	}
	return nil
}

type profileChain struct {
	profile *DeviceProfile
	certs   []*x509.Certificate // leaf first, vendor CA last
}

// chains verifies the presented chain against the CAs of every profile and
// returns the profiles (with the verified path) whose CA issued it.
func (v *Verifier) chains(ctx context.Context, certs []*x509.Certificate, now time.Time) ([]profileChain, error) {
	profiles, err := v.profiles.ListProfiles(ctx)
	if err != nil {
		return nil, fmt.Errorf("rcm: verify: list profiles: %w", err)
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	var out []profileChain
	expired := false
	for i := range profiles {
		p := &profiles[i]
		roots := x509.NewCertPool()
		for _, der := range p.VendorCAs {
			if ca := v.parseCA(der); ca != nil {
				roots.AddCert(ca)
			}
		}
		got, err := certs[0].Verify(x509.VerifyOptions{
			Roots:         roots,
			Intermediates: inter,
			CurrentTime:   now,
			// Device certificates carry no standard EKU for this purpose.
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		})
		if err != nil {
			var ie x509.CertificateInvalidError
			if errors.As(err, &ie) && ie.Reason == x509.Expired {
				expired = true // a vendor CA outside its validity
			}
			continue
		}
		out = append(out, profileChain{profile: p, certs: got[0]})
	}
	if len(out) == 0 {
		if expired {
			return nil, reject(ErrCertExpired, "a certificate of the path to a vendor ca is outside its validity")
		}
		return nil, reject(ErrUnknownCA, "")
	}
	return out, nil
}

func (v *Verifier) parseCA(der []byte) *x509.Certificate {
	fp := FingerprintOf(der)
	v.mu.Lock()
	defer v.mu.Unlock()
	if c, ok := v.caCache[fp]; ok {
		return c
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil // DeviceProfile.Validate rejects these at registration
	}
	if len(v.caCache) >= caCacheMax {
		clear(v.caCache)
	}
	v.caCache[fp] = c
	return c
}

// checkRevocation applies the serial denylist and the CRLs to every
// certificate of a verified path except the trust anchor, each against its
// own issuer (RFC 5280 6.3: a CRL counts only when its issuer's signature on
// it verifies).
func (v *Verifier) checkRevocation(ctx context.Context, path []*x509.Certificate) error {
	for i := 0; i+1 < len(path); i++ {
		c, issuer := path[i], path[i+1]
		ifp := FingerprintOf(issuer.Raw)
		revoked, err := v.revocations.SerialRevoked(ctx, ifp, c.SerialNumber)
		if err != nil {
			return fmt.Errorf("rcm: verify: serial denylist: %w", err)
		}
		if revoked {
			return reject(ErrSerialRevoked, "serial %s", c.SerialNumber.Text(16))
		}
		crls, err := v.revocations.IssuerCRLs(ctx, ifp)
		if err != nil {
			return fmt.Errorf("rcm: verify: crls: %w", err)
		}
		for _, der := range crls {
			crl, err := x509.ParseRevocationList(der)
			if err != nil {
				continue // not this issuer's business; registration validates CRLs
			}
			if crl.CheckSignatureFrom(issuer) != nil {
				continue // signed by another CA: no evidence about c
			}
			for _, e := range crl.RevokedCertificateEntries {
				if e.SerialNumber != nil && e.SerialNumber.Cmp(c.SerialNumber) == 0 {
					return reject(ErrCRLRevoked, "serial %s", c.SerialNumber.Text(16))
				}
			}
		}
	}
	return nil
}

// deviceIdentities reads the RFC 7254 IMEI URNs and the device-class URNs
// from the certificate's URI subjectAltNames.
func deviceIdentities(c *x509.Certificate) (imeis []IMEI, classes []string) {
	for _, u := range c.URIs {
		s := u.String()
		if i, err := ParseIMEIURN(s); err == nil {
			imeis = append(imeis, i)
			continue
		}
		if len(s) > len(deviceClassURNPrefix) && strings.EqualFold(s[:len(deviceClassURNPrefix)], deviceClassURNPrefix) {
			classes = append(classes, s[len(deviceClassURNPrefix):])
		}
	}
	return imeis, classes
}
