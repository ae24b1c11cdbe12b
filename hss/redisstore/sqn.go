package redisstore

import (
	"context"
	"fmt"
	"strconv"

	"github.com/rcmhss/rcmhss/hss"
)

// ReserveSQN implements hss.SQNStore in one EVALSHA round trip.
func (s *Store) ReserveSQN(ctx context.Context, imsi hss.IMSI, node string, n int, indBits uint8) (hss.SQNReservation, error) {
	return s.reserve(ctx, "reserve sqn", imsi, node, n, indBits, false, 0, 0)
}

// ResyncSQN implements hss.SQNStore in one EVALSHA round trip.
func (s *Store) ResyncSQN(ctx context.Context, imsi hss.IMSI, node string, seqMS, delta uint64, n int, indBits uint8) (hss.SQNReservation, error) {
	return s.reserve(ctx, "resync sqn", imsi, node, n, indBits, true, seqMS, delta)
}

func (s *Store) reserve(ctx context.Context, op string, imsi hss.IMSI, node string, n int, indBits uint8, resync bool, seqMS, delta uint64) (hss.SQNReservation, error) {
	var none hss.SQNReservation
	if err := checkIMSI(op, imsi); err != nil {
		return none, err
	}
	if err := checkSQNArgs(node, n, indBits); err != nil {
		return none, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	maxSEQ := uint64(1)<<(48-uint(indBits)) - 1
	if resync && seqMS > maxSEQ {
		return none, fmt.Errorf("redisstore: %s: seq_ms %d does not fit in %d bits: %w", op, seqMS, 48-indBits, hss.ErrInvalidInput)
	}
	// delta only matters up to the SEQ range; capping it keeps it exact in Lua.
	delta = min(delta, maxSEQ+1)
	rs := "0"
	if resync {
		rs = "1"
	}
	keys := []string{s.key("sub:", imsi), s.key("sqn:", imsi)}
	if claim := s.claimKey(ctx, imsi, "s"); claim != "" {
		keys = append(keys, claim)
	}
	vals, err := reserveScript.Run(ctx, s.scripts, keys,
		node, n, uint64(1)<<indBits, maxSEQ, rs, seqMS, delta, s.seqJump, s.claimTTL).Slice()
	if err != nil {
		return none, mapErr(op, err)
	}
	if len(vals) != 3 && len(vals) != 4 {
		return none, fmt.Errorf("redisstore: %s: unexpected reply of %d values: %w", op, len(vals), errCorrupt)
	}
	rec, _ := vals[0].(string)
	first, _ := vals[1].(string)
	ind, _ := vals[2].(int64)
	km, d := decodeKeys([]byte(rec))
	if d.err != nil {
		return none, fmt.Errorf("redisstore: %s: %w", op, d.err)
	}
	res := hss.SQNReservation{IND: uint32(ind), Material: hss.AuthMaterial{AMF: km.AMF}, Replayed: len(vals) == 4}
	if res.FirstSEQ, err = strconv.ParseUint(first, 10, 64); err != nil {
		return none, fmt.Errorf("redisstore: %s: first seq %q: %w", op, first, errCorrupt)
	}
	if res.Material.K, err = s.sealer.Open(imsi, hss.FieldK, km.K); err != nil {
		return none, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if res.Material.OPc, err = s.sealer.Open(imsi, hss.FieldOPc, km.OPc); err != nil {
		return none, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	return res, nil
}

func checkSQNArgs(node string, n int, indBits uint8) error {
	switch {
	case node == "":
		return fmt.Errorf("serving node name is required: %w", hss.ErrInvalidInput)
	case n < 1 || n > maxReserve:
		return fmt.Errorf("number of sqns must be 1..%d, got %d: %w", maxReserve, n, hss.ErrInvalidInput)
	case indBits > hss.MaxINDBits:
		return fmt.Errorf("ind bits must be 0..%d, got %d: %w", hss.MaxINDBits, indBits, hss.ErrInvalidInput)
	}
	return nil
}
