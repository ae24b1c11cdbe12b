package rcm

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"

	"github.com/rcmhss/rcmhss/hss"
)

// BindKASME derives the KASME the MME receives for a provisioning attach
// (issue 5, RCM.md step 2: the NAS context must depend on the guest AKA *and*
// the device authentication):
//
//	KASME_bound = HKDF-SHA256(IKM  = KASME_guest (32) || Z (32),
//	                          salt = TranscriptHash (32),
//	                          info = "rcmhss-kasme-bind-v1" || RAND (16),
//	                          L    = 32)
//
// (RFC 5869.) KASME_guest is public to anyone holding the well-known guest
// K/OPc; Z = ECDH(HSS ephemeral, device ephemeral) is known only to the HSS
// and the holder of the device ephemeral private key, whose public half the
// certificate key signed; RAND ties the result to one vector.
func BindKASME(kasmeGuest [32]byte, z []byte, transcriptHash [32]byte, rand [16]byte) [32]byte {
	ikm := make([]byte, 0, 64)
	ikm = append(append(ikm, kasmeGuest[:]...), z...)
	info := make([]byte, 0, len(kasmeBindLabel)+16)
	info = append(append(info, kasmeBindLabel...), rand[:]...)
	k, err := hkdf.Key(sha256.New, ikm, transcriptHash[:], string(info), 32)
	if err != nil {
		panic("rcm: hkdf: " + err.Error()) // only for L > 255*32
	}
	return [32]byte(k)
}

// HSSProofInput is the byte string the HSS signs (ECDSA P-256 over its
// SHA-256): three length-prefixed fields as in Transcript,
//
//	"rcmhss-hss-bind-v1" | TranscriptHash (32) | HSS ephemeral key (65)
//
// The device checks it to know that the HSS ephemeral key comes from an HSS
// holding a key certified under its pinned root, and answers this transcript.
func HSSProofInput(transcriptHash [32]byte, hssEphemeral []byte) []byte {
	b := make([]byte, 0, 12+len(hssProofLabel)+32+len(hssEphemeral))
	b = appendField(b, []byte(hssProofLabel))
	b = appendField(b, transcriptHash[:])
	return appendField(b, hssEphemeral)
}

// BindingProof is what the AIA carries in RCM-Binding-Info for the device.
type BindingProof struct {
	HSSEphemeral []byte   // 65-octet uncompressed P-256 point
	Signature    []byte   // ECDSA P-256/SHA-256 over HSSProofInput, ASN.1 DER
	CertChain    [][]byte // the HSS RCM certificate first, then intermediates
}

// HSSIdentity is the HSS's RCM signing key with its certificate chain. The
// key never leaves it and never prints.
type HSSIdentity struct {
	key   *ecdsa.PrivateKey
	chain [][]byte
}

// NewHSSIdentity checks that chain[0] certifies key (ECDSA P-256).
func NewHSSIdentity(key *ecdsa.PrivateKey, chain [][]byte) (*HSSIdentity, error) {
	if key == nil || key.Curve != elliptic.P256() {
		return nil, errors.New("rcm: hss identity: key must be ECDSA P-256")
	}
	if len(chain) == 0 || len(chain) > MaxChainCerts {
		return nil, fmt.Errorf("rcm: hss identity: chain must hold 1 to %d certificates", MaxChainCerts)
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return nil, fmt.Errorf("rcm: hss identity: certificate: %w", err)
	}
	if pub, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || !pub.Equal(&key.PublicKey) {
		return nil, errors.New("rcm: hss identity: certificate does not certify the key")
	}
	return &HSSIdentity{key: key, chain: chain}, nil
}

func (*HSSIdentity) String() string       { return "rcm.HSSIdentity[redacted]" }
func (*HSSIdentity) GoString() string     { return "rcm.HSSIdentity[redacted]" }
func (*HSSIdentity) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// Bind makes a fresh HSS ephemeral key for an authenticated device, computes Z
// and signs the proof. One KeyBinding serves every vector of the AIA.
func (h *HSSIdentity) Bind(d *Device) (*KeyBinding, error) {
	eph, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("rcm: bind: ephemeral key: %w", err)
	}
	return h.bindWith(eph, d.TranscriptHash, d.Ephemeral)
}

func (h *HSSIdentity) bindWith(eph *ecdh.PrivateKey, transcriptHash [32]byte, deviceEph *ecdh.PublicKey) (*KeyBinding, error) {
	z, err := eph.ECDH(deviceEph)
	if err != nil {
		return nil, fmt.Errorf("rcm: bind: ecdh: %w", err)
	}
	pub := eph.PublicKey().Bytes()
	digest := sha256.Sum256(HSSProofInput(transcriptHash, pub))
	sig, err := ecdsa.SignASN1(rand.Reader, h.key, digest[:])
	if err != nil {
		return nil, fmt.Errorf("rcm: bind: sign: %w", err)
	}
	return &KeyBinding{
		transcriptHash: transcriptHash,
		z:              z,
		proof:          BindingProof{HSSEphemeral: pub, Signature: sig, CertChain: h.chain},
	}, nil
}

// KeyBinding is the HSS side of one provisioning attach: the ECDH secret and
// the proof for the device. It never prints its secret.
type KeyBinding struct {
	transcriptHash [32]byte
	z              []byte
	proof          BindingProof
}

// Proof returns what RCM-Binding-Info carries.
func (k *KeyBinding) Proof() BindingProof { return k.proof }

// KASME returns KASME_bound for one vector.
func (k *KeyBinding) KASME(kasmeGuest [32]byte, rand [16]byte) [32]byte {
	return BindKASME(kasmeGuest, k.z, k.transcriptHash, rand)
}

// BindVectors replaces the KASME of every E-UTRAN vector by its bound value,
// so that no guest KASME ever leaves the HSS for a provisioning attach.
func (k *KeyBinding) BindVectors(vs []hss.EUTRANVector) {
	for i := range vs {
		vs[i].KASME = k.KASME(vs[i].KASME, vs[i].RAND)
	}
}

func (*KeyBinding) String() string       { return "rcm.KeyBinding[redacted]" }
func (*KeyBinding) GoString() string     { return "rcm.KeyBinding[redacted]" }
func (*KeyBinding) LogValue() slog.Value { return slog.StringValue("[redacted]") }
