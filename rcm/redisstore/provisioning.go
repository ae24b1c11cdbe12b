package redisstore

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/rcm"
)

// Provisioning is rcm.ProvisioningStore on Redis. Every key carries the hash
// tag {rcmprov}, so that the Lua scripts (pool allocation, session
// compare-and-set with its expiry index) touch one slot in a cluster.
//
// Layout, under prefix + "rcm:{rcmprov}:":
//
//	providers              hash id -> provider JSON (with OP, AMF, token hash)
//	offers:<provider>      hash id -> offer JSON
//	pool:<provider>:<kind>:cursor  lowest number never handed out
//	pool:<provider>:<kind>:free    zset of released numbers (score = value)
//	prereg                 hash TAC||SNR -> pre-registration JSON
//	sess:<id>              hash v -> version, d -> session JSON
//	sess:exp               zset id -> ExpiresAt (ms) of non-terminal sessions
//	sess:by:<provider>     set of session ids the provider was offered or chose
type Provisioning struct {
	rdb    redis.UniversalClient
	t      string
	sealer *hss.KeySealer
}

var _ rcm.ProvisioningStore = (*Provisioning)(nil)

// terminalSessionTTL is how long a finished session stays readable (for the
// device's retries and the provider's listing).
const terminalSessionTTL = 7 * 24 * time.Hour

// NewProvisioning returns the provisioning store on rdb; prefix as for New.
// sealer encrypts each provider's OP at rest as the hss stores do K and OPc
// (hss.NewKeySealer; hss.NewPlaintextSealer only in a lab).
func NewProvisioning(rdb redis.UniversalClient, prefix string, sealer *hss.KeySealer) (*Provisioning, error) {
	if rdb == nil || sealer == nil {
		return nil, fmt.Errorf("rcm redisstore: new provisioning: nil client or key sealer: %w", hss.ErrInvalidInput)
	}
	if strings.ContainsAny(prefix, "{}") {
		return nil, fmt.Errorf("rcm redisstore: new provisioning: prefix must not contain '{' or '}': %w", hss.ErrInvalidInput)
	}
	return &Provisioning{rdb: rdb, t: prefix + "rcm:{rcmprov}:", sealer: sealer}, nil
}

// providerRecord is the stored provider: Provider hides OP, AMF and the token
// hash from JSON so that no API can print them; the store must keep them, OP
// sealed (its AAD names the provider, so a sealed OP moved to another
// provider's record does not open).
type providerRecord struct {
	rcm.Provider
	SealedOP  []byte `json:"sealed_op"`
	AMF       string `json:"amf"`
	TokenHash string `json:"token_hash"`
}

func opAAD(id string) hss.IMSI { return hss.IMSI("provider:" + id) }

func (s *Provisioning) encodeProvider(p rcm.Provider) ([]byte, error) {
	return json.Marshal(providerRecord{Provider: p, SealedOP: s.sealer.Seal(opAAD(p.ID), hss.FieldOP, p.OP),
		AMF: hex.EncodeToString(p.AMF[:]), TokenHash: hex.EncodeToString(p.TokenHash[:])})
}

func (s *Provisioning) decodeProvider(b []byte) (rcm.Provider, error) {
	var r providerRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return rcm.Provider{}, fmt.Errorf("rcm redisstore: decode provider: %w", err)
	}
	p := r.Provider
	var err error
	if p.OP, err = s.sealer.Open(opAAD(p.ID), hss.FieldOP, r.SealedOP); err != nil {
		return rcm.Provider{}, fmt.Errorf("rcm redisstore: decode provider: op: %w", err)
	}
	amf, e1 := hex.DecodeString(r.AMF)
	th, e2 := hex.DecodeString(r.TokenHash)
	if e1 != nil || e2 != nil || len(amf) != 2 || len(th) != 32 {
		return rcm.Provider{}, errors.New("rcm redisstore: decode provider: bad amf or token hash")
	}
	copy(p.AMF[:], amf)
	copy(p.TokenHash[:], th)
	return p, nil
}

// CreateProvider implements rcm.ProvisioningStore.
func (s *Provisioning) CreateProvider(ctx context.Context, p rcm.Provider) error {
	b, err := s.encodeProvider(p)
	if err != nil {
		return err
	}
	ok, err := s.rdb.HSetNX(ctx, s.t+"providers", p.ID, b).Result()
	if err != nil {
		return mapErr("create provider", err)
	}
	if !ok {
		return fmt.Errorf("rcm redisstore: create provider %q: %w", p.ID, rcm.ErrProviderExists)
	}
	return nil
}

// GetProvider implements rcm.ProvisioningStore.
func (s *Provisioning) GetProvider(ctx context.Context, id string) (rcm.Provider, error) {
	b, err := s.rdb.HGet(ctx, s.t+"providers", id).Bytes()
	if errors.Is(err, redis.Nil) {
		return rcm.Provider{}, fmt.Errorf("rcm redisstore: get provider %q: %w", id, rcm.ErrUnknownProvider)
	}
	if err != nil {
		return rcm.Provider{}, mapErr("get provider", err)
	}
	return s.decodeProvider(b)
}

// updateProviderScript replaces a field only if it exists.
var updateIfExistsScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1`)

// UpdateProvider implements rcm.ProvisioningStore.
func (s *Provisioning) UpdateProvider(ctx context.Context, p rcm.Provider) error {
	b, err := s.encodeProvider(p)
	if err != nil {
		return err
	}
	n, err := updateIfExistsScript.Run(ctx, s.rdb, []string{s.t + "providers"}, p.ID, b).Int()
	if err != nil {
		return mapErr("update provider", err)
	}
	if n == 0 {
		return fmt.Errorf("rcm redisstore: update provider %q: %w", p.ID, rcm.ErrUnknownProvider)
	}
	return nil
}

// ListProviders implements rcm.ProvisioningStore.
func (s *Provisioning) ListProviders(ctx context.Context) ([]rcm.Provider, error) {
	m, err := s.rdb.HGetAll(ctx, s.t+"providers").Result()
	if err != nil {
		return nil, mapErr("list providers", err)
	}
	out := make([]rcm.Provider, 0, len(m))
	for _, v := range m {
		p, err := s.decodeProvider([]byte(v))
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (s *Provisioning) offersKey(providerID string) string { return s.t + "offers:" + providerID }

// PutOffer implements rcm.ProvisioningStore.
func (s *Provisioning) PutOffer(ctx context.Context, o rcm.Offer) error {
	ok, err := s.rdb.HExists(ctx, s.t+"providers", o.ProviderID).Result()
	if err != nil {
		return mapErr("put offer", err)
	}
	if !ok {
		return fmt.Errorf("rcm redisstore: put offer: %w", rcm.ErrUnknownProvider)
	}
	b, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("rcm redisstore: put offer: %w", err)
	}
	if err := s.rdb.HSet(ctx, s.offersKey(o.ProviderID), o.ID, b).Err(); err != nil {
		return mapErr("put offer", err)
	}
	return nil
}

// GetOffer implements rcm.ProvisioningStore.
func (s *Provisioning) GetOffer(ctx context.Context, providerID, id string) (rcm.Offer, error) {
	b, err := s.rdb.HGet(ctx, s.offersKey(providerID), id).Bytes()
	if errors.Is(err, redis.Nil) {
		return rcm.Offer{}, fmt.Errorf("rcm redisstore: get offer %q: %w", id, rcm.ErrUnknownOffer)
	}
	if err != nil {
		return rcm.Offer{}, mapErr("get offer", err)
	}
	var o rcm.Offer
	if err := json.Unmarshal(b, &o); err != nil {
		return rcm.Offer{}, fmt.Errorf("rcm redisstore: decode offer: %w", err)
	}
	return o, nil
}

// ListOffers implements rcm.ProvisioningStore.
func (s *Provisioning) ListOffers(ctx context.Context, providerID string) ([]rcm.Offer, error) {
	m, err := s.rdb.HGetAll(ctx, s.offersKey(providerID)).Result()
	if err != nil {
		return nil, mapErr("list offers", err)
	}
	out := make([]rcm.Offer, 0, len(m))
	for _, v := range m {
		var o rcm.Offer
		if err := json.Unmarshal([]byte(v), &o); err != nil {
			return nil, fmt.Errorf("rcm redisstore: decode offer: %w", err)
		}
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// DeleteOffer implements rcm.ProvisioningStore.
func (s *Provisioning) DeleteOffer(ctx context.Context, providerID, id string) error {
	n, err := s.rdb.HDel(ctx, s.offersKey(providerID), id).Result()
	if err != nil {
		return mapErr("delete offer", err)
	}
	if n == 0 {
		return fmt.Errorf("rcm redisstore: delete offer %q: %w", id, rcm.ErrUnknownOffer)
	}
	return nil
}

func (s *Provisioning) poolKeys(providerID string, kind rcm.PoolKind) []string {
	b := s.t + "pool:" + providerID + ":" + string(kind)
	return []string{b + ":cursor", b + ":free"}
}

// allocateScript: ARGV is (first, last, width) per range. Released numbers
// inside the ranges first (lowest), then the cursor. Numbers have at most 15
// digits, exact in Lua's doubles (< 2^53).
var allocateScript = redis.NewScript(`
local free = redis.call('ZRANGE', KEYS[2], 0, -1)
for _, n in ipairs(free) do
  local v = tonumber(n)
  for i = 1, #ARGV, 3 do
    if string.len(n) == tonumber(ARGV[i+2]) and v >= tonumber(ARGV[i]) and v <= tonumber(ARGV[i+1]) then
      redis.call('ZREM', KEYS[2], n)
      return n
    end
  end
end
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
for i = 1, #ARGV, 3 do
  local f, l = tonumber(ARGV[i]), tonumber(ARGV[i+1])
  local c = math.max(cur, f)
  if c <= l then
    redis.call('SET', KEYS[1], string.format('%.0f', c + 1))
    return string.format('%0' .. ARGV[i+2] .. '.0f', c)
  end
end
return false`)

// AllocateNumber implements rcm.ProvisioningStore.
func (s *Provisioning) AllocateNumber(ctx context.Context, providerID string, kind rcm.PoolKind, ranges []rcm.NumberRange) (string, error) {
	args := make([]any, 0, 3*len(ranges))
	for _, r := range ranges {
		f, e1 := strconv.ParseUint(r.First, 10, 64)
		l, e2 := strconv.ParseUint(r.Last, 10, 64)
		if e1 != nil || e2 != nil || len(r.First) != len(r.Last) || len(r.First) > 15 {
			continue // Provider.Validate refuses these
		}
		args = append(args, f, l, len(r.First))
	}
	n, err := allocateScript.Run(ctx, s.rdb, s.poolKeys(providerID, kind), args...).Text()
	if errors.Is(err, redis.Nil) {
		return "", fmt.Errorf("rcm redisstore: allocate %s: %w", kind, rcm.ErrPoolExhausted)
	}
	if err != nil {
		return "", mapErr("allocate "+string(kind), err)
	}
	return n, nil
}

// ReleaseNumber implements rcm.ProvisioningStore.
func (s *Provisioning) ReleaseNumber(ctx context.Context, providerID string, kind rcm.PoolKind, number string) error {
	v, err := strconv.ParseUint(number, 10, 64)
	if err != nil || len(number) > 15 {
		return fmt.Errorf("rcm redisstore: release %s: not a number: %w", kind, hss.ErrInvalidInput)
	}
	if err := s.rdb.ZAdd(ctx, s.poolKeys(providerID, kind)[1], redis.Z{Score: float64(v), Member: number}).Err(); err != nil {
		return mapErr("release "+string(kind), err)
	}
	return nil
}

// PutPreRegistration implements rcm.ProvisioningStore.
func (s *Provisioning) PutPreRegistration(ctx context.Context, r rcm.PreRegistration) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("rcm redisstore: put pre-registration: %w", err)
	}
	if err := s.rdb.HSet(ctx, s.t+"prereg", r.IMEI.TACSNR(), b).Err(); err != nil {
		return mapErr("put pre-registration", err)
	}
	return nil
}

// GetPreRegistration implements rcm.ProvisioningStore.
func (s *Provisioning) GetPreRegistration(ctx context.Context, imei rcm.IMEI) (rcm.PreRegistration, error) {
	b, err := s.rdb.HGet(ctx, s.t+"prereg", imei.TACSNR()).Bytes()
	if errors.Is(err, redis.Nil) {
		return rcm.PreRegistration{}, fmt.Errorf("rcm redisstore: get pre-registration: %w", rcm.ErrNoPreRegistration)
	}
	if err != nil {
		return rcm.PreRegistration{}, mapErr("get pre-registration", err)
	}
	var r rcm.PreRegistration
	if err := json.Unmarshal(b, &r); err != nil {
		return rcm.PreRegistration{}, fmt.Errorf("rcm redisstore: decode pre-registration: %w", err)
	}
	return r, nil
}

// DeletePreRegistration implements rcm.ProvisioningStore.
func (s *Provisioning) DeletePreRegistration(ctx context.Context, imei rcm.IMEI) error {
	n, err := s.rdb.HDel(ctx, s.t+"prereg", imei.TACSNR()).Result()
	if err != nil {
		return mapErr("delete pre-registration", err)
	}
	if n == 0 {
		return fmt.Errorf("rcm redisstore: delete pre-registration: %w", rcm.ErrNoPreRegistration)
	}
	return nil
}

// ListPreRegistrations implements rcm.ProvisioningStore.
func (s *Provisioning) ListPreRegistrations(ctx context.Context, providerID string) ([]rcm.PreRegistration, error) {
	m, err := s.rdb.HGetAll(ctx, s.t+"prereg").Result()
	if err != nil {
		return nil, mapErr("list pre-registrations", err)
	}
	var out []rcm.PreRegistration
	for _, v := range m {
		var r rcm.PreRegistration
		if err := json.Unmarshal([]byte(v), &r); err != nil {
			return nil, fmt.Errorf("rcm redisstore: decode pre-registration: %w", err)
		}
		if r.ProviderID == providerID {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].IMEI < out[j].IMEI })
	return out, nil
}

func (s *Provisioning) sessKey(id string) string { return s.t + "sess:" + id }

// sessionOwner is the provider whose index the session joins on this write.
func sessionOwner(x *rcm.Session) string {
	if x.ProviderID != "" {
		return x.ProviderID
	}
	if x.Current >= 0 && x.Current < len(x.Candidates) {
		return x.Candidates[x.Current].ProviderID
	}
	return ""
}

// writeSessionScript is the session compare-and-set. KEYS: session, expiry
// index, provider index (the session key again when none). ARGV: expected
// version ("0" to create), new version, JSON, terminal flag, expiry (ms), id,
// ttl of a terminal session (ms), "create" or "update". Returns the new version, -1 when absent,
// -2 on a version mismatch (or an existing id on create).
var writeSessionScript = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], 'v')
if ARGV[8] == 'create' then
  if v then return -2 end
else
  if not v then return -1 end
  if v ~= ARGV[1] then return -2 end
end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'd', ARGV[3])
if ARGV[4] == '1' then
  redis.call('ZREM', KEYS[2], ARGV[6])
  redis.call('PEXPIRE', KEYS[1], ARGV[7])
else
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[6])
end
if KEYS[3] ~= KEYS[1] then redis.call('SADD', KEYS[3], ARGV[6]) end
return tonumber(ARGV[2])`)

func (s *Provisioning) writeSession(ctx context.Context, x rcm.Session, expect uint64, mode string) (rcm.Session, error) {
	op := mode + " session"
	x.Version = expect + 1
	b, err := json.Marshal(x)
	if err != nil {
		return rcm.Session{}, fmt.Errorf("rcm redisstore: %s: %w", op, err)
	}
	byKey := s.sessKey(x.ID)
	if o := sessionOwner(&x); o != "" {
		byKey = s.t + "sess:by:" + o
	}
	terminal := "0"
	if x.State.Terminal() {
		terminal = "1"
	}
	n, err := writeSessionScript.Run(ctx, s.rdb, []string{s.sessKey(x.ID), s.t + "sess:exp", byKey},
		strconv.FormatUint(expect, 10), strconv.FormatUint(x.Version, 10), b, terminal, x.ExpiresAt.UnixMilli(), x.ID,
		terminalSessionTTL.Milliseconds(), mode).Int64()
	if err != nil {
		return rcm.Session{}, mapErr(op, err)
	}
	switch n {
	case -1:
		return rcm.Session{}, fmt.Errorf("rcm redisstore: %s: %w", op, rcm.ErrUnknownSession)
	case -2:
		return rcm.Session{}, fmt.Errorf("rcm redisstore: %s: %w", op, rcm.ErrSessionConflict)
	}
	return x, nil
}

// CreateSession implements rcm.ProvisioningStore.
func (s *Provisioning) CreateSession(ctx context.Context, x rcm.Session) error {
	_, err := s.writeSession(ctx, x, 0, "create")
	return err
}

// UpdateSession implements rcm.ProvisioningStore.
func (s *Provisioning) UpdateSession(ctx context.Context, x rcm.Session) (rcm.Session, error) {
	return s.writeSession(ctx, x, x.Version, "update")
}

func decodeSession(v, d string) (rcm.Session, error) {
	var x rcm.Session
	if err := json.Unmarshal([]byte(d), &x); err != nil {
		return rcm.Session{}, fmt.Errorf("rcm redisstore: decode session: %w", err)
	}
	ver, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return rcm.Session{}, fmt.Errorf("rcm redisstore: decode session version: %w", err)
	}
	x.Version = ver
	return x, nil
}

// GetSession implements rcm.ProvisioningStore.
func (s *Provisioning) GetSession(ctx context.Context, id string) (rcm.Session, error) {
	vals, err := s.rdb.HMGet(ctx, s.sessKey(id), "v", "d").Result()
	if err != nil {
		return rcm.Session{}, mapErr("get session", err)
	}
	v, ok1 := vals[0].(string)
	d, ok2 := vals[1].(string)
	if !ok1 || !ok2 {
		return rcm.Session{}, fmt.Errorf("rcm redisstore: get session: %w", rcm.ErrUnknownSession)
	}
	return decodeSession(v, d)
}

func (s *Provisioning) sessions(ctx context.Context, ids []string) ([]rcm.Session, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HMGet(ctx, s.sessKey(id), "v", "d")
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, mapErr("get sessions", err)
	}
	out := make([]rcm.Session, 0, len(ids))
	for _, c := range cmds {
		vals := c.Val()
		v, ok1 := vals[0].(string)
		d, ok2 := vals[1].(string)
		if !ok1 || !ok2 {
			continue // a finished session whose record expired
		}
		x, err := decodeSession(v, d)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}

// ExpiredSessions implements rcm.ProvisioningStore.
func (s *Provisioning) ExpiredSessions(ctx context.Context, now time.Time, limit int) ([]rcm.Session, error) {
	if limit <= 0 {
		limit = 100
	}
	ids, err := s.rdb.ZRangeByScore(ctx, s.t+"sess:exp", &redis.ZRangeBy{Min: "-inf", Max: strconv.FormatInt(now.UnixMilli(), 10),
		Count: int64(limit)}).Result()
	if err != nil {
		return nil, mapErr("expired sessions", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	ss, err := s.sessions(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := ss[:0]
	for _, x := range ss {
		if !x.State.Terminal() && !now.Before(x.ExpiresAt) {
			out = append(out, x)
		}
	}
	return out, nil
}

// ListSessions implements rcm.ProvisioningStore.
func (s *Provisioning) ListSessions(ctx context.Context, providerID string) ([]rcm.Session, error) {
	ids, err := s.rdb.SMembers(ctx, s.t+"sess:by:"+providerID).Result()
	if err != nil {
		return nil, mapErr("list sessions", err)
	}
	ss, err := s.sessions(ctx, ids)
	if err != nil {
		return nil, err
	}
	var out []rcm.Session
	for _, x := range ss {
		if x.Concerns(providerID) {
			out = append(out, x)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].CreatedAt.Before(out[j].CreatedAt) || out[i].CreatedAt.Equal(out[j].CreatedAt) && out[i].ID < out[j].ID
	})
	return out, nil
}
