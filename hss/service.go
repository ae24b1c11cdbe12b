package hss

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"
)

// HSS is the Home Subscriber Server service: authentication vectors (S6a AIR,
// SWx MAR), location management (ULR, PUR, NOR) and provisioning. It keeps no
// per-subscriber state of its own, so any number of HSS values on any number of
// nodes can serve the same Store.
type HSS struct {
	cfg       Config
	store     Store
	rand      io.Reader
	now       func() time.Time
	log       *slog.Logger
	homePLMNs []PLMN

	mu        sync.RWMutex
	observers []SubscriberObserver
}

// New validates cfg (after WithDefaults) and returns the service.
func New(cfg Config, store Store, opts ...Option) (*HSS, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("hss: config: %w", err)
	}
	if store == nil {
		return nil, fmt.Errorf("hss: new: store is required: %w", ErrInvalidInput)
	}
	h := &HSS{cfg: cfg, store: store, rand: rand.Reader, now: time.Now, log: slog.New(slog.DiscardHandler)}
	for _, p := range cfg.HomePLMNs {
		plmn, _ := PLMNFromString(p) // validated above
		h.homePLMNs = append(h.homePLMNs, plmn)
	}
	for _, o := range opts {
		o(h)
	}
	if h.rand == nil || h.now == nil || h.log == nil {
		return nil, fmt.Errorf("hss: new: nil rand, clock or logger option: %w", ErrInvalidInput)
	}
	return h, nil
}

// Config returns the effective configuration (defaults applied).
func (h *HSS) Config() Config { return h.cfg }

// AddObserver registers o to be told about subscriber updates and deletions.
func (h *HSS) AddObserver(o SubscriberObserver) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.observers = append(h.observers, o)
}

func (h *HSS) observersSnapshot() []SubscriberObserver {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return append([]SubscriberObserver(nil), h.observers...)
}

// clampCount caps a requested vector count at MaxVectors; negative counts are 0.
func (h *HSS) clampCount(n int) int {
	return max(0, min(n, h.cfg.MaxVectors))
}

// AuthenticationInfo answers an AIR (TS 29.272 5.2.3.1.3). Every vector of the
// request comes from one Store.ReserveSQN round trip and has its own SQN; the
// roaming check costs an extra subscriber read only when the visited PLMN is
// not the home PLMN. With Resync set, AUTS is verified first (a bad MAC-S
// wraps ErrResyncFailed and leaves the store untouched) and SQN_HE is
// resynchronised per TS 33.102 6.3.5 / C.3 in the same round trip that reserves
// the new vectors.
func (h *HSS) AuthenticationInfo(ctx context.Context, req AuthInfoRequest) (AuthInfo, error) {
	const op = "hss: authentication info: %w"
	if _, err := ParseIMSI(string(req.IMSI)); err != nil {
		return AuthInfo{}, fmt.Errorf(op, err)
	}
	if req.ServingNode == "" {
		return AuthInfo{}, fmt.Errorf(op, invalid("serving_node", "is required (it selects the IND slot)"))
	}
	if _, ok := plmnDigits(req.VisitedPLMN); !ok {
		return AuthInfo{}, fmt.Errorf(op, invalid("visited_plmn", "is not a valid PLMN identity"))
	}
	e, u, g := h.clampCount(req.EUTRAN), h.clampCount(req.UTRAN), h.clampCount(req.GERAN)
	if e+u+g == 0 {
		// TS 29.272 5.2.3.1.3 lets the HSS choose; an MME asks for E-UTRAN.
		e = 1
	}
	n := e + u + g

	var sub *Subscriber
	if !h.isHome(req.IMSI, req.VisitedPLMN) {
		s, err := h.store.GetSubscriber(ctx, req.IMSI)
		if err != nil {
			return AuthInfo{}, fmt.Errorf(op, err)
		}
		if !roamingAllowed(s, req.VisitedPLMN) {
			return AuthInfo{}, fmt.Errorf(op, ErrRoamingNotAllowed)
		}
		sub = s
	}
	res, err := h.reserve(ctx, req.IMSI, req.ServingNode, req.Resync, sub, n)
	if err != nil {
		return AuthInfo{}, fmt.Errorf(op, err)
	}

	// One allocation backs the RANDs and every XRES of the answer.
	rands, err := h.rands(n, resLen*(e+u))
	if err != nil {
		return AuthInfo{}, fmt.Errorf(op, err)
	}
	xres := rands[16*n:]
	indBits := h.cfg.SQN.INDBits
	m := NewMilenage(res.Material.K, res.Material.OPc)
	amf := res.Material.AMF
	out := AuthInfo{}
	seq := res.FirstSEQ
	next := func() ([16]byte, uint64) {
		var r [16]byte
		copy(r[:], rands)
		rands = rands[16:]
		sqn := ComposeSQN(seq, res.IND, indBits)
		seq++
		return r, sqn
	}
	if e > 0 {
		out.EUTRAN = make([]EUTRANVector, e)
		for i := range out.EUTRAN {
			r, sqn := next()
			m.eutranInto(&out.EUTRAN[i], r, sqn, amf, req.VisitedPLMN, xres[:resLen])
			xres = xres[resLen:]
		}
	}
	if u > 0 {
		out.UTRAN = make([]UTRANVector, u)
		for i := range out.UTRAN {
			r, sqn := next()
			m.utranInto(&out.UTRAN[i], r, sqn, amf, xres[:resLen])
			xres = xres[resLen:]
		}
	}
	if g > 0 {
		out.GERAN = make([]GERANVector, g)
		for i := range out.GERAN {
			r, sqn := next()
			out.GERAN[i] = m.GERANVector(r, sqn, amf)
		}
	}
	return out, nil
}

// EAPAKAVectors answers the authentication part of a SWx MAR (TS 29.273
// 8.1.2.1) with N (capped at MaxVectors, at least 1) EAP-AKA or EAP-AKA'
// vectors from one SQN reservation.
func (h *HSS) EAPAKAVectors(ctx context.Context, req EAPVectorRequest) ([]EAPVector, error) {
	const op = "hss: eap-aka vectors: %w"
	if _, err := ParseIMSI(string(req.IMSI)); err != nil {
		return nil, fmt.Errorf(op, err)
	}
	if req.ServingNode == "" {
		return nil, fmt.Errorf(op, invalid("serving_node", "is required (it selects the IND slot)"))
	}
	if req.Prime && (req.AccessNetworkID == "" || len(req.AccessNetworkID) > maxKDFParam) {
		return nil, fmt.Errorf(op, invalid("access_network_id", "EAP-AKA' needs an access network identity of 1..65535 octets"))
	}
	n := max(1, h.clampCount(req.N))
	res, err := h.reserve(ctx, req.IMSI, req.ServingNode, req.Resync, nil, n)
	if err != nil {
		return nil, fmt.Errorf(op, err)
	}
	rands, err := h.rands(n, resLen*n)
	if err != nil {
		return nil, fmt.Errorf(op, err)
	}
	xres := rands[16*n:]
	m := NewMilenage(res.Material.K, res.Material.OPc)
	out := make([]EAPVector, n)
	for i := range out {
		var r [16]byte
		copy(r[:], rands[16*i:])
		sqn := ComposeSQN(res.FirstSEQ+uint64(i), res.IND, h.cfg.SQN.INDBits)
		if err := m.eapInto(&out[i], r, sqn, res.Material.AMF, req.Prime, req.AccessNetworkID, xres[resLen*i:resLen*(i+1)]); err != nil {
			return nil, fmt.Errorf(op, err)
		}
	}
	return out, nil
}

// reserve obtains n SEQs and the key material in one store round trip. With a
// resync it first verifies AUTS against the subscriber's keys (sub when the
// caller already read it) and only then lets the store apply TS 33.102 C.3.
func (h *HSS) reserve(ctx context.Context, imsi IMSI, node string, rs *Resync, sub *Subscriber, n int) (SQNReservation, error) {
	indBits := h.cfg.SQN.INDBits
	if rs == nil {
		return h.store.ReserveSQN(ctx, imsi, node, n, indBits)
	}
	if sub == nil {
		s, err := h.store.GetSubscriber(ctx, imsi)
		if err != nil {
			return SQNReservation{}, err
		}
		sub = s
	}
	sqnMS, err := NewMilenage(sub.K, sub.OPc).VerifyAUTS(rs.RAND, rs.AUTS)
	if err != nil {
		h.log.WarnContext(ctx, "auts rejected: mac-s mismatch", "imsi", imsi, "serving_node", node)
		return SQNReservation{}, err
	}
	seqMS, _ := SplitSQN(sqnMS, indBits)
	r, err := h.store.ResyncSQN(ctx, imsi, node, seqMS, h.cfg.SQN.Delta, n, indBits)
	if err != nil {
		return SQNReservation{}, err
	}
	h.log.InfoContext(ctx, "sqn resynchronised", "imsi", imsi, "serving_node", node)
	return r, nil
}

// rands draws n RANDs with one read into a buffer with extra octets spare at
// its end.
func (h *HSS) rands(n, extra int) ([]byte, error) {
	b := make([]byte, 16*n+extra)
	if _, err := io.ReadFull(h.rand, b[:16*n]); err != nil {
		return nil, fmt.Errorf("rand: %v: %w", err, ErrAuthDataUnavailable)
	}
	return b, nil
}

// plmnDigits returns the MCC+MNC digits of p ("00101" or "310410" as octets)
// without allocating, and whether p is a valid PLMN identity.
func plmnDigits(p PLMN) (d [6]byte, ok bool) {
	nib := [6]byte{p[0] & 0xf, p[0] >> 4, p[1] & 0xf, p[2] & 0xf, p[2] >> 4, p[1] >> 4}
	for i, n := range nib {
		switch {
		case n <= 9:
			d[i] = '0' + n
		case i == 5 && n == 0xf:
			d[i] = 0 // 2-digit MNC
		default:
			return d, false
		}
	}
	return d, true
}

// isHome reports whether visited is the subscriber's home PLMN: one of the
// configured HomePLMNs or, with none configured, the MCC+MNC at the start of
// the IMSI (TS 23.003 2.2; the MNC length is taken from the visited PLMN).
func (h *HSS) isHome(imsi IMSI, visited PLMN) bool {
	if len(h.homePLMNs) > 0 {
		for _, p := range h.homePLMNs {
			if p == visited {
				return true
			}
		}
		return false
	}
	d, ok := plmnDigits(visited)
	if !ok {
		return false
	}
	n := 6
	if d[5] == 0 {
		n = 5
	}
	return len(imsi) >= n && string(imsi[:n]) == string(d[:n])
}

// roamingAllowed applies the subscriber's roaming restriction to a foreign PLMN.
func roamingAllowed(s *Subscriber, visited PLMN) bool {
	if !s.RoamingAllowed {
		return false
	}
	if len(s.AllowedVisitedPLMNs) == 0 {
		return true
	}
	for _, p := range s.AllowedVisitedPLMNs {
		if p == visited {
			return true
		}
	}
	return false
}

// ratRestriction maps a RAT type to the Access-Restriction-Data bit that bars
// it (TS 29.272 7.3.31, checked on ULR per 5.2.1.1.3).
func ratRestriction(rat RATType) AccessRestriction {
	switch rat {
	case RATEUTRAN:
		return EUTRANNotAllowed
	case RATUTRAN:
		return UTRANNotAllowed
	case RATGERAN:
		return GERANNotAllowed
	case RATGAN:
		return GANNotAllowed
	case RATHSPAEvo:
		return IHSPAENotAllowed
	case RATEUTRANNBIoT:
		return NBIoTNotAllowed
	}
	return 0
}

// UpdateLocation answers an ULR, checking in the order of TS 29.272 5.2.1.1.3:
// the subscriber is known, has an EPS subscription (at least one APN), the RAT
// is not barred by Access-Restriction-Data and the visited PLMN is allowed.
// The MME is then recorded; the previous MME is returned for a CLR when it
// differs and has not purged.
func (h *HSS) UpdateLocation(ctx context.Context, req UpdateLocationRequest) (UpdateLocationResult, error) {
	const op = "hss: update location: %w"
	if _, err := ParseIMSI(string(req.IMSI)); err != nil {
		return UpdateLocationResult{}, fmt.Errorf(op, err)
	}
	if req.Host == "" {
		return UpdateLocationResult{}, fmt.Errorf(op, invalid("host", "is required"))
	}
	if _, ok := plmnDigits(req.VisitedPLMN); !ok {
		return UpdateLocationResult{}, fmt.Errorf(op, invalid("visited_plmn", "is not a valid PLMN identity"))
	}
	sub, err := h.store.GetSubscriber(ctx, req.IMSI)
	if err != nil {
		return UpdateLocationResult{}, fmt.Errorf(op, err)
	}
	if len(sub.APNs) == 0 {
		return UpdateLocationResult{}, fmt.Errorf(op, ErrUnknownEPSSubscription)
	}
	if bit := ratRestriction(req.RATType); bit != 0 && sub.AccessRestriction&bit != 0 {
		return UpdateLocationResult{}, fmt.Errorf(op, ErrRATNotAllowed)
	}
	if !h.isHome(req.IMSI, req.VisitedPLMN) && !roamingAllowed(sub, req.VisitedPLMN) {
		return UpdateLocationResult{}, fmt.Errorf(op, ErrRoamingNotAllowed)
	}
	prev, err := h.store.SetMMERegistration(ctx, req.IMSI, MMERegistration{
		Host:            req.Host,
		Realm:           req.Realm,
		VisitedPLMN:     req.VisitedPLMN,
		RATType:         req.RATType,
		ULRFlags:        req.Flags,
		IMEI:            req.IMEI,
		SoftwareVersion: req.SoftwareVersion,
		UpdatedAt:       h.now(),
	})
	if err != nil {
		return UpdateLocationResult{}, fmt.Errorf(op, err)
	}
	var out UpdateLocationResult
	if prev != nil && prev.Host != req.Host && !prev.Purged {
		out.Cancel = prev
	}
	if req.Flags&ULRSkipSubscriberData == 0 {
		out.Subscriber = sub
	}
	return out, nil
}

// Purge answers a PUR (TS 29.272 5.2.3.1.3): the registration is marked purged
// when host holds it; a PUR from an MME that no longer holds it changes
// nothing.
func (h *HSS) Purge(ctx context.Context, imsi IMSI, host string) error {
	const op = "hss: purge: %w"
	if _, err := ParseIMSI(string(imsi)); err != nil {
		return fmt.Errorf(op, err)
	}
	ok, err := h.store.UpdateMMERegistration(ctx, imsi, host, func(r *MMERegistration) {
		r.Purged = true
		r.UpdatedAt = h.now()
	})
	if err != nil {
		return fmt.Errorf(op, err)
	}
	if !ok {
		h.log.DebugContext(ctx, "purge from an mme that holds no registration", "imsi", imsi, "host", host)
	}
	return nil
}

// Notify answers a NOR (TS 29.272 5.2.5.1.3): NOR-Flags and Terminal-Information
// are stored on the registration of host. A NOR from an MME that does not hold
// the registration changes nothing.
func (h *HSS) Notify(ctx context.Context, req NotifyRequest) error {
	const op = "hss: notify: %w"
	if _, err := ParseIMSI(string(req.IMSI)); err != nil {
		return fmt.Errorf(op, err)
	}
	ok, err := h.store.UpdateMMERegistration(ctx, req.IMSI, req.Host, func(r *MMERegistration) {
		r.NORFlags = req.Flags
		if req.IMEI != "" {
			r.IMEI = req.IMEI
			r.SoftwareVersion = req.SoftwareVersion
		}
		r.UpdatedAt = h.now()
	})
	if err != nil {
		return fmt.Errorf(op, err)
	}
	if !ok {
		h.log.DebugContext(ctx, "notify from an mme that holds no registration", "imsi", req.IMSI, "host", req.Host)
	}
	return nil
}

// CreateSubscriber provisions s: it validates it, derives OPc from OP and K
// when only OP is given (TS 35.206 4.1), rejects an OPc that does not match a
// given OP, and stamps CreatedAt/UpdatedAt.
func (h *HSS) CreateSubscriber(ctx context.Context, s *Subscriber) error {
	const op = "hss: create subscriber: %w"
	if s == nil {
		return fmt.Errorf(op, invalid("subscriber", "is required"))
	}
	if err := s.Validate(); err != nil {
		return fmt.Errorf(op, err)
	}
	c := cloneSubscriber(s)
	if err := deriveOPc(c, true); err != nil {
		return fmt.Errorf(op, err)
	}
	now := h.now()
	c.CreatedAt, c.UpdatedAt = now, now
	if err := h.store.CreateSubscriber(ctx, c); err != nil {
		return fmt.Errorf(op, err)
	}
	s.OPc, s.CreatedAt, s.UpdatedAt = c.OPc, c.CreatedAt, c.UpdatedAt
	return nil
}

// deriveOPc sets OPc from OP and K when OP is given. With checkGiven, an OPc
// provided alongside OP must equal the derived one.
func deriveOPc(s *Subscriber, checkGiven bool) error {
	if s.OP == nil {
		return nil
	}
	opc := ComputeOPc(s.K, *s.OP)
	if checkGiven && !s.OPc.IsZero() && s.OPc != opc {
		return invalid("opc", "does not match the one derived from op and k")
	}
	s.OPc = opc
	return nil
}

// GetSubscriber returns the subscriber, keys included (callers that answer an
// API must not expose them; Key redacts itself when printed).
func (h *HSS) GetSubscriber(ctx context.Context, imsi IMSI) (*Subscriber, error) {
	if _, err := ParseIMSI(string(imsi)); err != nil {
		return nil, fmt.Errorf("hss: get subscriber: %w", err)
	}
	s, err := h.store.GetSubscriber(ctx, imsi)
	if err != nil {
		return nil, fmt.Errorf("hss: get subscriber: %w", err)
	}
	return s, nil
}

// Registrations returns the serving nodes that hold the subscriber.
func (h *HSS) Registrations(ctx context.Context, imsi IMSI) (Registrations, error) {
	if _, err := ParseIMSI(string(imsi)); err != nil {
		return Registrations{}, fmt.Errorf("hss: registrations: %w", err)
	}
	r, err := h.store.GetRegistrations(ctx, imsi)
	if err != nil {
		return Registrations{}, fmt.Errorf("hss: registrations: %w", err)
	}
	return r, nil
}

// UpdateSubscriber applies fn to the stored subscriber atomically, validates
// the result, re-derives OPc when OP or K changed with OP provisioned, stamps
// UpdatedAt and then tells every observer (before, after, registrations).
func (h *HSS) UpdateSubscriber(ctx context.Context, imsi IMSI, fn func(*Subscriber) error) (*Subscriber, error) {
	const op = "hss: update subscriber: %w"
	if _, err := ParseIMSI(string(imsi)); err != nil {
		return nil, fmt.Errorf(op, err)
	}
	if fn == nil {
		return nil, fmt.Errorf(op, invalid("update", "function is required"))
	}
	var before *Subscriber
	after, err := h.store.UpdateSubscriber(ctx, imsi, func(s *Subscriber) error {
		// The store may run this more than once: keep the last attempt's "before".
		before = cloneSubscriber(s)
		if err := fn(s); err != nil {
			return err
		}
		if s.IMSI != before.IMSI {
			return invalid("imsi", "cannot be changed")
		}
		if s.OP != nil && (before.OP == nil || *s.OP != *before.OP || s.K != before.K) {
			if err := deriveOPc(s, false); err != nil {
				return err
			}
		}
		if err := s.Validate(); err != nil {
			return err
		}
		s.CreatedAt = before.CreatedAt
		s.UpdatedAt = h.now()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf(op, err)
	}
	obs := h.observersSnapshot()
	if len(obs) > 0 {
		regs, err := h.store.GetRegistrations(ctx, imsi)
		if err != nil {
			// The change is committed; observers cannot be told whom to notify.
			h.log.ErrorContext(ctx, "subscriber updated but registrations unreadable; serving nodes not notified", "imsi", imsi, "error", err)
			return after, nil
		}
		for _, o := range obs {
			o.SubscriberUpdated(ctx, before, after, regs)
		}
	}
	return after, nil
}

// DeleteSubscriber removes the subscriber with its SQN state and registrations
// and tells every observer which serving nodes held it.
func (h *HSS) DeleteSubscriber(ctx context.Context, imsi IMSI) error {
	const op = "hss: delete subscriber: %w"
	if _, err := ParseIMSI(string(imsi)); err != nil {
		return fmt.Errorf(op, err)
	}
	// The store returns only the registrations; observers also get the record.
	s, err := h.store.GetSubscriber(ctx, imsi)
	if err != nil {
		return fmt.Errorf(op, err)
	}
	regs, err := h.store.DeleteSubscriber(ctx, imsi)
	if err != nil {
		return fmt.Errorf(op, err)
	}
	for _, o := range h.observersSnapshot() {
		o.SubscriberDeleted(ctx, s, regs)
	}
	return nil
}

// Listing limits.
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

// ListSubscribers pages through IMSIs in ascending order; limit 0 means 100.
func (h *HSS) ListSubscribers(ctx context.Context, cursor string, limit int) ([]IMSI, string, error) {
	const op = "hss: list subscribers: %w"
	if limit == 0 {
		limit = DefaultListLimit
	}
	if limit < 0 || limit > MaxListLimit {
		return nil, "", fmt.Errorf(op, invalid("limit", fmt.Sprintf("must be 1..%d, got %d", MaxListLimit, limit)))
	}
	if cursor != "" && (len(cursor) > 15 || !allDigits(cursor)) {
		return nil, "", fmt.Errorf(op, invalid("cursor", "must be an IMSI"))
	}
	imsis, next, err := h.store.ListSubscribers(ctx, cursor, limit)
	if err != nil {
		return nil, "", fmt.Errorf(op, err)
	}
	return imsis, next, nil
}

// cloneSubscriber deep-copies s so that observers see "before" unchanged.
func cloneSubscriber(s *Subscriber) *Subscriber {
	c := *s
	if s.OP != nil {
		op := *s.OP
		c.OP = &op
	}
	c.APNs = append([]APNConfiguration(nil), s.APNs...)
	c.AllowedVisitedPLMNs = append([]PLMN(nil), s.AllowedVisitedPLMNs...)
	c.Non3GPP.APNContextIDs = append([]uint32(nil), s.Non3GPP.APNContextIDs...)
	return &c
}
