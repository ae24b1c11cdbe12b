package rcm

import "errors"

// Rejections of a provisioning attach. Each is its own sentinel so that the
// Diameter layer's single result table (diameter/result.go) can map it; the
// codes each one gets, and why, are in docs/rcm-crypto.md ("Result codes").
// Errors returned by Verify wrap exactly one of these, plus detail that never
// contains key material.
var (
	// ErrNoBootstrap: a guest AIR without RCM-Bootstrap-Info while compat mode
	// is off. A guest identity is public, so without device authentication no
	// vector may be produced.
	ErrNoBootstrap = errors.New("no bootstrap information")
	// ErrMalformedBootstrap: bootstrap AVPs present but not decodable (bad
	// point, bad chain framing, bad IMEI syntax, unparsable certificate).
	ErrMalformedBootstrap = errors.New("malformed bootstrap information")
	// ErrNotProvisioning: the connection type is not "provisioning"; a guest
	// IMSI can only ever be used for a provisioning attach.
	ErrNotProvisioning = errors.New("connection type is not provisioning")
	// ErrUnknownCA: the certificate chain does not lead to any vendor CA of a
	// registered device profile.
	ErrUnknownCA = errors.New("certificate not issued by a registered vendor ca")
	// ErrCertExpired: a certificate of the chain is past its NotAfter.
	ErrCertExpired = errors.New("certificate expired")
	// ErrCertNotYetValid: a certificate of the chain is before its NotBefore.
	ErrCertNotYetValid = errors.New("certificate not yet valid")
	// ErrIMEIRevoked: the IMEI is on the operator's denylist.
	ErrIMEIRevoked = errors.New("imei revoked")
	// ErrSerialRevoked: a certificate serial of the chain is on the denylist of
	// its issuer.
	ErrSerialRevoked = errors.New("certificate serial revoked")
	// ErrCRLRevoked: a certificate of the chain is listed on a CRL signed by its
	// issuer.
	ErrCRLRevoked = errors.New("certificate listed on crl")
	// ErrIMEIMismatch: the IMEI presented (AIR bootstrap, or ULR
	// Terminal-Information for a bound guest) is not the certified one.
	ErrIMEIMismatch = errors.New("imei mismatch")
	// ErrIMEINotCovered: no profile whose CA issued the certificate covers the
	// device (IMEI, IMEI range, TAC or device class).
	ErrIMEINotCovered = errors.New("imei not covered by a device profile")
	// ErrBadSignature: the device signature over the transcript does not verify
	// with the certificate key (or the key is not ECDSA P-256).
	ErrBadSignature = errors.New("bad bootstrap signature")
	// ErrStaleTimestamp: the bootstrap timestamp is outside the window around now.
	ErrStaleTimestamp = errors.New("bootstrap timestamp outside window")
	// ErrReplay: this exact transcript was already accepted.
	ErrReplay = errors.New("bootstrap replayed")
	// ErrRateLimited: too many attempts per IMEI, TAC or guest IMSI.
	ErrRateLimited = errors.New("rate limited")
)

// Errors of the guest binding and of the device side.
var (
	// ErrNoBinding: a ULR for a guest IMSI that has no live binding (no
	// successful provisioning AIR before it) while compat mode is off.
	ErrNoBinding = errors.New("no guest binding")
	// ErrBindingExpired: the binding exists but its lifetime is over.
	ErrBindingExpired = errors.New("guest binding expired")
	// ErrHSSUnauthenticated: device side: the HSS proof (RCM-Binding-Info) does
	// not verify against the pinned roots.
	ErrHSSUnauthenticated = errors.New("hss not authenticated")
	// ErrUnknownProfile: no device profile with this id.
	ErrUnknownProfile = errors.New("unknown device profile")
	// ErrProfileExists: creating a device profile whose id is taken.
	ErrProfileExists = errors.New("device profile exists")
	// ErrInvalidConfig wraps every configuration problem reported by Validate.
	ErrInvalidConfig = errors.New("invalid rcm configuration")
)
