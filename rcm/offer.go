package rcm

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"
)

// Errors of offers and pre-registrations.
var (
	// ErrUnknownOffer: no offer with this id for the provider.
	ErrUnknownOffer = errors.New("unknown offer")
	// ErrInvalidOffer wraps every problem Offer.Validate reports.
	ErrInvalidOffer = errors.New("invalid offer")
	// ErrNoPreRegistration: no pre-registered subscription for the IMEI.
	ErrNoPreRegistration = errors.New("no pre-registered subscription")
	// ErrBadActivationCode: the activation code does not match.
	ErrBadActivationCode = errors.New("bad activation code")
	// ErrActivationLocked: too many wrong activation codes for this session.
	ErrActivationLocked = errors.New("activation code attempts exhausted")
)

// Price is an amount in minor units of an ISO 4217 currency.
type Price struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// activationIterations is the PBKDF2-HMAC-SHA256 cost of an activation code
// hash. Codes are short and printed on receipts, so a fast salted hash would
// fall to an offline search if the store leaked; PBKDF2 (RFC 8018 5.2, in the
// standard library as crypto/pbkdf2) makes each guess cost this many HMACs.
const activationIterations = 100_000

// ActivationCode is the salted hash of an out-of-band activation code (RCM.md
// step 4: "a key value the user got out of band, e.g. on a receipt").
type ActivationCode struct {
	Salt       [16]byte `json:"salt"`
	Iterations int      `json:"iterations"`
	Hash       [32]byte `json:"hash"`
}

// HashActivationCode salts and hashes code with PBKDF2-HMAC-SHA256.
func HashActivationCode(code string) (*ActivationCode, error) {
	if code == "" {
		return nil, fmt.Errorf("rcm: activation code: %w: empty", ErrInvalidOffer)
	}
	a := &ActivationCode{Iterations: activationIterations}
	if _, err := rand.Read(a.Salt[:]); err != nil {
		return nil, fmt.Errorf("rcm: activation code: %w", err)
	}
	h, err := pbkdf2.Key(sha256.New, code, a.Salt[:], a.Iterations, len(a.Hash))
	if err != nil {
		return nil, fmt.Errorf("rcm: activation code: %w", err)
	}
	copy(a.Hash[:], h)
	return a, nil
}

// Check reports whether code is the one hashed, in constant time.
func (a *ActivationCode) Check(code string) bool {
	if a.Iterations <= 0 {
		return false
	}
	h, err := pbkdf2.Key(sha256.New, code, a.Salt[:], a.Iterations, len(a.Hash))
	return err == nil && subtle.ConstantTimeCompare(h, a.Hash[:]) == 1
}

// DefaultCodeAttempts is the number of wrong activation codes a session may
// present before it fails, when the offer sets none.
const DefaultCodeAttempts = 3

// Offer is a provider's plan presented to a device (figure 5): terms, price,
// duration or data cap, and whether an activation code is required.
type Offer struct {
	ID         string `json:"id"`
	ProviderID string `json:"provider_id"`
	PlanName   string `json:"plan_name"`
	Terms      string `json:"terms"`
	Price      Price  `json:"price"`
	// Duration and DataCapBytes bound the plan; at least one is set.
	Duration     time.Duration `json:"duration,omitempty"`
	DataCapBytes uint64        `json:"data_cap_bytes,omitempty"`
	// ActivationCode, when not nil, must be presented with the acceptance.
	ActivationCode *ActivationCode `json:"activation_code,omitempty"`
	// MaxCodeAttempts bounds wrong codes per session (0: DefaultCodeAttempts).
	MaxCodeAttempts int `json:"max_code_attempts,omitempty"`
}

// Validate reports every problem of the offer; each wraps ErrInvalidOffer.
func (o *Offer) Validate() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("rcm: %w: "+format, append([]any{ErrInvalidOffer}, a...)...))
	}
	if !validID(o.ID) {
		bad("id: must be 1 to 64 of [A-Za-z0-9._-]")
	}
	if !validID(o.ProviderID) {
		bad("provider_id: must be 1 to 64 of [A-Za-z0-9._-]")
	}
	if o.PlanName == "" || len(o.PlanName) > 200 {
		bad("plan_name: 1 to 200 characters")
	}
	if len(o.Terms) > 4000 {
		bad("terms: at most 4000 characters")
	}
	if o.Price.Amount < 0 {
		bad("price.amount: must not be negative")
	}
	if len(o.Price.Currency) != 3 {
		bad("price.currency: an ISO 4217 code")
	}
	if o.Duration < 0 || (o.Duration == 0 && o.DataCapBytes == 0) {
		bad("a positive duration or a data cap is required")
	}
	if o.MaxCodeAttempts < 0 {
		bad("max_code_attempts: must not be negative")
	}
	return errors.Join(errs...)
}

func (o *Offer) codeAttempts() int {
	if o.MaxCodeAttempts > 0 {
		return o.MaxCodeAttempts
	}
	return DefaultCodeAttempts
}

// OfferView is what a device is shown of an offer: never the code hash.
type OfferView struct {
	ID                     string        `json:"id"`
	ProviderID             string        `json:"provider_id"`
	PlanName               string        `json:"plan_name"`
	Terms                  string        `json:"terms"`
	Price                  Price         `json:"price"`
	Duration               time.Duration `json:"duration,omitempty"`
	DataCapBytes           uint64        `json:"data_cap_bytes,omitempty"`
	ActivationCodeRequired bool          `json:"activation_code_required"`
}

// View strips the offer down to what a device may see.
func (o *Offer) View() OfferView {
	return OfferView{ID: o.ID, ProviderID: o.ProviderID, PlanName: o.PlanName, Terms: o.Terms, Price: o.Price,
		Duration: o.Duration, DataCapBytes: o.DataCapBytes, ActivationCodeRequired: o.ActivationCode != nil}
}

// PreRegistration is a subscription a provider registered for one IMEI ahead
// of time (RCM.md step 4 "Found"): the device is provisioned at once, on the
// terms of OfferID. A pre-registration past ValidUntil is renewed for
// RenewFor when RenewFor is positive (a subscription that expired and must be
// renewed); otherwise it no longer counts and the device gets offers.
type PreRegistration struct {
	IMEI       IMEI          `json:"imei"`
	ProviderID string        `json:"provider_id"`
	OfferID    string        `json:"offer_id"`
	ValidUntil time.Time     `json:"valid_until"`
	RenewFor   time.Duration `json:"renew_for,omitempty"`
	Renewals   int           `json:"renewals,omitempty"`
}

// Validate checks the pre-registration's fields.
func (r *PreRegistration) Validate() error {
	var errs []error
	if _, err := ParseIMEI(string(r.IMEI)); err != nil {
		errs = append(errs, fmt.Errorf("rcm: pre-registration: imei: %w", err))
	}
	if !validID(r.ProviderID) || !validID(r.OfferID) {
		errs = append(errs, errors.New("rcm: pre-registration: provider_id and offer_id are required"))
	}
	if r.ValidUntil.IsZero() {
		errs = append(errs, errors.New("rcm: pre-registration: valid_until is required"))
	}
	if r.RenewFor < 0 {
		errs = append(errs, errors.New("rcm: pre-registration: renew_for must not be negative"))
	}
	return errors.Join(errs...)
}

// Applies decides a pre-registration at now: valid, renewed (the returned
// copy has its new ValidUntil), or not applicable.
func (r PreRegistration) Applies(now time.Time) (PreRegistration, bool, bool) {
	if now.Before(r.ValidUntil) {
		return r, true, false
	}
	if r.RenewFor > 0 {
		r.ValidUntil = now.Add(r.RenewFor)
		r.Renewals++
		return r, true, true
	}
	return r, false, false
}
