package hss

import (
	"crypto/sha256"
	"fmt"
)

// KDF function codes (TS 33.220 Annex B.2: FC values are allocated by the
// specification that uses the KDF).
const (
	// FCKASME derives KASME (TS 33.401 A.2).
	FCKASME byte = 0x10
	// FCCKIKPrime derives CK' and IK' (TS 33.402 A.2).
	FCCKIKPrime byte = 0x20
)

// maxKDFParam is the longest parameter the 16-bit length field Li can describe.
const maxKDFParam = 0xffff

// KDF is the generic key derivation function of TS 33.220 Annex B.2:
// HMAC-SHA-256(Key, S) with S = FC || P0 || L0 || P1 || L1 || ..., each Li the
// length of Pi in octets as two big-endian octets.
func KDF(key []byte, fc byte, params ...[]byte) ([32]byte, error) {
	n := 1
	for i, p := range params {
		if len(p) > maxKDFParam {
			return [32]byte{}, fmt.Errorf("hss: kdf: parameter P%d is %d octets, at most %d fit L%d: %w",
				i, len(p), maxKDFParam, i, ErrInvalidInput)
		}
		n += len(p) + 2
	}
	var buf [256]byte
	var s []byte
	if n <= len(buf) {
		s = buf[:0]
	} else {
		s = make([]byte, 0, n)
	}
	s = append(s, fc)
	for _, p := range params {
		s = append(s, p...)
		s = append(s, byte(len(p)>>8), byte(len(p)))
	}
	return hmacSHA256(key, s), nil
}

// DeriveKASME computes KASME (TS 33.401 A.2): Key = CK || IK, FC = 0x10,
// P0 = SN id (the three octets of the serving network's PLMN identity, as the
// Visited-PLMN-Id carries them, TS 24.301 9.9.3.32 / TS 33.401 A.2),
// P1 = SQN xor AK.
func DeriveKASME(ck, ik [16]byte, sn PLMN, sqnXorAK [6]byte) [32]byte {
	var key [32]byte
	copy(key[:16], ck[:])
	copy(key[16:], ik[:])
	var s [14]byte
	s[0] = FCKASME
	copy(s[1:4], sn[:])
	s[4], s[5] = 0, 3
	copy(s[6:12], sqnXorAK[:])
	s[12], s[13] = 0, 6
	return hmacSHA256(key[:], s[:])
}

// DeriveCKIKPrime computes CK' || IK' (TS 33.402 A.2): Key = CK || IK,
// FC = 0x20, P0 = access network identity (TS 24.302 8.1.1.1, e.g. "WLAN"),
// P1 = SQN xor AK. CK' is the most significant half of the output.
func DeriveCKIKPrime(ck, ik [16]byte, accessNetworkID string, sqnXorAK [6]byte) (ckPrime, ikPrime [16]byte, err error) {
	if accessNetworkID == "" {
		return ckPrime, ikPrime, fmt.Errorf("hss: derive ck' ik': %w", invalid("access_network_id", "is required for EAP-AKA'"))
	}
	var key [32]byte
	copy(key[:16], ck[:])
	copy(key[16:], ik[:])
	out, err := KDF(key[:], FCCKIKPrime, []byte(accessNetworkID), sqnXorAK[:])
	if err != nil {
		return ckPrime, ikPrime, fmt.Errorf("hss: derive ck' ik': %w", err)
	}
	copy(ckPrime[:], out[:16])
	copy(ikPrime[:], out[16:])
	return ckPrime, ikPrime, nil
}

// hmacSHA256 is HMAC (RFC 2104) over SHA-256 written against sha256.Sum256 so
// that a vector's key derivations do not allocate (crypto/hmac allocates two
// hash states per call). It is checked against crypto/hmac in kdf_test.go.
func hmacSHA256(key, msg []byte) [32]byte {
	const block = 64
	var k [block]byte
	if len(key) > block {
		h := sha256.Sum256(key)
		copy(k[:], h[:])
	} else {
		copy(k[:], key)
	}
	var ibuf [block + 192]byte
	var inner []byte
	if len(msg) <= len(ibuf)-block {
		inner = ibuf[:block+len(msg)]
	} else {
		inner = make([]byte, block+len(msg))
	}
	for i := range block {
		inner[i] = k[i] ^ 0x36
	}
	copy(inner[block:], msg)
	ih := sha256.Sum256(inner)

	var outer [block + sha256.Size]byte
	for i := range block {
		outer[i] = k[i] ^ 0x5c
	}
	copy(outer[block:], ih[:])
	return sha256.Sum256(outer[:])
}
