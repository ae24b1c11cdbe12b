package rcm

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/rcmhss/rcmhss/hss"
)

// DeviceCredentials is the bootstrap information a vendor writes into an RCM
// device at manufacture (RCM.md "Actors"): the IMEI, the IMEI certificate chain
// and its private key.
type DeviceCredentials struct {
	IMEI      IMEI
	CertChain [][]byte // device certificate first
	Key       *ecdsa.PrivateKey
}

// DeviceSession is the device side of one provisioning attach, used by the
// device simulator and the tests: it builds and signs the bootstrap
// information, then checks the HSS proof and derives KASME_bound.
type DeviceSession struct {
	cred DeviceCredentials
	eph  *ecdh.PrivateKey
	hash [32]byte
	at   time.Time
	done bool
}

// NewDeviceSession starts a session with a fresh ephemeral key.
func NewDeviceSession(cred DeviceCredentials) (*DeviceSession, error) {
	eph, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("rcm: device session: %w", err)
	}
	return newDeviceSession(cred, eph)
}

func newDeviceSession(cred DeviceCredentials, eph *ecdh.PrivateKey) (*DeviceSession, error) {
	if cred.Key == nil || cred.Key.Curve != elliptic.P256() {
		return nil, errors.New("rcm: device session: certificate key must be ECDSA P-256")
	}
	if _, err := ParseIMEI(string(cred.IMEI)); err != nil {
		return nil, err
	}
	return &DeviceSession{cred: cred, eph: eph}, nil
}

// Bootstrap builds the signed bootstrap information for an attach with the
// guest IMSI through the visited PLMN at time now.
func (s *DeviceSession) Bootstrap(guest hss.IMSI, visited hss.PLMN, now time.Time) (Bootstrap, error) {
	b := Bootstrap{
		ConnectionType:  ConnectionProvisioning,
		IMEI:            s.cred.IMEI,
		CertChain:       s.cred.CertChain,
		DeviceEphemeral: s.eph.PublicKey().Bytes(),
		Timestamp:       uint64(now.Unix()),
	}
	s.hash = TranscriptHash(guest, visited, &b)
	sig, err := ecdsa.SignASN1(rand.Reader, s.cred.Key, s.hash[:])
	if err != nil {
		return Bootstrap{}, fmt.Errorf("rcm: device session: sign: %w", err)
	}
	b.Signature = sig
	s.at, s.done = now, true
	return b, nil
}

// Finish authenticates the HSS (its certificate chains to one of pinnedRoots
// at the bootstrap time, and its signature covers this session's transcript
// and hssEph) and returns KASME_bound for the vector with this RAND and guest
// KASME (computed on the device from the guest K/OPc by Milenage and TS 33.401
// A.2). Errors wrap ErrHSSUnauthenticated or ErrMalformedBootstrap.
func (s *DeviceSession) Finish(hssEph, hssSig []byte, hssChain [][]byte, pinnedRoots *x509.CertPool, kasmeGuest [32]byte, rand [16]byte) ([32]byte, error) {
	if !s.done {
		return [32]byte{}, errors.New("rcm: device session: finish before bootstrap")
	}
	pub, err := DecodeEphemeralKey(hssEph)
	if err != nil {
		return [32]byte{}, err
	}
	if len(hssChain) == 0 || len(hssChain) > MaxChainCerts {
		return [32]byte{}, fmt.Errorf("rcm: device session: hss chain must hold 1 to %d certificates: %w", MaxChainCerts, ErrHSSUnauthenticated)
	}
	certs := make([]*x509.Certificate, len(hssChain))
	for i, der := range hssChain {
		if certs[i], err = x509.ParseCertificate(der); err != nil {
			return [32]byte{}, fmt.Errorf("rcm: device session: hss certificate %d: %w", i, ErrHSSUnauthenticated)
		}
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: pinnedRoots, Intermediates: inter, CurrentTime: s.at,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return [32]byte{}, fmt.Errorf("rcm: device session: hss certificate: %v: %w", err, ErrHSSUnauthenticated)
	}
	key, ok := certs[0].PublicKey.(*ecdsa.PublicKey)
	if !ok || key.Curve != elliptic.P256() {
		return [32]byte{}, fmt.Errorf("rcm: device session: hss key is not ECDSA P-256: %w", ErrHSSUnauthenticated)
	}
	digest := sha256.Sum256(HSSProofInput(s.hash, hssEph))
	if !ecdsa.VerifyASN1(key, digest[:], hssSig) {
		return [32]byte{}, fmt.Errorf("rcm: device session: hss signature: %w", ErrHSSUnauthenticated)
	}
	z, err := s.eph.ECDH(pub)
	if err != nil {
		return [32]byte{}, fmt.Errorf("rcm: device session: ecdh: %w", ErrMalformedBootstrap)
	}
	return BindKASME(kasmeGuest, z, s.hash, rand), nil
}

func (*DeviceSession) String() string       { return "rcm.DeviceSession[redacted]" }
func (*DeviceSession) GoString() string     { return "rcm.DeviceSession[redacted]" }
func (*DeviceSession) LogValue() slog.Value { return slog.StringValue("[redacted]") }
