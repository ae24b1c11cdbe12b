package hss

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Sealed key layout. The first byte names the scheme and, for AES-GCM, the
// key-encryption key, so that a KEK can be rotated by adding a new id while old
// records stay readable:
//
//	0x00                        plaintext (lab only): 0x00 || key (16)
//	0x01..0xff  KEK id          AES-256-GCM: id || nonce (12) || ciphertext (16) || tag (16)
//
// The AAD binds a ciphertext to its subscriber and field ("k", "opc", "op"), so
// a sealed K copied into another record, or into the OPc field, fails to open.
const (
	sealPlaintext byte = 0x00
	sealKEK1      byte = 0x01

	// KEKSize is the size of a key-encryption key (AES-256).
	KEKSize = 32

	sealNonceSize = 12
	sealedGCMSize = 1 + sealNonceSize + len(Key{}) + 16
	sealedRawSize = 1 + len(Key{})
)

// Key field names used as AAD when sealing subscriber keys.
const (
	FieldK   = "k"
	FieldOPc = "opc"
	FieldOP  = "op"
)

var (
	// ErrSealMismatch: a sealed key was written in a mode the sealer does not
	// hold (plaintext record read with a KEK, encrypted record read without one,
	// or an unknown KEK id).
	ErrSealMismatch = errors.New("sealed key mode does not match the store's key-encryption setting")
	// ErrSealBroken: a sealed key is malformed or does not authenticate (wrong
	// KEK, or the ciphertext was moved to another subscriber or field).
	ErrSealBroken = errors.New("sealed key does not authenticate")
)

// KeySealer encrypts K, OP and OPc at rest. It is safe for concurrent use.
type KeySealer struct {
	id   byte        // scheme byte written by Seal
	aead cipher.AEAD // nil for the plaintext sealer
}

// NewKeySealer returns a sealer that encrypts with AES-256-GCM under kek (32 bytes).
func NewKeySealer(kek []byte) (*KeySealer, error) {
	if len(kek) != KEKSize {
		return nil, fmt.Errorf("hss: key-encryption key must be %d bytes, got %d: %w", KEKSize, len(kek), ErrInvalidInput)
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, fmt.Errorf("hss: key-encryption key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("hss: key-encryption key: %w", err)
	}
	return &KeySealer{id: sealKEK1, aead: aead}, nil
}

// NewPlaintextSealer returns a sealer that stores keys in the clear, marked as
// such. It exists for labs that configure no KEK; a store opened with it refuses
// records sealed under a KEK, and a store with a KEK refuses its records.
func NewPlaintextSealer() *KeySealer { return &KeySealer{id: sealPlaintext} }

// Encrypted reports whether the sealer encrypts (false for the plaintext sealer).
func (s *KeySealer) Encrypted() bool { return s.aead != nil }

// Seal returns the at-rest form of k for field of subscriber imsi.
func (s *KeySealer) Seal(imsi IMSI, field string, k Key) []byte {
	if s.aead == nil {
		out := make([]byte, sealedRawSize)
		out[0] = sealPlaintext
		copy(out[1:], k[:])
		return out
	}
	out := make([]byte, 1+sealNonceSize, sealedGCMSize)
	out[0] = s.id
	// crypto/rand.Read never fails (it aborts the program instead).
	_, _ = rand.Read(out[1 : 1+sealNonceSize])
	return s.aead.Seal(out, out[1:1+sealNonceSize], k[:], sealAAD(s.id, imsi, field))
}

// Open reverses Seal. Its errors wrap ErrSealMismatch or ErrSealBroken and never
// carry key bytes.
func (s *KeySealer) Open(imsi IMSI, field string, b []byte) (Key, error) {
	var k Key
	if len(b) == 0 {
		return k, fmt.Errorf("hss: open %s: empty record: %w", field, ErrSealBroken)
	}
	switch {
	case b[0] == sealPlaintext && s.aead != nil:
		return k, fmt.Errorf("hss: open %s: record is stored in plaintext but a key-encryption key is configured: %w", field, ErrSealMismatch)
	case b[0] != sealPlaintext && s.aead == nil:
		return k, fmt.Errorf("hss: open %s: record is encrypted (key id %d) but no key-encryption key is configured: %w", field, b[0], ErrSealMismatch)
	case b[0] != s.id:
		return k, fmt.Errorf("hss: open %s: record is encrypted under key id %d, the configured key has id %d: %w", field, b[0], s.id, ErrSealMismatch)
	}
	if s.aead == nil {
		if len(b) != sealedRawSize {
			return k, fmt.Errorf("hss: open %s: plaintext record has %d bytes, want %d: %w", field, len(b), sealedRawSize, ErrSealBroken)
		}
		copy(k[:], b[1:])
		return k, nil
	}
	if len(b) != sealedGCMSize {
		return k, fmt.Errorf("hss: open %s: sealed record has %d bytes, want %d: %w", field, len(b), sealedGCMSize, ErrSealBroken)
	}
	var buf [len(Key{})]byte
	pt, err := s.aead.Open(buf[:0], b[1:1+sealNonceSize], b[1+sealNonceSize:], sealAAD(b[0], imsi, field))
	if err != nil {
		// The GCM error says nothing about the key; ours says what can cause it.
		return k, fmt.Errorf("hss: open %s: wrong key-encryption key or record moved to another subscriber or field: %w", field, ErrSealBroken)
	}
	copy(k[:], pt)
	return k, nil
}

// sealAAD is "rcmhss-key" || id || imsi || 0x00 || field. The 0x00 separator
// is unambiguous because an IMSI is decimal digits only.
func sealAAD(id byte, imsi IMSI, field string) []byte {
	const label = "rcmhss-key"
	aad := make([]byte, 0, len(label)+1+len(imsi)+1+len(field))
	aad = append(aad, label...)
	aad = append(aad, id)
	aad = append(aad, imsi...)
	aad = append(aad, 0)
	return append(aad, field...)
}

// ParseKEK decodes a key-encryption key given as 64 hex digits or as base64
// (standard or URL alphabet, padded or not) of 32 bytes. The error never echoes
// the input.
func ParseKEK(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*KEKSize {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		b, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(b) != KEKSize {
			return nil, fmt.Errorf("hss: key-encryption key must decode to %d bytes, got %d: %w", KEKSize, len(b), ErrInvalidInput)
		}
		return b, nil
	}
	return nil, fmt.Errorf("hss: key-encryption key must be %d hex digits or base64 of %d bytes: %w", 2*KEKSize, KEKSize, ErrInvalidInput)
}
