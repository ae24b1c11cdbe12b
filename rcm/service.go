package rcm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/rcmhss/rcmhss/hss"
)

// Service is RCM's extension of the HSS authentication and location paths
// (PRODUCT.md: RCM "claims guest IMSIs and binds KASME" rather than being
// written into the S6a handlers). The S6a plugin asks IsGuest for every AIR
// and ULR and hands guest ones here; everything else goes to package hss as
// usual. Every decision leaves an audit entry.
type Service struct {
	cfg      Config
	store    Store
	verifier *Verifier
	identity *HSSIdentity
	log      *slog.Logger
	now      func() time.Time
}

// ServiceOption configures a Service.
type ServiceOption func(*Service)

// WithClock replaces time.Now (tests).
func WithClock(now func() time.Time) ServiceOption { return func(s *Service) { s.now = now } }

// NewService builds the RCM service on a validated configuration, its store and
// the HSS RCM signing identity.
func NewService(cfg Config, store Store, identity *HSSIdentity, log *slog.Logger, opts ...ServiceOption) (*Service, error) {
	if store == nil || identity == nil || log == nil {
		return nil, errors.New("rcm: new service: store, identity and logger are required")
	}
	v, err := NewVerifier(cfg, store, store, store, store)
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, store: store, verifier: v, identity: identity, log: log, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// Config returns the configuration the service runs with.
func (s *Service) Config() Config { return s.cfg }

// IsGuest reports whether imsi is in a guest range: such an IMSI is never a
// normal subscriber.
func (s *Service) IsGuest(imsi hss.IMSI) bool { return s.cfg.Guest.Contains(imsi) }

// GuestAIR is a guest Authentication-Information-Request in RCM terms.
type GuestAIR struct {
	IMSI        hss.IMSI
	VisitedPLMN hss.PLMN
	// MMEHost and MMERealm are the AIR's Origin-Host and Origin-Realm.
	MMEHost, MMERealm string
	// Bootstrap is nil when the AIR carried no RCM-Bootstrap-Info.
	Bootstrap *Bootstrap
}

// GuestAuth is the outcome of an accepted guest AIR. The caller generates the
// vectors with GuestRange.Material, passes them through BindVectors, and puts
// Proof (when not nil) in RCM-Binding-Info.
type GuestAuth struct {
	// Device and Binding are nil for a compat-mode guest (no bootstrap).
	Device  *Device
	Binding *Binding
	// Replaced is the live binding of another device (or MME) on the same
	// guest IMSI that this attach displaced; the caller cancels its MME.
	Replaced *Binding
	keys     *KeyBinding
}

// BindVectors replaces each vector's KASME by KASME_bound; it does nothing in
// compat mode.
func (g *GuestAuth) BindVectors(vs []hss.EUTRANVector) {
	if g.keys != nil {
		g.keys.BindVectors(vs)
	}
}

// Proof is the RCM-Binding-Info content, nil in compat mode.
func (g *GuestAuth) Proof() *BindingProof {
	if g.keys == nil {
		return nil
	}
	p := g.keys.Proof()
	return &p
}

// AuthenticateGuest decides a guest AIR (RCM.md steps 1-2). A rejection
// returns an error wrapping one sentinel of errors.go, and then no vector may
// be produced. An AIR that carries bootstrap information is always verified,
// compat mode or not.
func (s *Service) AuthenticateGuest(ctx context.Context, r GuestAIR) (*GuestAuth, error) {
	if !s.IsGuest(r.IMSI) {
		return nil, fmt.Errorf("rcm: authenticate guest: imsi %s is not in a guest range: %w", r.IMSI.Masked(), hss.ErrInvalidInput)
	}
	now := s.now()
	var claimed IMEI
	if r.Bootstrap != nil {
		if i, err := ParseIMEI(string(r.Bootstrap.IMEI)); err == nil {
			claimed = i // only a well-formed IMEI goes into the audit log
		}
	}
	s.audit(ctx, NewAuditRecord(now, AuditAttempt, r.IMSI, claimed, nil))

	if r.Bootstrap == nil || r.Bootstrap.IsZero() {
		if s.cfg.Compat {
			if _, err := s.store.AppendAudit(ctx, NewAuditRecord(now, AuditCompatGuest, r.IMSI, "", nil)); err != nil {
				return nil, fmt.Errorf("rcm: authenticate guest: audit: %w", err)
			}
			return &GuestAuth{}, nil
		}
		err := fmt.Errorf("rcm: authenticate guest: %w", ErrNoBootstrap)
		s.audit(ctx, NewAuditRecord(now, AuditRejected, r.IMSI, "", err))
		return nil, err
	}

	d, err := s.verifier.Verify(ctx, r.IMSI, r.VisitedPLMN, *r.Bootstrap, now)
	if err != nil {
		s.audit(ctx, NewAuditRecord(now, AuditRejected, r.IMSI, claimed, err))
		return nil, err
	}
	keys, err := s.identity.Bind(d)
	if err != nil {
		return nil, err
	}
	b := NewBinding(r.IMSI, d, r.MMEHost, r.MMERealm, now, s.cfg.BindingLifetime)
	ga := &GuestAuth{Device: d, Binding: &b, keys: keys}
	prev, err := s.store.GetBinding(ctx, r.IMSI)
	switch {
	case err == nil:
		if !prev.Expired(now) && (prev.CertFingerprint != b.CertFingerprint || prev.MMEHost != b.MMEHost) {
			ga.Replaced = &prev
		}
	case !errors.Is(err, ErrNoBinding):
		return nil, fmt.Errorf("rcm: authenticate guest: get binding: %w", err)
	}
	if err := s.store.PutBinding(ctx, b); err != nil {
		return nil, fmt.Errorf("rcm: authenticate guest: put binding: %w", err)
	}
	// An accepted attach must be on the record: without the entry, no vector.
	if _, err := s.store.AppendAudit(ctx, NewAuditRecord(now, AuditBound, r.IMSI, d.IMEI, nil)); err != nil {
		return nil, fmt.Errorf("rcm: authenticate guest: audit: %w", err)
	}
	s.log.InfoContext(ctx, "rcm device bound", "imsi", r.IMSI, "imei", d.IMEI, "profile", d.ProfileID, "mme", r.MMEHost)
	return ga, nil
}

// GuestULR is a guest Update-Location-Request in RCM terms.
type GuestULR struct {
	IMSI        hss.IMSI
	Host, Realm string
	// IMEI is Terminal-Information/IMEI (14 or 15 digits), "" when absent.
	IMEI string
}

// UpdateLocation decides a guest ULR (RCM.md step 3) and returns the only
// subscription a guest can get, GuestRange.RestrictedSubscriber. The binding
// follows the MME that registered.
func (s *Service) UpdateLocation(ctx context.Context, r GuestULR) (*hss.Subscriber, error) {
	now := s.now()
	var bp *Binding
	b, err := s.store.GetBinding(ctx, r.IMSI)
	switch {
	case err == nil:
		bp = &b
	case !errors.Is(err, ErrNoBinding):
		return nil, fmt.Errorf("rcm: update location: get binding: %w", err)
	}
	if err := CheckGuestULR(bp, r.IMEI, now, s.cfg.Compat); err != nil {
		var imei IMEI
		if bp != nil {
			imei = bp.IMEI
		}
		s.audit(ctx, NewAuditRecord(now, AuditULRRejected, r.IMSI, imei, err))
		return nil, err
	}
	if bp != nil && (bp.MMEHost != r.Host || bp.MMERealm != r.Realm) {
		bp.MMEHost, bp.MMERealm = r.Host, r.Realm
		if err := s.store.PutBinding(ctx, *bp); err != nil {
			return nil, fmt.Errorf("rcm: update location: put binding: %w", err)
		}
	}
	return s.cfg.Guest.RestrictedSubscriber(r.IMSI), nil
}

// ExpireBindings removes up to limit bindings whose lifetime is over and
// returns them, so that the caller sends each MME a Cancel-Location-Request
// (issue 5: the device must not linger on the guest identity).
func (s *Service) ExpireBindings(ctx context.Context, limit int) ([]Binding, error) {
	now := s.now()
	bs, err := s.store.ExpiredBindings(ctx, now, limit)
	if err != nil {
		return nil, fmt.Errorf("rcm: expire bindings: %w", err)
	}
	out := bs[:0]
	for _, b := range bs {
		if err := s.store.DeleteBinding(ctx, b.GuestIMSI); err != nil {
			return out, fmt.Errorf("rcm: expire bindings: delete: %w", err)
		}
		s.audit(ctx, NewAuditRecord(now, AuditExpired, b.GuestIMSI, b.IMEI, nil))
		out = append(out, b)
	}
	return out, nil
}

// audit appends r; a failure is logged here (the outcome it records stands).
func (s *Service) audit(ctx context.Context, r AuditRecord) {
	if _, err := s.store.AppendAudit(ctx, r); err != nil {
		s.log.ErrorContext(ctx, "rcm audit append failed", "event", string(r.Event), "err", err)
	}
}

// GuestVectorRequest is the vector request the HSS may serve for a guest AIR:
// E-UTRAN vectors only. UTRAN quintets and GERAN triplets carry CK/IK or Kc
// derived from the public guest K/OPc alone and cannot be bound to the device,
// so a guest never gets any, whatever the AIR asks (TS 29.272 7.3.12: the HSS
// may return fewer vectors than requested).
func GuestVectorRequest(r hss.AuthInfoRequest) hss.AuthInfoRequest {
	r.UTRAN, r.GERAN = 0, 0
	return r
}
