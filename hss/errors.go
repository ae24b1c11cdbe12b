package hss

import "errors"

// Domain errors. The Diameter layer maps each to a Result-Code or
// Experimental-Result in exactly one table (diameter/result.go); nothing else
// chooses a code.
var (
	// ErrInvalidInput wraps every validation failure of a value the caller supplied.
	ErrInvalidInput = errors.New("invalid input")
	// ErrUnknownSubscriber: no subscriber with this IMSI (DIAMETER_ERROR_USER_UNKNOWN 5001).
	ErrUnknownSubscriber = errors.New("unknown subscriber")
	// ErrSubscriberExists: creating an IMSI that is already provisioned.
	ErrSubscriberExists = errors.New("subscriber exists")
	// ErrUnknownEPSSubscription: the subscriber has no EPS subscription (5420).
	ErrUnknownEPSSubscription = errors.New("unknown eps subscription")
	// ErrRoamingNotAllowed: the visited PLMN is not allowed for this subscriber (5004).
	ErrRoamingNotAllowed = errors.New("roaming not allowed")
	// ErrRATNotAllowed: the RAT type is barred by the access restrictions (5421).
	ErrRATNotAllowed = errors.New("rat not allowed")
	// ErrAuthDataUnavailable: vectors cannot be produced right now (4181, transient).
	ErrAuthDataUnavailable = errors.New("authentication data unavailable")
	// ErrResyncFailed: AUTS whose MAC-S does not verify (TS 33.102 6.3.5); answered
	// as authentication data unavailable without changing SQN state.
	ErrResyncFailed = errors.New("resynchronisation failed: mac-s mismatch")
	// ErrStoreUnavailable: the store did not answer (DIAMETER_UNABLE_TO_COMPLY 5012 or
	// 4181 for AIR, 503 on HTTP).
	ErrStoreUnavailable = errors.New("store unavailable")
	// ErrConflict: a concurrent update won; the caller may retry.
	ErrConflict = errors.New("concurrent update")
)

// ValidationError names the field that is wrong. It wraps ErrInvalidInput.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string { return "hss: invalid " + e.Field + ": " + e.Reason }
func (e *ValidationError) Unwrap() error { return ErrInvalidInput }

func invalid(field, reason string) error { return &ValidationError{Field: field, Reason: reason} }
