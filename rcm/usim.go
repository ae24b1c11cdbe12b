package rcm

import (
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/rcmhss/rcmhss/hss"
)

// ErrAUTNMismatch: the network's AUTN does not verify with the USIM's keys
// (TS 33.102 6.3.3: MAC failure, the USIM rejects the network).
var ErrAUTNMismatch = errors.New("autn mac does not verify")

// USIM is the subscriber side of EPS AKA for the device simulator: the guest
// USIM with the well-known guest K/OPc, then the one with the provisioned
// credentials. K and OPc redact themselves when printed.
type USIM struct {
	K, OPc hss.Key
}

// Authenticate runs the USIM's part of EPS AKA on a challenge (TS 33.102
// 6.3.3, Milenage of TS 35.206) and the ME's KASME derivation (TS 33.401
// A.2): it checks AUTN's MAC, and returns RES and KASME for the serving
// network. It does not check SQN freshness (the simulator keeps no SQN).
func (u USIM) Authenticate(rand [16]byte, autn []byte, serving hss.PLMN) (res [8]byte, kasme [32]byte, err error) {
	if len(autn) != 16 {
		return res, kasme, fmt.Errorf("rcm: usim: autn must be 16 octets, has %d", len(autn))
	}
	m := hss.NewMilenage(u.K, u.OPc)
	res, ck, ik, ak := m.F2345(rand)
	var conc, sqn [6]byte
	copy(conc[:], autn[:6])
	for i := range sqn {
		sqn[i] = conc[i] ^ ak[i]
	}
	mac := m.F1(rand, sqn, [2]byte{autn[6], autn[7]})
	if subtle.ConstantTimeCompare(mac[:], autn[8:]) != 1 {
		return [8]byte{}, kasme, fmt.Errorf("rcm: usim: %w", ErrAUTNMismatch)
	}
	return res, hss.DeriveKASME(ck, ik, serving, conc), nil
}
