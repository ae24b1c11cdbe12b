package loadgen

import (
	"crypto/rand"

	"github.com/rcmhss/rcmhss/hss"
)

// ResyncKeys are the K and OPc of the IMSI range (as provisioned), with which
// the resync AIRs carry an AUTS the HSS can verify.
type ResyncKeys struct {
	K, OPc hss.Key
	// SQNMS is the SQN the simulated USIM reports (default 32: SEQ 1, IND 0).
	SQNMS uint64
}

// resyncInfo returns a Re-Synchronization-Info: RAND (16 octets) || AUTS (14)
// (TS 29.272 7.3.15). With keys, AUTS = (SQN_MS xor f5*(RAND)) || MAC-S,
// MAC-S = f1*(SQN_MS, RAND, AMF 0000) (TS 33.102 6.3.3), so the HSS runs its
// real resynchronisation; without, a random AUTS, syntactically valid and
// refused by the MAC-S check. It is computed once per run: every IMSI of a
// range provisioned with the same keys accepts it.
func resyncInfo(keys *ResyncKeys) []byte {
	var r [16]byte
	_, _ = rand.Read(r[:])
	out := make([]byte, 30)
	copy(out, r[:])
	if keys == nil {
		_, _ = rand.Read(out[16:])
		return out
	}
	sqnMS := keys.SQNMS
	if sqnMS == 0 {
		sqnMS = 32
	}
	m := hss.NewMilenage(keys.K, keys.OPc)
	sqn := hss.SQNBytes(sqnMS)
	ak := m.F5Star(r)
	for i := range 6 {
		out[16+i] = sqn[i] ^ ak[i]
	}
	mac := m.F1Star(r, sqn, [2]byte{})
	copy(out[22:], mac[:])
	return out
}
