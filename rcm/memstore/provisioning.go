package memstore

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/rcmhss/rcmhss/rcm"
)

// Provisioning is the in-process rcm.ProvisioningStore: providers, offers,
// number pools, pre-registrations and sessions, behind one mutex so that pool
// allocation and the session compare-and-set are atomic. Single node only.
type Provisioning struct {
	mu        sync.Mutex
	providers map[string]rcm.Provider
	offers    map[string]map[string]rcm.Offer // provider -> id -> offer
	pools     map[poolKey]*pool
	prereg    map[string]rcm.PreRegistration // TAC||SNR -> record
	sessions  map[string]rcm.Session
}

type poolKey struct {
	provider string
	kind     rcm.PoolKind
}

// pool is the allocation state: the cursor is the lowest number never handed
// out, free the numbers given back.
type pool struct {
	cursor uint64
	free   map[string]bool
}

var _ rcm.ProvisioningStore = (*Provisioning)(nil)

// NewProvisioning returns an empty provisioning store.
func NewProvisioning() *Provisioning {
	return &Provisioning{
		providers: map[string]rcm.Provider{},
		offers:    map[string]map[string]rcm.Offer{},
		pools:     map[poolKey]*pool{},
		prereg:    map[string]rcm.PreRegistration{},
		sessions:  map[string]rcm.Session{},
	}
}

func cloneProvider(p rcm.Provider) rcm.Provider {
	p.ProfileIDs = slices.Clone(p.ProfileIDs)
	p.IMSIPool = slices.Clone(p.IMSIPool)
	p.Template.APNs = slices.Clone(p.Template.APNs)
	p.Template.MSISDNPool = slices.Clone(p.Template.MSISDNPool)
	return p
}

func cloneOffer(o rcm.Offer) rcm.Offer {
	if o.ActivationCode != nil {
		c := *o.ActivationCode
		o.ActivationCode = &c
	}
	return o
}

func cloneSession(s rcm.Session) rcm.Session {
	s.HPKEKey = slices.Clone(s.HPKEKey)
	s.Candidates = slices.Clone(s.Candidates)
	s.Sealed = slices.Clone(s.Sealed)
	s.PendingK = slices.Clone(s.PendingK)
	s.PendingOPc = slices.Clone(s.PendingOPc)
	return s
}

// CreateProvider implements rcm.ProvisioningStore.
func (st *Provisioning) CreateProvider(_ context.Context, p rcm.Provider) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.providers[p.ID]; ok {
		return fmt.Errorf("memstore: create provider %q: %w", p.ID, rcm.ErrProviderExists)
	}
	st.providers[p.ID] = cloneProvider(p)
	return nil
}

// GetProvider implements rcm.ProvisioningStore.
func (st *Provisioning) GetProvider(_ context.Context, id string) (rcm.Provider, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	p, ok := st.providers[id]
	if !ok {
		return rcm.Provider{}, fmt.Errorf("memstore: get provider %q: %w", id, rcm.ErrUnknownProvider)
	}
	return cloneProvider(p), nil
}

// UpdateProvider implements rcm.ProvisioningStore.
func (st *Provisioning) UpdateProvider(_ context.Context, p rcm.Provider) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.providers[p.ID]; !ok {
		return fmt.Errorf("memstore: update provider %q: %w", p.ID, rcm.ErrUnknownProvider)
	}
	st.providers[p.ID] = cloneProvider(p)
	return nil
}

// ListProviders implements rcm.ProvisioningStore.
func (st *Provisioning) ListProviders(context.Context) ([]rcm.Provider, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]rcm.Provider, 0, len(st.providers))
	for _, p := range st.providers {
		out = append(out, cloneProvider(p))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// PutOffer implements rcm.ProvisioningStore.
func (st *Provisioning) PutOffer(_ context.Context, o rcm.Offer) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.providers[o.ProviderID]; !ok {
		return fmt.Errorf("memstore: put offer: %w", rcm.ErrUnknownProvider)
	}
	m := st.offers[o.ProviderID]
	if m == nil {
		m = map[string]rcm.Offer{}
		st.offers[o.ProviderID] = m
	}
	m[o.ID] = cloneOffer(o)
	return nil
}

// GetOffer implements rcm.ProvisioningStore.
func (st *Provisioning) GetOffer(_ context.Context, providerID, id string) (rcm.Offer, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	o, ok := st.offers[providerID][id]
	if !ok {
		return rcm.Offer{}, fmt.Errorf("memstore: get offer %q: %w", id, rcm.ErrUnknownOffer)
	}
	return cloneOffer(o), nil
}

// ListOffers implements rcm.ProvisioningStore.
func (st *Provisioning) ListOffers(_ context.Context, providerID string) ([]rcm.Offer, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]rcm.Offer, 0, len(st.offers[providerID]))
	for _, o := range st.offers[providerID] {
		out = append(out, cloneOffer(o))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// DeleteOffer implements rcm.ProvisioningStore.
func (st *Provisioning) DeleteOffer(_ context.Context, providerID, id string) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.offers[providerID][id]; !ok {
		return fmt.Errorf("memstore: delete offer %q: %w", id, rcm.ErrUnknownOffer)
	}
	delete(st.offers[providerID], id)
	return nil
}

// AllocateNumber implements rcm.ProvisioningStore.
func (st *Provisioning) AllocateNumber(_ context.Context, providerID string, kind rcm.PoolKind, ranges []rcm.NumberRange) (string, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	k := poolKey{providerID, kind}
	pl := st.pools[k]
	if pl == nil {
		pl = &pool{free: map[string]bool{}}
		st.pools[k] = pl
	}
	// Lowest released number still inside the ranges first (deterministic).
	var best string
	for n := range pl.free {
		if inRanges(ranges, n) && (best == "" || n < best) {
			best = n
		}
	}
	if best != "" {
		delete(pl.free, best)
		return best, nil
	}
	n, v, ok := rcm.NextInRanges(ranges, pl.cursor)
	if !ok {
		return "", fmt.Errorf("memstore: allocate %s: %w", kind, rcm.ErrPoolExhausted)
	}
	pl.cursor = v + 1
	return n, nil
}

func inRanges(ranges []rcm.NumberRange, n string) bool {
	for _, r := range ranges {
		if r.Contains(n) {
			return true
		}
	}
	return false
}

// ReleaseNumber implements rcm.ProvisioningStore.
func (st *Provisioning) ReleaseNumber(_ context.Context, providerID string, kind rcm.PoolKind, number string) error {
	if _, err := strconv.ParseUint(number, 10, 64); err != nil {
		return fmt.Errorf("memstore: release %s: not a number", kind)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	k := poolKey{providerID, kind}
	pl := st.pools[k]
	if pl == nil {
		pl = &pool{free: map[string]bool{}}
		st.pools[k] = pl
	}
	pl.free[number] = true
	return nil
}

// PutPreRegistration implements rcm.ProvisioningStore.
func (st *Provisioning) PutPreRegistration(_ context.Context, r rcm.PreRegistration) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.prereg[r.IMEI.TACSNR()] = r
	return nil
}

// GetPreRegistration implements rcm.ProvisioningStore.
func (st *Provisioning) GetPreRegistration(_ context.Context, imei rcm.IMEI) (rcm.PreRegistration, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	r, ok := st.prereg[imei.TACSNR()]
	if !ok {
		return rcm.PreRegistration{}, fmt.Errorf("memstore: get pre-registration: %w", rcm.ErrNoPreRegistration)
	}
	return r, nil
}

// DeletePreRegistration implements rcm.ProvisioningStore.
func (st *Provisioning) DeletePreRegistration(_ context.Context, imei rcm.IMEI) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.prereg[imei.TACSNR()]; !ok {
		return fmt.Errorf("memstore: delete pre-registration: %w", rcm.ErrNoPreRegistration)
	}
	delete(st.prereg, imei.TACSNR())
	return nil
}

// ListPreRegistrations implements rcm.ProvisioningStore.
func (st *Provisioning) ListPreRegistrations(_ context.Context, providerID string) ([]rcm.PreRegistration, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	var out []rcm.PreRegistration
	for _, r := range st.prereg {
		if r.ProviderID == providerID {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].IMEI < out[j].IMEI })
	return out, nil
}

// CreateSession implements rcm.ProvisioningStore.
func (st *Provisioning) CreateSession(_ context.Context, s rcm.Session) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.sessions[s.ID]; ok {
		return fmt.Errorf("memstore: create session: %w", rcm.ErrSessionConflict)
	}
	s.Version = 1
	st.sessions[s.ID] = cloneSession(s)
	return nil
}

// GetSession implements rcm.ProvisioningStore.
func (st *Provisioning) GetSession(_ context.Context, id string) (rcm.Session, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	s, ok := st.sessions[id]
	if !ok {
		return rcm.Session{}, fmt.Errorf("memstore: get session: %w", rcm.ErrUnknownSession)
	}
	return cloneSession(s), nil
}

// UpdateSession implements rcm.ProvisioningStore.
func (st *Provisioning) UpdateSession(_ context.Context, s rcm.Session) (rcm.Session, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	cur, ok := st.sessions[s.ID]
	if !ok {
		return rcm.Session{}, fmt.Errorf("memstore: update session: %w", rcm.ErrUnknownSession)
	}
	if cur.Version != s.Version {
		return rcm.Session{}, fmt.Errorf("memstore: update session: %w", rcm.ErrSessionConflict)
	}
	s.Version++
	st.sessions[s.ID] = cloneSession(s)
	return cloneSession(s), nil
}

// ExpiredSessions implements rcm.ProvisioningStore.
func (st *Provisioning) ExpiredSessions(_ context.Context, now time.Time, limit int) ([]rcm.Session, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	var out []rcm.Session
	for _, s := range st.sessions {
		if !s.State.Terminal() && !now.Before(s.ExpiresAt) {
			out = append(out, cloneSession(s))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ExpiresAt.Before(out[j].ExpiresAt) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// ListSessions implements rcm.ProvisioningStore.
func (st *Provisioning) ListSessions(_ context.Context, providerID string) ([]rcm.Session, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	var out []rcm.Session
	for _, s := range st.sessions {
		if s.Concerns(providerID) {
			out = append(out, cloneSession(s))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].CreatedAt.Before(out[j].CreatedAt) || out[i].CreatedAt.Equal(out[j].CreatedAt) && out[i].ID < out[j].ID
	})
	return out, nil
}
