package redisstore

import (
	"context"
	"fmt"

	"github.com/rcmhss/rcmhss/hss"
)

// SetMMERegistration implements hss.LocationStore: one script swaps the
// registration and returns the previous one.
func (s *Store) SetMMERegistration(ctx context.Context, imsi hss.IMSI, reg hss.MMERegistration) (*hss.MMERegistration, error) {
	const op = "set mme registration"
	if err := checkIMSI(op, imsi); err != nil {
		return nil, err
	}
	mme, err := encodeMME(&reg)
	if err != nil {
		return nil, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	k := s.keysFor(imsi)
	keys, args := []string{k.sub, k.reg}, []any{"m", mme}
	if claim := s.claimKey(ctx, imsi, "m"); claim != "" {
		keys, args = append(keys, claim), append(args, s.claimTTL)
	}
	prev, err := swapScript.Run(ctx, s.rdb, keys, args...).Text()
	if err != nil {
		return nil, mapErr(op, err)
	}
	if prev == "" {
		return nil, nil
	}
	r, err := decodeMME([]byte(prev))
	if err != nil {
		return nil, fmt.Errorf("redisstore: %s: previous registration: %w", op, err)
	}
	return r, nil
}

// UpdateMMERegistration implements hss.LocationStore as a compare-and-set on
// the registration, retried on conflict. With a request key in ctx (PUR,
// NOR) the change is claimed (request_claim.go): a copy of the request that
// runs later, on this node or another, finds the claim and changes nothing,
// so a stale PUR cannot mark purged the registration its MME made since.
func (s *Store) UpdateMMERegistration(ctx context.Context, imsi hss.IMSI, host string, fn func(*hss.MMERegistration)) (bool, error) {
	const op = "update mme registration"
	k := s.keysFor(imsi)
	keys := []string{k.sub, k.reg}
	var ttl []any
	if claim := s.claimKey(ctx, imsi, "u"); claim != "" {
		keys, ttl = append(keys, claim), []any{s.claimTTL}
	}
	for range updateAttempts {
		regs, raw, err := s.registrations(ctx, op, imsi)
		if err != nil {
			return false, err
		}
		if regs.MME == nil || regs.MME.Host != host {
			return false, nil
		}
		fn(regs.MME)
		mme, err := encodeMME(regs.MME)
		if err != nil {
			return false, fmt.Errorf("redisstore: %s: %w", op, err)
		}
		swapped, err := mmeCASScript.Run(ctx, s.rdb, keys, append([]any{raw[0], mme}, ttl...)...).Int()
		if err != nil {
			return false, mapErr(op, err)
		}
		if swapped == 1 || swapped == 2 {
			return true, nil
		}
	}
	return false, fmt.Errorf("redisstore: %s: %d attempts lost to concurrent writers: %w", op, updateAttempts, hss.ErrConflict)
}

// SetAAARegistration implements hss.LocationStore.
func (s *Store) SetAAARegistration(ctx context.Context, imsi hss.IMSI, reg *hss.AAARegistration) (*hss.AAARegistration, error) {
	const op = "set aaa registration"
	if err := checkIMSI(op, imsi); err != nil {
		return nil, err
	}
	var val []byte // empty deletes
	if reg != nil {
		var err error
		if val, err = encodeAAA(reg); err != nil {
			return nil, fmt.Errorf("redisstore: %s: %w", op, err)
		}
	}
	k := s.keysFor(imsi)
	keys, args := []string{k.sub, k.reg}, []any{"a", val}
	if claim := s.claimKey(ctx, imsi, "a"); claim != "" {
		keys, args = append(keys, claim), append(args, s.claimTTL)
	}
	prev, err := swapScript.Run(ctx, s.rdb, keys, args...).Text()
	if err != nil {
		return nil, mapErr(op, err)
	}
	if prev == "" {
		return nil, nil
	}
	r, err := decodeAAA([]byte(prev))
	if err != nil {
		return nil, fmt.Errorf("redisstore: %s: previous registration: %w", op, err)
	}
	return r, nil
}

// GetRegistrations implements hss.LocationStore.
func (s *Store) GetRegistrations(ctx context.Context, imsi hss.IMSI) (hss.Registrations, error) {
	regs, _, err := s.registrations(ctx, "get registrations", imsi)
	return regs, err
}

// registrations returns both registrations and their raw values.
func (s *Store) registrations(ctx context.Context, op string, imsi hss.IMSI) (hss.Registrations, [2]string, error) {
	var raw [2]string
	if err := checkIMSI(op, imsi); err != nil {
		return hss.Registrations{}, raw, err
	}
	k := s.keysFor(imsi)
	vals, err := regsScript.Run(ctx, s.rdb, []string{k.sub, k.reg}).StringSlice()
	if err != nil {
		return hss.Registrations{}, raw, mapErr(op, err)
	}
	regs, err := decodeRegistrations(op, vals)
	if err != nil {
		return hss.Registrations{}, raw, err
	}
	copy(raw[:], vals)
	return regs, raw, nil
}
