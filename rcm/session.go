package rcm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/rcmhss/rcmhss/hss"
)

// SessionState is the state of a provisioning session (RCM.md steps 4 to 8).
type SessionState string

const (
	StateAuthenticated SessionState = "authenticated" // device proved its certificate (mTLS)
	StateOffered       SessionState = "offered"       // an offer is on the table (figure 5)
	StateDeclined      SessionState = "declined"      // the device declined the current offer
	StateAccepted      SessionState = "accepted"      // acceptance checked; provisioning under way
	StateProvisioned   SessionState = "provisioned"   // credentials sealed; subscriber pending
	StateConfirmed     SessionState = "confirmed"     // device installed them; swap under way
	StateSwapped       SessionState = "swapped"       // new subscriber active, guest binding gone
	StateExpired       SessionState = "expired"       // never finished in time; IMSI returned
	StateFailed        SessionState = "failed"        // no provider, code attempts exhausted, or error
)

// transitions is the whole state machine: any pair not listed is refused with
// a TransitionError. Terminal states (swapped, expired, failed) have no exits.
var transitions = map[SessionState][]SessionState{
	StateAuthenticated: {StateOffered, StateAccepted, StateFailed, StateExpired},
	StateOffered:       {StateAccepted, StateDeclined, StateFailed, StateExpired},
	StateDeclined:      {StateOffered, StateFailed, StateExpired},
	StateAccepted:      {StateProvisioned, StateFailed, StateExpired},
	StateProvisioned:   {StateConfirmed, StateFailed, StateExpired},
	StateConfirmed:     {StateSwapped, StateFailed},
}

// ErrIllegalTransition is wrapped by every TransitionError.
var ErrIllegalTransition = errors.New("illegal session state transition")

// TransitionError is a refused state change.
type TransitionError struct{ From, To SessionState }

func (e *TransitionError) Error() string {
	return fmt.Sprintf("rcm: session: %s -> %s: %v", e.From, e.To, ErrIllegalTransition)
}
func (e *TransitionError) Unwrap() error { return ErrIllegalTransition }

// CanTransition reports whether the state machine allows from -> to.
func CanTransition(from, to SessionState) bool { return slices.Contains(transitions[from], to) }

// Terminal reports whether no transition leaves s.
func (s SessionState) Terminal() bool { return len(transitions[s]) == 0 }

// Other session errors.
var (
	// ErrUnknownSession: no session with this id (or not this device's).
	ErrUnknownSession = errors.New("unknown provisioning session")
	// ErrSessionConflict: the session changed since it was read (CAS lost).
	ErrSessionConflict = errors.New("provisioning session changed concurrently")
	// ErrSessionBusy: another node is provisioning this session; retry.
	ErrSessionBusy = errors.New("provisioning session busy")
	// ErrNoProviderAvailable: no credential provider covers the device, or the
	// device declined every offer (figure 5); the device is detached.
	ErrNoProviderAvailable = errors.New("no credential provider available")
	// ErrWrongOffer: the request names an offer other than the current one.
	ErrWrongOffer = errors.New("offer is not the one presented")
	// ErrBadAcceptance: the acceptance or HPKE key signature does not verify
	// with the device certificate key.
	ErrBadAcceptance = errors.New("bad device signature")
)

// Candidate is one offer of the figure-5 sequence.
type Candidate struct {
	ProviderID string `json:"provider_id"`
	OfferID    string `json:"offer_id"`
}

// Session is one provisioning session as stored, so that any node can
// continue it. It never holds plaintext credentials: Sealed is the HPKE
// ciphertext the device gets (kept for exactly-once delivery) and PendingK /
// PendingOPc are sealed under the HSS key-encryption key (hss.KeySealer) until
// confirmation creates the subscriber.
type Session struct {
	ID      string       `json:"id"`
	State   SessionState `json:"state"`
	Version uint64       `json:"version"`

	IMEI            IMEI        `json:"imei"`
	CertFingerprint Fingerprint `json:"cert_fingerprint"`
	GuestIMSI       hss.IMSI    `json:"guest_imsi,omitempty"`
	// HPKEKey is the device's P-256 public key (SEC 1 uncompressed) that the
	// credentials are sealed to.
	HPKEKey []byte `json:"hpke_key"`

	Candidates    []Candidate `json:"candidates,omitempty"`
	Current       int         `json:"current"`
	PreRegistered bool        `json:"pre_registered,omitempty"`
	CodeAttempts  int         `json:"code_attempts,omitempty"`

	ProviderID string     `json:"provider_id,omitempty"`
	OfferID    string     `json:"offer_id,omitempty"`
	IMSI       hss.IMSI   `json:"imsi,omitempty"`
	MSISDN     hss.MSISDN `json:"msisdn,omitempty"`
	Sealed     []byte     `json:"sealed,omitempty"`
	PendingK   []byte     `json:"pending_k,omitempty"`
	PendingOPc []byte     `json:"pending_opc,omitempty"`
	Reason     string     `json:"reason,omitempty"`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// String never prints the sealed or pending material.
func (s Session) String() string {
	return fmt.Sprintf("rcm.Session{%s %s imei=%s}", s.ID, s.State, s.IMEI)
}

// GoString is String.
func (s Session) GoString() string { return s.String() }

// Transition returns a copy of s in state to, or a TransitionError.
func (s Session) Transition(to SessionState, now time.Time) (Session, error) {
	if !CanTransition(s.State, to) {
		return s, &TransitionError{From: s.State, To: to}
	}
	s.State, s.UpdatedAt = to, now
	s.Candidates = slices.Clone(s.Candidates)
	return s, nil
}

// Offered is the current candidate, if any.
func (s *Session) current() (Candidate, bool) {
	if s.Current < 0 || s.Current >= len(s.Candidates) {
		return Candidate{}, false
	}
	return s.Candidates[s.Current], true
}

// Concerns reports whether the session is the provider's business: it chose
// the provider's offer, or one of the provider's offers is on the table.
func (s *Session) Concerns(providerID string) bool {
	if s.ProviderID != "" {
		return s.ProviderID == providerID
	}
	c, ok := s.current()
	return ok && c.ProviderID == providerID
}

// ProvisioningStore is the provisioning server's state, shared by every node
// (issue 6: "any node can continue a session another node started"). Defined
// by its consumer, the Provisioner. Missing records are ErrUnknownProvider,
// ErrUnknownOffer, ErrNoPreRegistration, ErrUnknownSession; backend failures
// wrap hss.ErrStoreUnavailable.
type ProvisioningStore interface {
	CreateProvider(ctx context.Context, p Provider) error
	GetProvider(ctx context.Context, id string) (Provider, error)
	// UpdateProvider replaces the provider with p.ID; ErrUnknownProvider if absent.
	UpdateProvider(ctx context.Context, p Provider) error
	// ListProviders returns every provider ordered by id.
	ListProviders(ctx context.Context) ([]Provider, error)

	// PutOffer creates or replaces an offer of o.ProviderID.
	PutOffer(ctx context.Context, o Offer) error
	GetOffer(ctx context.Context, providerID, id string) (Offer, error)
	// ListOffers returns the provider's offers ordered by id.
	ListOffers(ctx context.Context, providerID string) ([]Offer, error)
	DeleteOffer(ctx context.Context, providerID, id string) error

	// AllocateNumber takes a free number of the provider's pool of this kind
	// within ranges, atomically across nodes: released numbers first, then
	// the lowest never-allocated one. ErrPoolExhausted when none is left.
	AllocateNumber(ctx context.Context, providerID string, kind PoolKind, ranges []NumberRange) (string, error)
	// ReleaseNumber returns a number to the pool.
	ReleaseNumber(ctx context.Context, providerID string, kind PoolKind, number string) error

	// PutPreRegistration creates or replaces the pre-registration of r.IMEI.
	PutPreRegistration(ctx context.Context, r PreRegistration) error
	GetPreRegistration(ctx context.Context, imei IMEI) (PreRegistration, error)
	DeletePreRegistration(ctx context.Context, imei IMEI) error
	ListPreRegistrations(ctx context.Context, providerID string) ([]PreRegistration, error)

	// CreateSession stores a new session (Version 1); the id must be new.
	CreateSession(ctx context.Context, s Session) error
	GetSession(ctx context.Context, id string) (Session, error)
	// UpdateSession replaces the session if its stored Version is still
	// s.Version, and stores it with Version+1 (returned). Otherwise
	// ErrSessionConflict. This compare-and-set guards every state change.
	UpdateSession(ctx context.Context, s Session) (Session, error)
	// ExpiredSessions returns up to limit sessions in a non-terminal state
	// whose ExpiresAt is not after now.
	ExpiredSessions(ctx context.Context, now time.Time, limit int) ([]Session, error)
	// ListSessions returns the sessions whose ProviderID or current candidate
	// is the provider's, for its admin API.
	ListSessions(ctx context.Context, providerID string) ([]Session, error)
}
