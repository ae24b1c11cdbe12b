package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rcmhss/rcmhss/hss"
	hssredis "github.com/rcmhss/rcmhss/hss/redisstore"
	"github.com/rcmhss/rcmhss/rcm"
)

// auditAttempts bounds the optimistic retries of one audit append; each
// failed attempt means another append succeeded, so only a flood of
// concurrent appends exhausts it.
const auditAttempts = 256

// Store is rcm.Store on Redis. It is safe for concurrent use.
type Store struct {
	rdb   redis.UniversalClient
	owned bool
	k     keys
	p     string
	// auditMu queues this process's audit appends: they all extend one
	// chain, so concurrent ones under WATCH would abort each other (16
	// devices provisioning at once made ~6 WATCH attempts per append);
	// WATCH still settles the races with other nodes.
	auditMu sync.Mutex
}

var _ rcm.Store = (*Store)(nil)

type keys struct {
	profiles, revIMEI, revSerial, crlIssuers, bindings, bindingExp, audit string
}

// New returns a Store on an existing client (so that the hss store and the rcm
// store can share one pool); prefix namespaces every key and may not contain
// braces. Close does not close rdb.
func New(rdb redis.UniversalClient, prefix string) (*Store, error) {
	if rdb == nil {
		return nil, fmt.Errorf("rcm redisstore: new: nil client: %w", hss.ErrInvalidInput)
	}
	if strings.ContainsAny(prefix, "{}") {
		return nil, fmt.Errorf("rcm redisstore: new: prefix must not contain '{' or '}': %w", hss.ErrInvalidInput)
	}
	t := prefix + "rcm:{rcm}:"
	return &Store{rdb: rdb, p: prefix, k: keys{
		profiles: t + "profiles", revIMEI: t + "rev:imei", revSerial: t + "rev:serial",
		crlIssuers: t + "crl:issuers", bindings: t + "bindings", bindingExp: t + "bindings:exp",
		audit: t + "audit",
	}}, nil
}

// Open connects to the Redis deployment cfg describes (the same configuration
// as the hss store), pings it and returns a Store that owns the client.
func Open(ctx context.Context, cfg hssredis.Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs: cfg.Addrs, MasterName: cfg.MasterName, Username: cfg.Username, Password: cfg.Password,
		DB: cfg.DB, IsClusterMode: cfg.Cluster, DialTimeout: cfg.DialTimeout, ReadTimeout: cfg.ReadTimeout,
		WriteTimeout: cfg.ReadTimeout, PoolSize: cfg.PoolSize,
	})
	s, err := New(rdb, cfg.KeyPrefix)
	if err != nil {
		_ = rdb.Close()
		return nil, err
	}
	s.owned = true
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, mapErr("ping", err)
	}
	return s, nil
}

// Close closes the client when Open made it.
func (s *Store) Close() error {
	if s.owned {
		return s.rdb.Close()
	}
	return nil
}

// mapErr wraps a backend failure as hss.ErrStoreUnavailable.
func mapErr(op string, err error) error {
	return fmt.Errorf("rcm redisstore: %s: %w: %v", op, hss.ErrStoreUnavailable, err)
}

func (s *Store) crlKey(issuer rcm.Fingerprint) string {
	return s.p + "rcm:{rcm}:crl:" + issuer.String()
}

// CreateProfile implements rcm.Store.
func (s *Store) CreateProfile(ctx context.Context, p rcm.DeviceProfile) error {
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("rcm redisstore: create profile: %w", err)
	}
	ok, err := s.rdb.HSetNX(ctx, s.k.profiles, p.ID, b).Result()
	if err != nil {
		return mapErr("create profile", err)
	}
	if !ok {
		return fmt.Errorf("rcm redisstore: create profile %q: %w", p.ID, rcm.ErrProfileExists)
	}
	return nil
}

// GetProfile implements rcm.Store.
func (s *Store) GetProfile(ctx context.Context, id string) (rcm.DeviceProfile, error) {
	b, err := s.rdb.HGet(ctx, s.k.profiles, id).Bytes()
	if errors.Is(err, redis.Nil) {
		return rcm.DeviceProfile{}, fmt.Errorf("rcm redisstore: get profile %q: %w", id, rcm.ErrUnknownProfile)
	}
	if err != nil {
		return rcm.DeviceProfile{}, mapErr("get profile", err)
	}
	var p rcm.DeviceProfile
	if err := json.Unmarshal(b, &p); err != nil {
		return rcm.DeviceProfile{}, fmt.Errorf("rcm redisstore: get profile %q: corrupt record: %w", id, err)
	}
	return p, nil
}

// hsetIfExists replaces a hash field only when it exists (1), else 0.
var hsetIfExists = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1`)

// UpdateProfile implements rcm.Store.
func (s *Store) UpdateProfile(ctx context.Context, p rcm.DeviceProfile) error {
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("rcm redisstore: update profile: %w", err)
	}
	n, err := hsetIfExists.Run(ctx, s.rdb, []string{s.k.profiles}, p.ID, b).Int()
	if err != nil {
		return mapErr("update profile", err)
	}
	if n == 0 {
		return fmt.Errorf("rcm redisstore: update profile %q: %w", p.ID, rcm.ErrUnknownProfile)
	}
	return nil
}

// DeleteProfile implements rcm.Store.
func (s *Store) DeleteProfile(ctx context.Context, id string) error {
	n, err := s.rdb.HDel(ctx, s.k.profiles, id).Result()
	if err != nil {
		return mapErr("delete profile", err)
	}
	if n == 0 {
		return fmt.Errorf("rcm redisstore: delete profile %q: %w", id, rcm.ErrUnknownProfile)
	}
	return nil
}

// ListProfiles implements rcm.ProfileSource, in id order.
func (s *Store) ListProfiles(ctx context.Context) ([]rcm.DeviceProfile, error) {
	m, err := s.rdb.HGetAll(ctx, s.k.profiles).Result()
	if err != nil {
		return nil, mapErr("list profiles", err)
	}
	out := make([]rcm.DeviceProfile, 0, len(m))
	for id, v := range m {
		var p rcm.DeviceProfile
		if err := json.Unmarshal([]byte(v), &p); err != nil {
			return nil, fmt.Errorf("rcm redisstore: list profiles: %q: corrupt record: %w", id, err)
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// RevokeIMEI implements rcm.Store; the field is TAC||SNR (the check digit plays
// no part), HSETNX keeps the first spelling.
func (s *Store) RevokeIMEI(ctx context.Context, imei rcm.IMEI) error {
	if err := s.rdb.HSetNX(ctx, s.k.revIMEI, imei.TACSNR(), string(imei)).Err(); err != nil {
		return mapErr("revoke imei", err)
	}
	return nil
}

func normSerial(hexSerial string) string {
	v := strings.TrimLeft(strings.ToLower(hexSerial), "0")
	if v == "" {
		return "0"
	}
	return v
}

func serialField(issuer rcm.Fingerprint, serial string) string {
	return issuer.String() + ":" + normSerial(serial)
}

// RevokeSerial implements rcm.Store.
func (s *Store) RevokeSerial(ctx context.Context, r rcm.SerialRevocation) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("rcm redisstore: revoke serial: %w", err)
	}
	if err := s.rdb.HSetNX(ctx, s.k.revSerial, serialField(r.Issuer, r.Serial), b).Err(); err != nil {
		return mapErr("revoke serial", err)
	}
	return nil
}

// AddCRL implements rcm.Store: one list per issuer plus the set of issuers,
// written together.
func (s *Store) AddCRL(ctx context.Context, issuer rcm.Fingerprint, der []byte) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.RPush(ctx, s.crlKey(issuer), der)
		p.SAdd(ctx, s.k.crlIssuers, issuer.String())
		return nil
	})
	if err != nil {
		return mapErr("add crl", err)
	}
	return nil
}

// GetRevocations implements rcm.Store, each list in a stable order.
func (s *Store) GetRevocations(ctx context.Context) (rcm.Revocations, error) {
	var r rcm.Revocations
	imeis, err := s.rdb.HGetAll(ctx, s.k.revIMEI).Result()
	if err != nil {
		return r, mapErr("get revocations", err)
	}
	for _, v := range imeis {
		r.IMEIs = append(r.IMEIs, rcm.IMEI(v))
	}
	sort.Slice(r.IMEIs, func(i, j int) bool { return r.IMEIs[i] < r.IMEIs[j] })
	serials, err := s.rdb.HGetAll(ctx, s.k.revSerial).Result()
	if err != nil {
		return r, mapErr("get revocations", err)
	}
	fields := make([]string, 0, len(serials))
	for f := range serials {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	for _, f := range fields {
		var sr rcm.SerialRevocation
		if err := json.Unmarshal([]byte(serials[f]), &sr); err != nil {
			return r, fmt.Errorf("rcm redisstore: get revocations: corrupt serial %q: %w", f, err)
		}
		r.Serials = append(r.Serials, sr)
	}
	issuers, err := s.rdb.SMembers(ctx, s.k.crlIssuers).Result()
	if err != nil {
		return r, mapErr("get revocations", err)
	}
	sort.Strings(issuers)
	for _, is := range issuers {
		var f rcm.Fingerprint
		if err := f.UnmarshalText([]byte(is)); err != nil {
			return r, fmt.Errorf("rcm redisstore: get revocations: corrupt issuer %q: %w", is, err)
		}
		crls, err := s.IssuerCRLs(ctx, f)
		if err != nil {
			return r, err
		}
		r.CRLs = append(r.CRLs, crls...)
	}
	return r, nil
}

// IMEIRevoked implements rcm.RevocationSource.
func (s *Store) IMEIRevoked(ctx context.Context, imei rcm.IMEI) (bool, error) {
	ok, err := s.rdb.HExists(ctx, s.k.revIMEI, imei.TACSNR()).Result()
	if err != nil {
		return false, mapErr("imei revoked", err)
	}
	return ok, nil
}

// SerialRevoked implements rcm.RevocationSource.
func (s *Store) SerialRevoked(ctx context.Context, issuer rcm.Fingerprint, serial *big.Int) (bool, error) {
	ok, err := s.rdb.HExists(ctx, s.k.revSerial, serialField(issuer, serial.Text(16))).Result()
	if err != nil {
		return false, mapErr("serial revoked", err)
	}
	return ok, nil
}

// IssuerCRLs implements rcm.RevocationSource.
func (s *Store) IssuerCRLs(ctx context.Context, issuer rcm.Fingerprint) ([][]byte, error) {
	vs, err := s.rdb.LRange(ctx, s.crlKey(issuer), 0, -1).Result()
	if err != nil {
		return nil, mapErr("issuer crls", err)
	}
	out := make([][]byte, len(vs))
	for i, v := range vs {
		out[i] = []byte(v)
	}
	return out, nil
}

// PutBinding implements rcm.Store: the record and its expiry score in one
// transaction. Bindings stay until DeleteBinding (no Redis TTL): an expired
// binding must still be found to send its CLR and to refuse ULRs.
func (s *Store) PutBinding(ctx context.Context, b rcm.Binding) error {
	v, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("rcm redisstore: put binding: %w", err)
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.k.bindings, string(b.GuestIMSI), v)
		p.ZAdd(ctx, s.k.bindingExp, redis.Z{Score: float64(b.ExpiresAt.UnixMilli()), Member: string(b.GuestIMSI)})
		return nil
	})
	if err != nil {
		return mapErr("put binding", err)
	}
	return nil
}

func decodeBinding(v string) (rcm.Binding, error) {
	var b rcm.Binding
	if err := json.Unmarshal([]byte(v), &b); err != nil {
		return b, fmt.Errorf("rcm redisstore: corrupt binding: %w", err)
	}
	return b, nil
}

// GetBinding implements rcm.Store.
func (s *Store) GetBinding(ctx context.Context, guest hss.IMSI) (rcm.Binding, error) {
	v, err := s.rdb.HGet(ctx, s.k.bindings, string(guest)).Result()
	if errors.Is(err, redis.Nil) {
		return rcm.Binding{}, fmt.Errorf("rcm redisstore: get binding: %w", rcm.ErrNoBinding)
	}
	if err != nil {
		return rcm.Binding{}, mapErr("get binding", err)
	}
	return decodeBinding(v)
}

// DeleteBinding implements rcm.Store; deleting a missing binding is no error.
func (s *Store) DeleteBinding(ctx context.Context, guest hss.IMSI) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HDel(ctx, s.k.bindings, string(guest))
		p.ZRem(ctx, s.k.bindingExp, string(guest))
		return nil
	})
	if err != nil {
		return mapErr("delete binding", err)
	}
	return nil
}

// ListBindings returns every binding in guest IMSI order (admin API).
func (s *Store) ListBindings(ctx context.Context) ([]rcm.Binding, error) {
	m, err := s.rdb.HGetAll(ctx, s.k.bindings).Result()
	if err != nil {
		return nil, mapErr("list bindings", err)
	}
	out := make([]rcm.Binding, 0, len(m))
	for _, v := range m {
		b, err := decodeBinding(v)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GuestIMSI < out[j].GuestIMSI })
	return out, nil
}

// ExpiredBindings implements rcm.Store, earliest expiry first.
func (s *Store) ExpiredBindings(ctx context.Context, now time.Time, limit int) ([]rcm.Binding, error) {
	if limit == 0 {
		return nil, nil
	}
	by := &redis.ZRangeBy{Min: "-inf", Max: strconv.FormatInt(now.UnixMilli(), 10)}
	if limit > 0 {
		by.Count = int64(limit)
	}
	imsis, err := s.rdb.ZRangeByScore(ctx, s.k.bindingExp, by).Result()
	if err != nil {
		return nil, mapErr("expired bindings", err)
	}
	if len(imsis) == 0 {
		return nil, nil
	}
	vs, err := s.rdb.HMGet(ctx, s.k.bindings, imsis...).Result()
	if err != nil {
		return nil, mapErr("expired bindings", err)
	}
	out := make([]rcm.Binding, 0, len(vs))
	for _, v := range vs {
		str, ok := v.(string)
		if !ok {
			continue // deleted between the two reads
		}
		b, err := decodeBinding(str)
		if err != nil {
			return nil, err
		}
		if b.Expired(now) {
			out = append(out, b)
		}
	}
	return out, nil
}

// Seen implements rcm.ReplayCache with SET NX PX: exactly one caller sets the
// key, and a hit leaves its TTL untouched.
func (s *Store) Seen(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	ok, err := s.rdb.SetNX(ctx, s.p+"rcm:replay:{"+key+"}", 1, ttl).Result()
	if err != nil {
		return false, mapErr("replay check", err)
	}
	return !ok, nil
}

// incrWindow counts an attempt and starts the fixed window on the first one.
var incrWindow = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 or redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`)

// Allow implements rcm.RateLimiter: a fixed window per key that starts at the
// key's first attempt.
func (s *Store) Allow(ctx context.Context, key string, limit int, window time.Duration) (bool, error) {
	ms := window.Milliseconds()
	if ms <= 0 {
		ms = 1
	}
	n, err := incrWindow.Run(ctx, s.rdb, []string{s.p + "rcm:rate:{" + key + "}"}, ms).Int64()
	if err != nil {
		return false, mapErr("rate limit", err)
	}
	return n <= int64(limit), nil
}

// AppendAudit implements rcm.Store: read the tail and push its successor under
// WATCH, so that a concurrent append by another node aborts this attempt
// (then retried on the new tail) instead of forking the chain.
func (s *Store) AppendAudit(ctx context.Context, r rcm.AuditRecord) (rcm.AuditEntry, error) {
	var e rcm.AuditEntry
	txf := func(tx *redis.Tx) error {
		var prev *rcm.AuditEntry
		tail, err := tx.LIndex(ctx, s.k.audit, -1).Result()
		switch {
		case errors.Is(err, redis.Nil):
		case err != nil:
			return err
		default:
			var p rcm.AuditEntry
			if err := json.Unmarshal([]byte(tail), &p); err != nil {
				return fmt.Errorf("corrupt audit tail: %w", err)
			}
			prev = &p
		}
		e = rcm.Chain(prev, r)
		v, err := json.Marshal(e)
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.RPush(ctx, s.k.audit, v)
			return nil
		})
		return err
	}
	s.auditMu.Lock()
	defer s.auditMu.Unlock()
	for range auditAttempts {
		err := s.rdb.Watch(ctx, txf, s.k.audit)
		if err == nil {
			return e, nil
		}
		if !errors.Is(err, redis.TxFailedErr) {
			return rcm.AuditEntry{}, mapErr("append audit", err)
		}
		if ctx.Err() != nil {
			return rcm.AuditEntry{}, mapErr("append audit", ctx.Err())
		}
	}
	return rcm.AuditEntry{}, mapErr("append audit", errors.New("too much contention"))
}

// ListAudit implements rcm.Store: entry Seq n is at list index n-1.
func (s *Store) ListAudit(ctx context.Context, after uint64, limit int) ([]rcm.AuditEntry, error) {
	if limit <= 0 {
		return nil, nil
	}
	vs, err := s.rdb.LRange(ctx, s.k.audit, int64(after), int64(after)+int64(limit)-1).Result()
	if err != nil {
		return nil, mapErr("list audit", err)
	}
	out := make([]rcm.AuditEntry, 0, len(vs))
	for _, v := range vs {
		var e rcm.AuditEntry
		if err := json.Unmarshal([]byte(v), &e); err != nil {
			return nil, fmt.Errorf("rcm redisstore: list audit: corrupt entry: %w", err)
		}
		out = append(out, e)
	}
	return out, nil
}
