package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rcmhss/rcmhss/hss"
)

// maxReserve bounds n in one reservation (the service caps AIRs far lower);
// IND is bounded by hss.MaxINDBits. Both match hss/memstore.
const (
	maxReserve = 4096
	// updateAttempts bounds the compare-and-set retries of UpdateSubscriber
	// and UpdateMMERegistration before they give up with hss.ErrConflict.
	updateAttempts = 16
)

// Store is hss.Store on Redis. It is safe for concurrent use.
type Store struct {
	rdb     redis.UniversalClient
	sealer  *hss.KeySealer
	prefix  string
	index   string
	cluster bool
	// seqJump is Config.FailoverSEQJump (0: no failover guard).
	seqJump uint64
	// claimTTL is Config.RequestClaimTTL in milliseconds (0: no claims).
	claimTTL int64
	// scripts runs the SQN reservation scripts: concurrent reservations
	// share pipelines (auto_pipeline.go).
	scripts *autoPipeline
}

var _ hss.Store = (*Store)(nil)

// New connects to Redis as cfg says and pings it. sealer seals K, OP and OPc;
// records written with another sealing mode are refused when read.
func New(ctx context.Context, cfg Config, sealer *hss.KeySealer) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if sealer == nil {
		return nil, fmt.Errorf("redisstore: new: nil KeySealer (use hss.NewPlaintextSealer for plaintext): %w", hss.ErrInvalidInput)
	}
	s := &Store{
		rdb:      cfg.client(),
		sealer:   sealer,
		prefix:   cfg.KeyPrefix,
		index:    cfg.KeyPrefix + "idx",
		cluster:  cfg.Cluster,
		seqJump:  cfg.FailoverSEQJump,
		claimTTL: cfg.RequestClaimTTL.Milliseconds(),
	}
	s.scripts = newAutoPipeline(s.rdb)
	if err := s.Ping(ctx); err != nil {
		_ = s.rdb.Close()
		return nil, err
	}
	return s, nil
}

// Ping implements hss.Store.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return mapErr("ping", err)
	}
	return nil
}

// Close releases the connections.
func (s *Store) Close() error { return s.rdb.Close() }

// keys are the Redis keys of one subscriber, in the order the scripts take them.
type keys struct{ sub, sqn, reg string }

func (s *Store) keysFor(imsi hss.IMSI) keys {
	return keys{sub: s.key("sub:", imsi), sqn: s.key("sqn:", imsi), reg: s.key("reg:", imsi)}
}

// key is <prefix><kind>{<imsi>}: the braces make the IMSI the Cluster hash tag.
func (s *Store) key(kind string, imsi hss.IMSI) string {
	return s.prefix + kind + "{" + string(imsi) + "}"
}

// withIndex appends the index key when it may share the script (not in a
// Cluster, where it lives in another slot).
func (s *Store) withIndex(k ...string) []string {
	if s.cluster {
		return k
	}
	return append(k, s.index)
}

func checkIMSI(op string, imsi hss.IMSI) error {
	if _, err := hss.ParseIMSI(string(imsi)); err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	return nil
}

// mapErr turns a go-redis error into a domain error: redis.Nil (scripts
// return nil for an unknown IMSI) is hss.ErrUnknownSubscriber; a Redis that
// cannot serve (connection, timeout, loading, failover in progress, closed
// client) is hss.ErrStoreUnavailable.
func mapErr(op string, err error) error {
	if errors.Is(err, redis.Nil) {
		return fmt.Errorf("redisstore: %s: %w", op, hss.ErrUnknownSubscriber)
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		msg := rerr.Error()
		switch {
		case strings.Contains(msg, "RCMHSS_SQN_EXHAUSTED"):
			// TS 33.102 C.3.1 wrap-around is not performed: the operator re-keys.
			return fmt.Errorf("redisstore: %s: sqn space exhausted: %w", op, hss.ErrAuthDataUnavailable)
		case strings.Contains(msg, "RCMHSS_CORRUPT"):
			// A record chunk missing from the subscriber's hash (scripts.go).
			return fmt.Errorf("redisstore: %s: %w: %s", op, errCorrupt, msg)
		case hasAnyPrefix(msg, "LOADING", "READONLY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "BUSY", "NOREPLICAS", "MOVED", "ASK"):
			return fmt.Errorf("redisstore: %s: %w: %w", op, hss.ErrStoreUnavailable, err)
		}
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	return fmt.Errorf("redisstore: %s: %w: %w", op, hss.ErrStoreUnavailable, err)
}

func hasAnyPrefix(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// CreateSubscriber implements hss.SubscriberStore.
func (s *Store) CreateSubscriber(ctx context.Context, sub *hss.Subscriber) error {
	const op = "create subscriber"
	if sub == nil {
		return fmt.Errorf("redisstore: %s: nil subscriber: %w", op, hss.ErrInvalidInput)
	}
	if err := sub.Validate(); err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	now := time.Now()
	c := *sub
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now
	}
	c.UpdatedAt = now
	k := s.keysFor(sub.IMSI)
	rec := encodeSubscriber(s.seal(&c), &c)
	created, err := createScript.Run(ctx, s.rdb, s.withIndex(k.sub, k.sqn, k.reg),
		rec, strconv.FormatUint(sub.SQN, 10), string(sub.IMSI)).Int()
	if err != nil {
		return mapErr(op, err)
	}
	if created == 0 {
		return fmt.Errorf("redisstore: %s: %w", op, hss.ErrSubscriberExists)
	}
	if s.cluster {
		if err := s.rdb.ZAdd(ctx, s.index, redis.Z{Member: string(sub.IMSI)}).Err(); err != nil {
			return mapErr(op+": index", err)
		}
	}
	return nil
}

func (s *Store) seal(sub *hss.Subscriber) sealedKeys {
	keys := sealedKeys{
		AMF: sub.AMF,
		K:   s.sealer.Seal(sub.IMSI, hss.FieldK, sub.K),
		OPc: s.sealer.Seal(sub.IMSI, hss.FieldOPc, sub.OPc),
	}
	if sub.OP != nil {
		keys.OP = s.sealer.Seal(sub.IMSI, hss.FieldOP, *sub.OP)
	}
	return keys
}

// load reads the record and SQN_HE of imsi in one round trip and returns the
// raw record too, for a later compare-and-set.
func (s *Store) load(ctx context.Context, op string, imsi hss.IMSI) (*hss.Subscriber, string, error) {
	if err := checkIMSI(op, imsi); err != nil {
		return nil, "", err
	}
	k := s.keysFor(imsi)
	vals, err := getScript.Run(ctx, s.rdb, []string{k.sub, k.sqn}).StringSlice()
	if err != nil {
		return nil, "", mapErr(op, err)
	}
	if len(vals) != 2 {
		return nil, "", fmt.Errorf("redisstore: %s: unexpected reply of %d values: %w", op, len(vals), errCorrupt)
	}
	sub, err := s.open(imsi, []byte(vals[0]))
	if err != nil {
		return nil, "", fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if sub.SQN, err = strconv.ParseUint(vals[1], 10, 64); err != nil {
		return nil, "", fmt.Errorf("redisstore: %s: sqn_he %q: %w", op, vals[1], errCorrupt)
	}
	return sub, vals[0], nil
}

// open decodes a record and opens its keys.
func (s *Store) open(imsi hss.IMSI, rec []byte) (*hss.Subscriber, error) {
	keys, sub, err := decodeSubscriber(rec)
	if err != nil {
		return nil, err
	}
	sub.IMSI = imsi
	if sub.K, err = s.sealer.Open(imsi, hss.FieldK, keys.K); err != nil {
		return nil, err
	}
	if sub.OPc, err = s.sealer.Open(imsi, hss.FieldOPc, keys.OPc); err != nil {
		return nil, err
	}
	if len(keys.OP) > 0 {
		op, err := s.sealer.Open(imsi, hss.FieldOP, keys.OP)
		if err != nil {
			return nil, err
		}
		sub.OP = &op
	}
	return sub, nil
}

// GetSubscriber implements hss.SubscriberStore.
func (s *Store) GetSubscriber(ctx context.Context, imsi hss.IMSI) (*hss.Subscriber, error) {
	sub, _, err := s.load(ctx, "get subscriber", imsi)
	return sub, err
}

// UpdateSubscriber implements hss.SubscriberStore: read, apply fn, then
// compare-and-set the record on the server; a concurrent writer makes it start
// over, at most updateAttempts times, then it returns hss.ErrConflict.
func (s *Store) UpdateSubscriber(ctx context.Context, imsi hss.IMSI, fn func(*hss.Subscriber) error) (*hss.Subscriber, error) {
	const op = "update subscriber"
	k := s.keysFor(imsi)
	for range updateAttempts {
		cur, raw, err := s.load(ctx, op, imsi)
		if err != nil {
			return nil, err
		}
		createdAt, sqnHE := cur.CreatedAt, cur.SQN
		if err := fn(cur); err != nil {
			return nil, fmt.Errorf("redisstore: %s: %w", op, err)
		}
		if cur.IMSI != imsi {
			return nil, fmt.Errorf("redisstore: %s: the imsi cannot be changed: %w", op, hss.ErrInvalidInput)
		}
		if err := cur.Validate(); err != nil {
			return nil, fmt.Errorf("redisstore: %s: %w", op, err)
		}
		cur.CreatedAt, cur.UpdatedAt, cur.SQN = createdAt, time.Now(), sqnHE
		rec := encodeSubscriber(s.seal(cur), cur)
		swapped, err := casScript.Run(ctx, s.rdb, []string{k.sub, k.sqn}, raw, rec).Int()
		if err != nil {
			return nil, mapErr(op, err)
		}
		if swapped == 1 {
			cur.CreatedAt, cur.UpdatedAt = stamp(cur.CreatedAt), stamp(cur.UpdatedAt)
			return cur, nil
		}
	}
	return nil, fmt.Errorf("redisstore: %s: %d attempts lost to concurrent writers: %w", op, updateAttempts, hss.ErrConflict)
}

// stamp is the time as decoded from a record (Unix nanoseconds, UTC).
func stamp(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return time.Unix(0, t.UnixNano()).UTC()
}

// DeleteSubscriber implements hss.SubscriberStore.
func (s *Store) DeleteSubscriber(ctx context.Context, imsi hss.IMSI) (hss.Registrations, error) {
	const op = "delete subscriber"
	if err := checkIMSI(op, imsi); err != nil {
		return hss.Registrations{}, err
	}
	k := s.keysFor(imsi)
	vals, err := deleteScript.Run(ctx, s.rdb, s.withIndex(k.sub, k.sqn, k.reg), string(imsi)).StringSlice()
	if s.cluster && (err == nil || errors.Is(err, redis.Nil)) {
		if zerr := s.rdb.ZRem(ctx, s.index, string(imsi)).Err(); zerr != nil {
			return hss.Registrations{}, mapErr(op+": index", zerr)
		}
	}
	if err != nil {
		return hss.Registrations{}, mapErr(op, err)
	}
	return decodeRegistrations(op, vals)
}

func decodeRegistrations(op string, vals []string) (hss.Registrations, error) {
	var regs hss.Registrations
	if len(vals) != 2 {
		return regs, fmt.Errorf("redisstore: %s: unexpected reply of %d values: %w", op, len(vals), errCorrupt)
	}
	var err error
	if vals[0] != "" {
		if regs.MME, err = decodeMME([]byte(vals[0])); err != nil {
			return hss.Registrations{}, fmt.Errorf("redisstore: %s: mme registration: %w", op, err)
		}
	}
	if vals[1] != "" {
		if regs.AAA, err = decodeAAA([]byte(vals[1])); err != nil {
			return hss.Registrations{}, fmt.Errorf("redisstore: %s: aaa registration: %w", op, err)
		}
	}
	return regs, nil
}

// ListSubscribers implements hss.SubscriberStore with ZRANGE BYLEX on the index.
func (s *Store) ListSubscribers(ctx context.Context, cursor string, limit int) ([]hss.IMSI, string, error) {
	const op = "list subscribers"
	if limit < 1 {
		return nil, "", fmt.Errorf("redisstore: %s: limit must be positive, got %d: %w", op, limit, hss.ErrInvalidInput)
	}
	start := "-"
	if cursor != "" {
		start = "(" + cursor
	}
	// One more than asked tells whether another page follows.
	members, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{
		Key: s.index, Start: start, Stop: "+", ByLex: true, Count: int64(limit) + 1,
	}).Result()
	if err != nil {
		return nil, "", mapErr(op, err)
	}
	next := ""
	if len(members) > limit {
		members = members[:limit]
		next = members[limit-1]
	}
	out := make([]hss.IMSI, len(members))
	for i, m := range members {
		out[i] = hss.IMSI(m)
	}
	return out, next, nil
}
