package memstore

import (
	"context"
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/rcm"
)

// Store is the in-process rcm.Store. The zero value is not usable; call New.
type Store struct {
	now func() time.Time

	mu       sync.Mutex
	profiles map[string]rcm.DeviceProfile
	imeis    map[string]bool // TAC||SNR of revoked IMEIs
	revIMEIs []rcm.IMEI
	serials  map[serialKey]bool
	revSer   []rcm.SerialRevocation
	crls     map[rcm.Fingerprint][][]byte
	bindings map[hss.IMSI]rcm.Binding
	replay   map[string]time.Time // key -> expiry
	counters map[string]counter
	audit    []rcm.AuditEntry
	sweepAt  int // sweep expired replay/rate entries when a map grows past this
}

type serialKey struct {
	issuer rcm.Fingerprint
	serial string // lowercase hex without leading zeros
}

type counter struct {
	n       int
	resetAt time.Time
}

var _ rcm.Store = (*Store)(nil)

// Option configures a Store.
type Option func(*Store)

// WithClock replaces time.Now for TTLs and windows.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// New returns an empty store.
func New(opts ...Option) *Store {
	s := &Store{
		now:      time.Now,
		profiles: map[string]rcm.DeviceProfile{},
		imeis:    map[string]bool{},
		serials:  map[serialKey]bool{},
		crls:     map[rcm.Fingerprint][][]byte{},
		bindings: map[hss.IMSI]rcm.Binding{},
		replay:   map[string]time.Time{},
		counters: map[string]counter{},
		sweepAt:  1024,
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func cloneProfile(p rcm.DeviceProfile) rcm.DeviceProfile {
	p.VendorCAs = cloneBytes(p.VendorCAs)
	p.Coverage.IMEIs = slices.Clone(p.Coverage.IMEIs)
	p.Coverage.IMEIRanges = slices.Clone(p.Coverage.IMEIRanges)
	p.Coverage.TACs = slices.Clone(p.Coverage.TACs)
	p.Coverage.DeviceClasses = slices.Clone(p.Coverage.DeviceClasses)
	return p
}

func cloneBytes(in [][]byte) [][]byte {
	if in == nil {
		return nil
	}
	out := make([][]byte, len(in))
	for i, b := range in {
		out[i] = slices.Clone(b)
	}
	return out
}

// CreateProfile implements rcm.Store.
func (s *Store) CreateProfile(_ context.Context, p rcm.DeviceProfile) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.profiles[p.ID]; ok {
		return fmt.Errorf("memstore: create profile %q: %w", p.ID, rcm.ErrProfileExists)
	}
	s.profiles[p.ID] = cloneProfile(p)
	return nil
}

// GetProfile implements rcm.Store.
func (s *Store) GetProfile(_ context.Context, id string) (rcm.DeviceProfile, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.profiles[id]
	if !ok {
		return rcm.DeviceProfile{}, fmt.Errorf("memstore: get profile %q: %w", id, rcm.ErrUnknownProfile)
	}
	return cloneProfile(p), nil
}

// UpdateProfile implements rcm.Store.
func (s *Store) UpdateProfile(_ context.Context, p rcm.DeviceProfile) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.profiles[p.ID]; !ok {
		return fmt.Errorf("memstore: update profile %q: %w", p.ID, rcm.ErrUnknownProfile)
	}
	s.profiles[p.ID] = cloneProfile(p)
	return nil
}

// DeleteProfile implements rcm.Store.
func (s *Store) DeleteProfile(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.profiles[id]; !ok {
		return fmt.Errorf("memstore: delete profile %q: %w", id, rcm.ErrUnknownProfile)
	}
	delete(s.profiles, id)
	return nil
}

// ListProfiles implements rcm.ProfileSource, in id order.
func (s *Store) ListProfiles(context.Context) ([]rcm.DeviceProfile, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]rcm.DeviceProfile, 0, len(s.profiles))
	for _, p := range s.profiles {
		out = append(out, cloneProfile(p))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// RevokeIMEI implements rcm.Store; the check digit plays no part.
func (s *Store) RevokeIMEI(_ context.Context, imei rcm.IMEI) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.imeis[imei.TACSNR()] {
		s.imeis[imei.TACSNR()] = true
		s.revIMEIs = append(s.revIMEIs, imei)
	}
	return nil
}

func normSerial(hexSerial string) string {
	s := strings.TrimLeft(strings.ToLower(hexSerial), "0")
	if s == "" {
		return "0"
	}
	return s
}

// RevokeSerial implements rcm.Store.
func (s *Store) RevokeSerial(_ context.Context, r rcm.SerialRevocation) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := serialKey{r.Issuer, normSerial(r.Serial)}
	if !s.serials[k] {
		s.serials[k] = true
		s.revSer = append(s.revSer, r)
	}
	return nil
}

// AddCRL implements rcm.Store.
func (s *Store) AddCRL(_ context.Context, issuer rcm.Fingerprint, der []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.crls[issuer] = append(s.crls[issuer], slices.Clone(der))
	return nil
}

// GetRevocations implements rcm.Store.
func (s *Store) GetRevocations(context.Context) (rcm.Revocations, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := rcm.Revocations{IMEIs: slices.Clone(s.revIMEIs), Serials: slices.Clone(s.revSer)}
	issuers := make([]rcm.Fingerprint, 0, len(s.crls))
	for f := range s.crls {
		issuers = append(issuers, f)
	}
	sort.Slice(issuers, func(i, j int) bool { return string(issuers[i][:]) < string(issuers[j][:]) })
	for _, f := range issuers {
		r.CRLs = append(r.CRLs, cloneBytes(s.crls[f])...)
	}
	return r, nil
}

// IMEIRevoked implements rcm.RevocationSource.
func (s *Store) IMEIRevoked(_ context.Context, imei rcm.IMEI) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.imeis[imei.TACSNR()], nil
}

// SerialRevoked implements rcm.RevocationSource.
func (s *Store) SerialRevoked(_ context.Context, issuer rcm.Fingerprint, serial *big.Int) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.serials[serialKey{issuer, normSerial(serial.Text(16))}], nil
}

// IssuerCRLs implements rcm.RevocationSource.
func (s *Store) IssuerCRLs(_ context.Context, issuer rcm.Fingerprint) ([][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneBytes(s.crls[issuer]), nil
}

// PutBinding implements rcm.Store. Bindings are kept until DeleteBinding, so
// that an expired one is still there for its CLR.
func (s *Store) PutBinding(_ context.Context, b rcm.Binding) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bindings[b.GuestIMSI] = b
	return nil
}

// GetBinding implements rcm.Store.
func (s *Store) GetBinding(_ context.Context, guest hss.IMSI) (rcm.Binding, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.bindings[guest]
	if !ok {
		return rcm.Binding{}, fmt.Errorf("memstore: get binding: %w", rcm.ErrNoBinding)
	}
	return b, nil
}

// DeleteBinding implements rcm.Store; deleting a missing binding is no error.
func (s *Store) DeleteBinding(_ context.Context, guest hss.IMSI) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.bindings, guest)
	return nil
}

// ExpiredBindings implements rcm.Store, earliest expiry first.
func (s *Store) ExpiredBindings(_ context.Context, now time.Time, limit int) ([]rcm.Binding, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []rcm.Binding
	for _, b := range s.bindings {
		if b.Expired(now) {
			out = append(out, b)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ExpiresAt.Before(out[j].ExpiresAt) })
	if limit >= 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Seen implements rcm.ReplayCache: a hit leaves the expiry as it was.
func (s *Store) Seen(_ context.Context, key string, ttl time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if exp, ok := s.replay[key]; ok && now.Before(exp) {
		return true, nil
	}
	s.replay[key] = now.Add(ttl)
	s.maybeSweep(now)
	return false, nil
}

// Allow implements rcm.RateLimiter with a fixed window per key that starts at
// the key's first attempt.
func (s *Store) Allow(_ context.Context, key string, limit int, window time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	c, ok := s.counters[key]
	if !ok || !now.Before(c.resetAt) {
		c = counter{resetAt: now.Add(window)}
	}
	c.n++
	s.counters[key] = c
	s.maybeSweep(now)
	return c.n <= limit, nil
}

// maybeSweep drops expired replay and rate entries once the maps have grown
// past sweepAt, then doubles the threshold relative to what is left, so the
// cost is amortised over the inserts.
func (s *Store) maybeSweep(now time.Time) {
	if len(s.replay)+len(s.counters) < s.sweepAt {
		return
	}
	for k, exp := range s.replay {
		if !now.Before(exp) {
			delete(s.replay, k)
		}
	}
	for k, c := range s.counters {
		if !now.Before(c.resetAt) {
			delete(s.counters, k)
		}
	}
	s.sweepAt = max(1024, 2*(len(s.replay)+len(s.counters)))
}

// AppendAudit implements rcm.Store.
func (s *Store) AppendAudit(_ context.Context, r rcm.AuditRecord) (rcm.AuditEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var prev *rcm.AuditEntry
	if n := len(s.audit); n > 0 {
		prev = &s.audit[n-1]
	}
	e := rcm.Chain(prev, r)
	s.audit = append(s.audit, e)
	return e, nil
}

// ListAudit implements rcm.Store.
func (s *Store) ListAudit(_ context.Context, after uint64, limit int) ([]rcm.AuditEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Seq n is at index n-1.
	if after >= uint64(len(s.audit)) || limit <= 0 {
		return nil, nil
	}
	end := min(uint64(len(s.audit)), after+uint64(limit))
	return slices.Clone(s.audit[after:end]), nil
}
