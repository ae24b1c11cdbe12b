package memstore

import (
	"container/heap"
	"context"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rcmhss/rcmhss/hss"
)

const shardCount = 64

// Store is the in-process hss.Store. The zero value is not usable; call New.
type Store struct {
	sealer *hss.KeySealer
	seed   maphash.Seed
	closed atomic.Bool
	shards [shardCount]shard
}

type shard struct {
	mu   sync.Mutex
	subs map[hss.IMSI]*record
}

// record is one subscriber as held in memory: the profile without keys, the
// keys sealed, SQN state and registrations.
type record struct {
	sub        hss.Subscriber // K, OPc, OP zeroed; SQN unused
	k, opc, op []byte         // sealed; op nil when none
	sqnHE      uint64
	tick       uint64
	slots      map[string]indSlot
	mme        *hss.MMERegistration
	aaa        *hss.AAARegistration
}

// indSlot is the IND of one serving node and when it last reserved (tick).
type indSlot struct {
	ind  uint32
	tick uint64
}

var _ hss.Store = (*Store)(nil)

// New returns an empty store that keeps keys sealed by sealer. Use
// hss.NewPlaintextSealer for an explicit no-KEK lab setting; a nil sealer is a
// programming error.
func New(sealer *hss.KeySealer) *Store {
	if sealer == nil {
		panic("memstore: New with a nil KeySealer (use hss.NewPlaintextSealer for plaintext)")
	}
	s := &Store{sealer: sealer, seed: maphash.MakeSeed()}
	for i := range s.shards {
		s.shards[i].subs = make(map[hss.IMSI]*record)
	}
	return s
}

// lock validates imsi, locks its shard and returns it with the record (nil
// when absent). The caller unlocks.
func (s *Store) lock(op string, imsi hss.IMSI) (*shard, *record, error) {
	if s.closed.Load() {
		return nil, nil, fmt.Errorf("memstore: %s: closed: %w", op, hss.ErrStoreUnavailable)
	}
	if _, err := hss.ParseIMSI(string(imsi)); err != nil {
		return nil, nil, fmt.Errorf("memstore: %s: %w", op, err)
	}
	sh := &s.shards[maphash.String(s.seed, string(imsi))%shardCount]
	sh.mu.Lock()
	return sh, sh.subs[imsi], nil
}

// Ping reports whether the store is open.
func (s *Store) Ping(context.Context) error {
	if s.closed.Load() {
		return fmt.Errorf("memstore: ping: closed: %w", hss.ErrStoreUnavailable)
	}
	return nil
}

// Close makes every later call fail with hss.ErrStoreUnavailable.
func (s *Store) Close() error {
	s.closed.Store(true)
	return nil
}

// CreateSubscriber implements hss.SubscriberStore.
func (s *Store) CreateSubscriber(_ context.Context, sub *hss.Subscriber) error {
	if sub == nil {
		return fmt.Errorf("memstore: create subscriber: nil subscriber: %w", hss.ErrInvalidInput)
	}
	if err := sub.Validate(); err != nil {
		return fmt.Errorf("memstore: create subscriber: %w", err)
	}
	sh, rec, err := s.lock("create subscriber", sub.IMSI)
	if err != nil {
		return err
	}
	defer sh.mu.Unlock()
	if rec != nil {
		return fmt.Errorf("memstore: create subscriber: %w", hss.ErrSubscriberExists)
	}
	now := stamp(time.Now())
	rec = &record{sqnHE: sub.SQN}
	s.setProfile(rec, sub)
	if rec.sub.CreatedAt.IsZero() {
		rec.sub.CreatedAt = now
	}
	rec.sub.UpdatedAt = now
	sh.subs[sub.IMSI] = rec
	return nil
}

// setProfile stores a copy of sub in rec with its keys sealed.
func (s *Store) setProfile(rec *record, sub *hss.Subscriber) {
	c := cloneSubscriber(sub)
	rec.k = s.sealer.Seal(c.IMSI, hss.FieldK, c.K)
	rec.opc = s.sealer.Seal(c.IMSI, hss.FieldOPc, c.OPc)
	rec.op = nil
	if c.OP != nil {
		rec.op = s.sealer.Seal(c.IMSI, hss.FieldOP, *c.OP)
	}
	c.K, c.OPc, c.OP, c.SQN = hss.Key{}, hss.Key{}, nil, 0
	c.CreatedAt, c.UpdatedAt = stamp(c.CreatedAt), stamp(c.UpdatedAt)
	rec.sub = *c
}

// subscriber returns a copy of rec's subscriber with keys opened and SQN set
// to SQN_HE.
func (s *Store) subscriber(rec *record) (*hss.Subscriber, error) {
	c := cloneSubscriber(&rec.sub)
	var err error
	if c.K, err = s.sealer.Open(c.IMSI, hss.FieldK, rec.k); err != nil {
		return nil, err
	}
	if c.OPc, err = s.sealer.Open(c.IMSI, hss.FieldOPc, rec.opc); err != nil {
		return nil, err
	}
	if rec.op != nil {
		op, err := s.sealer.Open(c.IMSI, hss.FieldOP, rec.op)
		if err != nil {
			return nil, err
		}
		c.OP = &op
	}
	c.SQN = rec.sqnHE
	return c, nil
}

// GetSubscriber implements hss.SubscriberStore.
func (s *Store) GetSubscriber(_ context.Context, imsi hss.IMSI) (*hss.Subscriber, error) {
	sh, rec, err := s.lock("get subscriber", imsi)
	if err != nil {
		return nil, err
	}
	defer sh.mu.Unlock()
	if rec == nil {
		return nil, fmt.Errorf("memstore: get subscriber: %w", hss.ErrUnknownSubscriber)
	}
	sub, err := s.subscriber(rec)
	if err != nil {
		return nil, fmt.Errorf("memstore: get subscriber: %w", err)
	}
	return sub, nil
}

// UpdateSubscriber implements hss.SubscriberStore. fn runs once, under the
// subscriber's lock: it must not call the store.
func (s *Store) UpdateSubscriber(_ context.Context, imsi hss.IMSI, fn func(*hss.Subscriber) error) (*hss.Subscriber, error) {
	sh, rec, err := s.lock("update subscriber", imsi)
	if err != nil {
		return nil, err
	}
	defer sh.mu.Unlock()
	if rec == nil {
		return nil, fmt.Errorf("memstore: update subscriber: %w", hss.ErrUnknownSubscriber)
	}
	cur, err := s.subscriber(rec)
	if err != nil {
		return nil, fmt.Errorf("memstore: update subscriber: %w", err)
	}
	if err := fn(cur); err != nil {
		return nil, fmt.Errorf("memstore: update subscriber: %w", err)
	}
	if cur.IMSI != imsi {
		return nil, fmt.Errorf("memstore: update subscriber: the imsi cannot be changed: %w", hss.ErrInvalidInput)
	}
	if err := cur.Validate(); err != nil {
		return nil, fmt.Errorf("memstore: update subscriber: %w", err)
	}
	cur.CreatedAt = rec.sub.CreatedAt
	cur.UpdatedAt = time.Now()
	s.setProfile(rec, cur)
	out, err := s.subscriber(rec)
	if err != nil {
		return nil, fmt.Errorf("memstore: update subscriber: %w", err)
	}
	return out, nil
}

// DeleteSubscriber implements hss.SubscriberStore.
func (s *Store) DeleteSubscriber(_ context.Context, imsi hss.IMSI) (hss.Registrations, error) {
	sh, rec, err := s.lock("delete subscriber", imsi)
	if err != nil {
		return hss.Registrations{}, err
	}
	defer sh.mu.Unlock()
	if rec == nil {
		return hss.Registrations{}, fmt.Errorf("memstore: delete subscriber: %w", hss.ErrUnknownSubscriber)
	}
	delete(sh.subs, imsi)
	return hss.Registrations{MME: cloneMME(rec.mme), AAA: cloneAAA(rec.aaa)}, nil
}

// ListSubscribers implements hss.SubscriberStore. It walks every shard and
// keeps the limit+1 smallest IMSIs after cursor in a max-heap, so that a page
// costs O(N log limit) without sorting the whole population.
func (s *Store) ListSubscribers(_ context.Context, cursor string, limit int) ([]hss.IMSI, string, error) {
	if s.closed.Load() {
		return nil, "", fmt.Errorf("memstore: list subscribers: closed: %w", hss.ErrStoreUnavailable)
	}
	if limit < 1 {
		return nil, "", fmt.Errorf("memstore: list subscribers: limit must be positive, got %d: %w", limit, hss.ErrInvalidInput)
	}
	var h imsiHeap
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for imsi := range sh.subs {
			switch {
			case string(imsi) <= cursor:
			case h.Len() <= limit:
				heap.Push(&h, imsi)
			case imsi < h[0]:
				h[0] = imsi
				heap.Fix(&h, 0)
			}
		}
		sh.mu.Unlock()
	}
	page := []hss.IMSI(h)
	slices.Sort(page)
	if len(page) <= limit {
		return page, "", nil
	}
	page = page[:limit:limit]
	return page, string(page[limit-1]), nil
}

// imsiHeap is a max-heap of IMSIs (container/heap).
type imsiHeap []hss.IMSI

func (h imsiHeap) Len() int           { return len(h) }
func (h imsiHeap) Less(i, j int) bool { return h[i] > h[j] }
func (h imsiHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *imsiHeap) Push(x any)        { *h = append(*h, x.(hss.IMSI)) }
func (h *imsiHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// SetMMERegistration implements hss.LocationStore.
func (s *Store) SetMMERegistration(_ context.Context, imsi hss.IMSI, reg hss.MMERegistration) (*hss.MMERegistration, error) {
	sh, rec, err := s.lock("set mme registration", imsi)
	if err != nil {
		return nil, err
	}
	defer sh.mu.Unlock()
	if rec == nil {
		return nil, fmt.Errorf("memstore: set mme registration: %w", hss.ErrUnknownSubscriber)
	}
	prev := rec.mme
	rec.mme = cloneMME(&reg)
	return prev, nil
}

// UpdateMMERegistration implements hss.LocationStore. fn runs under the
// subscriber's lock: it must not call the store.
func (s *Store) UpdateMMERegistration(_ context.Context, imsi hss.IMSI, host string, fn func(*hss.MMERegistration)) (bool, error) {
	sh, rec, err := s.lock("update mme registration", imsi)
	if err != nil {
		return false, err
	}
	defer sh.mu.Unlock()
	if rec == nil {
		return false, fmt.Errorf("memstore: update mme registration: %w", hss.ErrUnknownSubscriber)
	}
	if rec.mme == nil || rec.mme.Host != host {
		return false, nil
	}
	reg := cloneMME(rec.mme)
	fn(reg)
	rec.mme = cloneMME(reg)
	return true, nil
}

// SetAAARegistration implements hss.LocationStore.
func (s *Store) SetAAARegistration(_ context.Context, imsi hss.IMSI, reg *hss.AAARegistration) (*hss.AAARegistration, error) {
	sh, rec, err := s.lock("set aaa registration", imsi)
	if err != nil {
		return nil, err
	}
	defer sh.mu.Unlock()
	if rec == nil {
		return nil, fmt.Errorf("memstore: set aaa registration: %w", hss.ErrUnknownSubscriber)
	}
	prev := rec.aaa
	rec.aaa = cloneAAA(reg)
	return prev, nil
}

// GetRegistrations implements hss.LocationStore.
func (s *Store) GetRegistrations(_ context.Context, imsi hss.IMSI) (hss.Registrations, error) {
	sh, rec, err := s.lock("get registrations", imsi)
	if err != nil {
		return hss.Registrations{}, err
	}
	defer sh.mu.Unlock()
	if rec == nil {
		return hss.Registrations{}, fmt.Errorf("memstore: get registrations: %w", hss.ErrUnknownSubscriber)
	}
	return hss.Registrations{MME: cloneMME(rec.mme), AAA: cloneAAA(rec.aaa)}, nil
}

// stamp drops the monotonic clock reading and sub-nanosecond detail and moves
// the time to UTC, so that what memstore returns equals what redisstore (which
// stores Unix nanoseconds) returns.
func stamp(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.Unix(0, t.UnixNano()).UTC()
}

func cloneSubscriber(s *hss.Subscriber) *hss.Subscriber {
	c := *s
	if s.OP != nil {
		op := *s.OP
		c.OP = &op
	}
	c.APNs = slices.Clone(s.APNs)
	c.AllowedVisitedPLMNs = slices.Clone(s.AllowedVisitedPLMNs)
	c.Non3GPP.APNContextIDs = slices.Clone(s.Non3GPP.APNContextIDs)
	return &c
}

func cloneMME(r *hss.MMERegistration) *hss.MMERegistration {
	if r == nil {
		return nil
	}
	c := *r
	c.UpdatedAt = stamp(c.UpdatedAt)
	return &c
}

func cloneAAA(r *hss.AAARegistration) *hss.AAARegistration {
	if r == nil {
		return nil
	}
	c := *r
	c.UpdatedAt = stamp(c.UpdatedAt)
	return &c
}
