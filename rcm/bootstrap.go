package rcm

import (
	"crypto/ecdh"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/rcmhss/rcmhss/hss"
)

// ConnectionType is the RCM-Connection-Type AVP value (docs/rcm-crypto.md):
// the patent's connection-type field of the attach (RCM.md step 1).
type ConnectionType uint32

const (
	ConnectionNormal       ConnectionType = 0
	ConnectionProvisioning ConnectionType = 1
)

func (c ConnectionType) String() string {
	switch c {
	case ConnectionNormal:
		return "NORMAL"
	case ConnectionProvisioning:
		return "PROVISIONING"
	}
	return fmt.Sprintf("ConnectionType(%d)", uint32(c))
}

// Limits of the bootstrap payloads. They bound the work an unauthenticated
// peer can make the HSS do before any signature is checked.
const (
	MaxChainCerts   = 4
	MaxCertSize     = 8192
	EphemeralKeyLen = 65 // SEC 1 2.3.3 uncompressed P-256 point: 0x04 || X || Y
	MaxSignatureLen = 72 // DER ECDSA-Sig-Value for P-256 (RFC 5480 / SEC 1 C.5)
)

// Bootstrap is the bootstrap information of a provisioning attach as carried in
// the RCM-Bootstrap-Info AVP of the AIR (docs/rcm-crypto.md has the layout).
type Bootstrap struct {
	ConnectionType ConnectionType
	IMEI           IMEI
	// CertChain is DER certificates, the device (IMEI) certificate first, then
	// any intermediates; the vendor root need not be sent.
	CertChain [][]byte
	// DeviceEphemeral is the device's ephemeral ECDH P-256 public key.
	DeviceEphemeral []byte
	// Timestamp is unix seconds at the device.
	Timestamp uint64
	// Signature is ECDSA P-256 over TranscriptHash with the certificate key,
	// ASN.1 DER (RFC 5480 ECDSA-Sig-Value).
	Signature []byte
}

// IsZero reports whether no bootstrap information was received at all.
func (b *Bootstrap) IsZero() bool {
	return b == nil || (b.ConnectionType == 0 && b.IMEI == "" && len(b.CertChain) == 0 &&
		len(b.DeviceEphemeral) == 0 && b.Timestamp == 0 && len(b.Signature) == 0)
}

// Check validates the syntax of every field (no cryptography beyond checking
// that the ephemeral key is a point on P-256). Errors wrap ErrMalformedBootstrap.
func (b *Bootstrap) Check() error {
	if _, err := ParseIMEI(string(b.IMEI)); err != nil {
		return err
	}
	if len(b.CertChain) == 0 || len(b.CertChain) > MaxChainCerts {
		return fmt.Errorf("rcm: bootstrap: chain must hold 1 to %d certificates, has %d: %w", MaxChainCerts, len(b.CertChain), ErrMalformedBootstrap)
	}
	for i, c := range b.CertChain {
		if len(c) == 0 || len(c) > MaxCertSize {
			return fmt.Errorf("rcm: bootstrap: certificate %d must be 1 to %d bytes: %w", i, MaxCertSize, ErrMalformedBootstrap)
		}
	}
	if _, err := DecodeEphemeralKey(b.DeviceEphemeral); err != nil {
		return err
	}
	if len(b.Signature) == 0 || len(b.Signature) > MaxSignatureLen {
		return fmt.Errorf("rcm: bootstrap: signature must be 1 to %d bytes: %w", MaxSignatureLen, ErrMalformedBootstrap)
	}
	return nil
}

// DecodeEphemeralKey parses an RCM-*-Ephemeral-Key payload: exactly 65 octets,
// an uncompressed P-256 point (SEC 1 2.3.3) that lies on the curve and is not
// the point at infinity (crypto/ecdh checks both).
func DecodeEphemeralKey(b []byte) (*ecdh.PublicKey, error) {
	if len(b) != EphemeralKeyLen || b[0] != 4 {
		return nil, fmt.Errorf("rcm: ephemeral key: must be a 65-octet uncompressed P-256 point: %w", ErrMalformedBootstrap)
	}
	k, err := ecdh.P256().NewPublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("rcm: ephemeral key: not a point on P-256: %w", ErrMalformedBootstrap)
	}
	return k, nil
}

// EncodeCertChain builds an RCM-*-Certificate-Chain payload: for each
// certificate, leaf first, a 4-octet big-endian length then the DER.
func EncodeCertChain(chain [][]byte) ([]byte, error) {
	if len(chain) == 0 || len(chain) > MaxChainCerts {
		return nil, fmt.Errorf("rcm: encode chain: must hold 1 to %d certificates: %w", MaxChainCerts, ErrMalformedBootstrap)
	}
	n := 0
	for _, c := range chain {
		if len(c) == 0 || len(c) > MaxCertSize {
			return nil, fmt.Errorf("rcm: encode chain: certificate must be 1 to %d bytes: %w", MaxCertSize, ErrMalformedBootstrap)
		}
		n += 4 + len(c)
	}
	out := make([]byte, 0, n)
	for _, c := range chain {
		out = binary.BigEndian.AppendUint32(out, uint32(len(c)))
		out = append(out, c...)
	}
	return out, nil
}

// DecodeCertChain is the inverse of EncodeCertChain. It rejects truncation,
// trailing bytes, empty or oversized entries and more than MaxChainCerts. The
// returned slices alias b.
func DecodeCertChain(b []byte) ([][]byte, error) {
	var chain [][]byte
	for len(b) > 0 {
		if len(chain) == MaxChainCerts {
			return nil, fmt.Errorf("rcm: decode chain: more than %d certificates: %w", MaxChainCerts, ErrMalformedBootstrap)
		}
		if len(b) < 4 {
			return nil, fmt.Errorf("rcm: decode chain: truncated length: %w", ErrMalformedBootstrap)
		}
		n := binary.BigEndian.Uint32(b)
		if n == 0 || n > MaxCertSize {
			return nil, fmt.Errorf("rcm: decode chain: certificate length %d not in 1..%d: %w", n, MaxCertSize, ErrMalformedBootstrap)
		}
		if uint32(len(b)-4) < n {
			return nil, fmt.Errorf("rcm: decode chain: truncated certificate: %w", ErrMalformedBootstrap)
		}
		chain = append(chain, b[4:4+n:4+n])
		b = b[4+n:]
	}
	if len(chain) == 0 {
		return nil, fmt.Errorf("rcm: decode chain: empty: %w", ErrMalformedBootstrap)
	}
	return chain, nil
}

// EncodeTimestamp is the 8-octet big-endian form of RCM-Timestamp (the
// Unsigned64 AVP payload, RFC 6733 4.2).
func EncodeTimestamp(ts uint64) []byte { return binary.BigEndian.AppendUint64(nil, ts) }

// DecodeTimestamp parses an RCM-Timestamp payload.
func DecodeTimestamp(b []byte) (uint64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("rcm: timestamp: must be 8 octets, got %d: %w", len(b), ErrMalformedBootstrap)
	}
	return binary.BigEndian.Uint64(b), nil
}

// Domain separation labels (docs/rcm-crypto.md). A new layout gets a new label.
const (
	transcriptLabel = "rcmhss-bootstrap-v1"
	hssProofLabel   = "rcmhss-hss-bind-v1"
	kasmeBindLabel  = "rcmhss-kasme-bind-v1"
)

// appendField appends a 4-octet big-endian length and the bytes.
func appendField(dst, f []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(f)))
	return append(dst, f...)
}

// Transcript is the exact byte string the device signs (hashed). Every field is
// a 4-octet big-endian length followed by its bytes, in this order:
//
//	"rcmhss-bootstrap-v1" | guest IMSI (ASCII digits) | Visited-PLMN-Id (3) |
//	connection type (uint32 BE) | IMEI (15 ASCII digits) |
//	SHA-256 of each chain certificate, concatenated (32 * n) |
//	device ephemeral key (65) | timestamp (uint64 BE)
//
// Binding the guest IMSI and the visited PLMN stops a signature made for one
// network being replayed through another.
func Transcript(guest hss.IMSI, visited hss.PLMN, b *Bootstrap) []byte {
	n := 8*4 + len(transcriptLabel) + len(guest) + 3 + 4 + len(b.IMEI) + 32*len(b.CertChain) + len(b.DeviceEphemeral) + 8
	t := make([]byte, 0, n)
	t = appendField(t, []byte(transcriptLabel))
	t = appendField(t, []byte(guest))
	t = appendField(t, visited[:])
	t = appendField(t, binary.BigEndian.AppendUint32(nil, uint32(b.ConnectionType)))
	t = appendField(t, []byte(b.IMEI))
	hashes := make([]byte, 0, 32*len(b.CertChain))
	for _, c := range b.CertChain {
		h := sha256.Sum256(c)
		hashes = append(hashes, h[:]...)
	}
	t = appendField(t, hashes)
	t = appendField(t, b.DeviceEphemeral)
	t = appendField(t, binary.BigEndian.AppendUint64(nil, b.Timestamp))
	return t
}

// TranscriptHash is SHA-256(Transcript): what the device signs, the HKDF salt
// of the bound KASME, and the replay-cache key.
func TranscriptHash(guest hss.IMSI, visited hss.PLMN, b *Bootstrap) [32]byte {
	return sha256.Sum256(Transcript(guest, visited, b))
}
