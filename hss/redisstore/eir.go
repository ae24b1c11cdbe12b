package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/rcmhss/rcmhss/hss"
)

// EIR is hss.EIRStore on Redis, sharing the connections of a Store. Every
// list lives under the hash tag {eir}, so that one script can read and write
// all of them in a Cluster too:
//
//	<prefix>eir:{eir}:imei   hash  IMEI (14 digits) -> status digit
//	<prefix>eir:{eir}:tac    hash  TAC (8 digits)   -> status digit
//	<prefix>eir:{eir}:range  zset  "first-last" scored by first
//	<prefix>eir:{eir}:rstat  hash  "first-last"     -> status digit
//
// A 14-digit IMEI is below 2^53, so a float64 score holds it exactly.
type EIR struct {
	rdb                   redis.UniversalClient
	imei, tac, rng, rstat string
}

var _ hss.EIRStore = (*EIR)(nil)

// EIR returns the EIR lists kept in the same Redis under the store's prefix.
func (s *Store) EIR() *EIR {
	p := s.prefix + "eir:{eir}:"
	return &EIR{rdb: s.rdb, imei: p + "imei", tac: p + "tac", rng: p + "range", rstat: p + "rstat"}
}

// putRangeScript inserts or updates a range unless it overlaps another. The
// ranges never overlap, so only the last range starting at or before the new
// one and the first starting at or after it need checking.
// KEYS: range zset, status hash. ARGV: first, last, status.
// Returns 1 when stored, or the overlapping member.
var putRangeScript = redis.NewScript(`
local member = ARGV[1] .. "-" .. ARGV[2]
if redis.call("ZSCORE", KEYS[1], member) then
  redis.call("HSET", KEYS[2], member, ARGV[3])
  return 1
end
local prev = redis.call("ZREVRANGEBYSCORE", KEYS[1], ARGV[1], "-inf", "LIMIT", 0, 1)
if prev[1] and string.sub(prev[1], 16) >= ARGV[1] then
  return prev[1]
end
local nxt = redis.call("ZRANGEBYSCORE", KEYS[1], ARGV[1], "+inf", "LIMIT", 0, 1)
if nxt[1] and string.sub(nxt[1], 1, 14) <= ARGV[2] then
  return nxt[1]
end
redis.call("ZADD", KEYS[1], ARGV[1], member)
redis.call("HSET", KEYS[2], member, ARGV[3])
return 1
`)

// deleteRangeScript removes a range. KEYS: range zset, status hash. ARGV:
// member. Returns the number removed.
var deleteRangeScript = redis.NewScript(`
redis.call("HDEL", KEYS[2], ARGV[1])
return redis.call("ZREM", KEYS[1], ARGV[1])
`)

// matchScript looks an IMEI up in the three lists in one round trip.
// KEYS: imei hash, tac hash, range zset, range status hash. ARGV: imei, tac.
// Returns {imei status or "", tac status or "", range member or "", range status or ""}.
var matchScript = redis.NewScript(`
local i = redis.call("HGET", KEYS[1], ARGV[1]) or ""
local t = redis.call("HGET", KEYS[2], ARGV[2]) or ""
local r, rs = "", ""
local prev = redis.call("ZREVRANGEBYSCORE", KEYS[3], ARGV[1], "-inf", "LIMIT", 0, 1)
if prev[1] and string.sub(prev[1], 16) >= ARGV[1] then
  r = prev[1]
  rs = redis.call("HGET", KEYS[4], r) or ""
end
return {i, t, r, rs}
`)

// PutEIREntry implements hss.EIRStore.
func (s *EIR) PutEIREntry(ctx context.Context, e hss.EIREntry) error {
	const op = "put eir entry"
	st := strconv.FormatUint(uint64(e.Status), 10)
	switch e.Kind {
	case hss.EIRByIMEI, hss.EIRByTAC:
		key := s.imei
		if e.Kind == hss.EIRByTAC {
			key = s.tac
		}
		if err := s.rdb.HSet(ctx, key, e.Value, st).Err(); err != nil {
			return mapErr(op, err)
		}
		return nil
	case hss.EIRByRange:
		if len(e.First) != hss.IMEILen || len(e.Last) != hss.IMEILen {
			return fmt.Errorf("redisstore: %s: range bounds must be %d digits: %w", op, hss.IMEILen, hss.ErrInvalidInput)
		}
		res, err := putRangeScript.Run(ctx, s.rdb, []string{s.rng, s.rstat}, e.First, e.Last, st).Result()
		if err != nil {
			return mapErr(op, err)
		}
		if other, ok := res.(string); ok {
			return fmt.Errorf("redisstore: %s: range:%s: %w", op, other, hss.ErrEIRRangeOverlap)
		}
		return nil
	}
	return fmt.Errorf("redisstore: %s: kind %q: %w", op, e.Kind, hss.ErrInvalidInput)
}

// DeleteEIREntry implements hss.EIRStore.
func (s *EIR) DeleteEIREntry(ctx context.Context, e hss.EIREntry) error {
	const op = "delete eir entry"
	var n int64
	var err error
	switch e.Kind {
	case hss.EIRByIMEI:
		n, err = s.rdb.HDel(ctx, s.imei, e.Value).Result()
	case hss.EIRByTAC:
		n, err = s.rdb.HDel(ctx, s.tac, e.Value).Result()
	case hss.EIRByRange:
		n, err = deleteRangeScript.Run(ctx, s.rdb, []string{s.rng, s.rstat}, e.First+"-"+e.Last).Int64()
	default:
		return fmt.Errorf("redisstore: %s: kind %q: %w", op, e.Kind, hss.ErrInvalidInput)
	}
	if err != nil {
		return mapErr(op, err)
	}
	if n == 0 {
		return fmt.Errorf("redisstore: %s: %w", op, hss.ErrUnknownEIREntry)
	}
	return nil
}

// ListEIREntries implements hss.EIRStore.
func (s *EIR) ListEIREntries(ctx context.Context) ([]hss.EIREntry, error) {
	const op = "list eir entries"
	pipe := s.rdb.Pipeline()
	imei := pipe.HGetAll(ctx, s.imei)
	tac := pipe.HGetAll(ctx, s.tac)
	rng := pipe.HGetAll(ctx, s.rstat)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, mapErr(op, err)
	}
	var out []hss.EIREntry
	for _, c := range []struct {
		kind hss.EIRKind
		m    map[string]string
	}{{hss.EIRByIMEI, imei.Val()}, {hss.EIRByTAC, tac.Val()}, {hss.EIRByRange, rng.Val()}} {
		for k, v := range c.m {
			st, err := parseStatus(v)
			if err != nil {
				return nil, fmt.Errorf("redisstore: %s: %s %s: %w", op, c.kind, k, err)
			}
			e := hss.EIREntry{Kind: c.kind, Value: k, Status: st}
			if c.kind == hss.EIRByRange {
				first, last, ok := strings.Cut(k, "-")
				if !ok {
					return nil, fmt.Errorf("redisstore: %s: malformed range %q", op, k)
				}
				e.Value, e.First, e.Last = "", first, last
			}
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b hss.EIREntry) int { return strings.Compare(a.Key(), b.Key()) })
	return out, nil
}

// MatchIMEI implements hss.EIRStore.
func (s *EIR) MatchIMEI(ctx context.Context, imei string) (hss.EIRMatches, error) {
	const op = "match imei"
	if len(imei) != hss.IMEILen {
		return hss.EIRMatches{}, fmt.Errorf("redisstore: %s: want %d digits: %w", op, hss.IMEILen, hss.ErrInvalidInput)
	}
	res, err := matchScript.Run(ctx, s.rdb, []string{s.imei, s.tac, s.rng, s.rstat}, imei, imei[:hss.TACLen]).StringSlice()
	if err != nil {
		return hss.EIRMatches{}, mapErr(op, err)
	}
	if len(res) != 4 {
		return hss.EIRMatches{}, fmt.Errorf("redisstore: %s: script returned %d values", op, len(res))
	}
	var m hss.EIRMatches
	if res[0] != "" {
		st, err := parseStatus(res[0])
		if err != nil {
			return hss.EIRMatches{}, fmt.Errorf("redisstore: %s: %w", op, err)
		}
		m.IMEI = &hss.EIREntry{Kind: hss.EIRByIMEI, Value: imei, Status: st}
	}
	if res[1] != "" {
		st, err := parseStatus(res[1])
		if err != nil {
			return hss.EIRMatches{}, fmt.Errorf("redisstore: %s: %w", op, err)
		}
		m.TAC = &hss.EIREntry{Kind: hss.EIRByTAC, Value: imei[:hss.TACLen], Status: st}
	}
	if res[2] != "" && res[3] != "" {
		st, err := parseStatus(res[3])
		if err != nil {
			return hss.EIRMatches{}, fmt.Errorf("redisstore: %s: %w", op, err)
		}
		first, last, _ := strings.Cut(res[2], "-")
		m.Range = &hss.EIREntry{Kind: hss.EIRByRange, First: first, Last: last, Status: st}
	}
	return m, nil
}

var errBadStatus = errors.New("stored equipment status is not 0, 1 or 2")

func parseStatus(v string) (hss.EquipmentStatus, error) {
	switch v {
	case "0", "1", "2":
		return hss.EquipmentStatus(v[0] - '0'), nil
	}
	return 0, errBadStatus
}
