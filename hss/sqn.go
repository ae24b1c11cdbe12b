package hss

import (
	"crypto/subtle"
	"errors"
	"fmt"
)

// SQN defaults (TS 33.102 Annex C).
const (
	// DefaultINDBits is the length of IND: 5 bits (32 slots), the value the
	// examples of TS 33.102 Annex C use.
	DefaultINDBits uint8 = 5
	// MaxINDBits bounds the USIM's SEQ_MS array (2^10 entries is already far
	// larger than any USIM provides).
	MaxINDBits uint8 = 10
	// DefaultDelta is the wrap-around protection limit Δ of C.2.1 (2^28, in SEQ
	// units): the USIM refuses a SEQ more than Δ ahead of its highest SEQ_MS.
	DefaultDelta uint64 = 1 << 28
)

// SQNConfig tunes sequence-number management.
type SQNConfig struct {
	// INDBits is the number of low-order SQN bits that carry IND (TS 33.102
	// C.1.1: SQN = SEQ || IND). 0..10; default 5.
	INDBits uint8
	// Delta is Δ of TS 33.102 C.2.1 in SEQ units: on resynchronisation SEQ_HE
	// is reset to SEQ_MS when it is more than Δ ahead. Default 2^28.
	Delta uint64
}

// DefaultSQNConfig returns INDBits 5 and Delta 2^28.
func DefaultSQNConfig() SQNConfig {
	return SQNConfig{INDBits: DefaultINDBits, Delta: DefaultDelta}
}

// Validate reports every problem with c.
func (c SQNConfig) Validate() error {
	var errs []error
	if c.INDBits > MaxINDBits {
		errs = append(errs, invalid("sqn.ind_bits", fmt.Sprintf("must be 0..%d, got %d", MaxINDBits, c.INDBits)))
	}
	if c.Delta == 0 {
		errs = append(errs, invalid("sqn.delta", "must be positive"))
	} else if c.INDBits <= MaxINDBits && c.Delta > MaxSEQ(c.INDBits) {
		errs = append(errs, invalid("sqn.delta", fmt.Sprintf("must be at most 2^%d-1 (the SEQ range), got %d", 48-int(c.INDBits), c.Delta)))
	}
	return errors.Join(errs...)
}

// MaxSEQ is the largest SEQ that fits in 48 bits beside indBits of IND.
func MaxSEQ(indBits uint8) uint64 { return MaxSQN >> indBits }

// ComposeSQN builds SQN = SEQ || IND (TS 33.102 C.1.1). SEQ is truncated to
// the bits that fit in 48 bits, IND to indBits.
func ComposeSQN(seq uint64, ind uint32, indBits uint8) uint64 {
	mask := uint64(1)<<indBits - 1
	return (seq<<indBits | uint64(ind)&mask) & MaxSQN
}

// SplitSQN is the inverse of ComposeSQN.
func SplitSQN(sqn uint64, indBits uint8) (seq uint64, ind uint32) {
	sqn &= MaxSQN
	return sqn >> indBits, uint32(sqn & (uint64(1)<<indBits - 1))
}

// SQNBytes encodes a 48-bit SQN as the 6 octets AUTN and AUTS carry.
func SQNBytes(sqn uint64) [6]byte {
	return [6]byte{byte(sqn >> 40), byte(sqn >> 32), byte(sqn >> 24), byte(sqn >> 16), byte(sqn >> 8), byte(sqn)}
}

// SQNFromBytes decodes 6 octets into a 48-bit SQN.
func SQNFromBytes(b [6]byte) uint64 {
	return uint64(b[0])<<40 | uint64(b[1])<<32 | uint64(b[2])<<24 | uint64(b[3])<<16 | uint64(b[4])<<8 | uint64(b[5])
}

// resyncAMF is the dummy AMF of MAC-S: "the AMF used to calculate MAC-S
// assumes a dummy value of all zeros" (TS 33.102 6.3.3).
var resyncAMF [2]byte

// VerifyAUTS recovers SQN_MS from AUTS = Conc(SQN_MS) || MAC-S and checks MAC-S
// (TS 33.102 6.3.3 and 6.3.5): SQN_MS = AUTS[0:6] xor f5*(RAND) and MAC-S must
// equal f1*(SQN_MS, RAND, AMF = 0x0000). A mismatch wraps ErrResyncFailed.
func (m *Milenage) VerifyAUTS(rand [16]byte, auts [14]byte) (sqnMS uint64, err error) {
	akStar := m.F5Star(rand)
	var sqn [6]byte
	for i := range sqn {
		sqn[i] = auts[i] ^ akStar[i]
	}
	mac := m.F1Star(rand, sqn, resyncAMF)
	if subtle.ConstantTimeCompare(mac[:], auts[6:14]) != 1 {
		return 0, fmt.Errorf("hss: verify auts: %w", ErrResyncFailed)
	}
	return SQNFromBytes(sqn), nil
}
