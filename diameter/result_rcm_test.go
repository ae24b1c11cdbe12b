package diameter

import (
	"fmt"
	"testing"

	"github.com/rcmhss/rcmhss/rcm"
)

// TestResultForRCM pins the docs/rcm-crypto.md section 7 table: every RCM
// refusal gets its documented code, wrapped as the rcm package wraps it.
func TestResultForRCM(t *testing.T) {
	authn := Result{Code: 4001}
	authz := Result{Code: 5003}
	for _, c := range []struct {
		err  error
		want Result
	}{
		{rcm.ErrNoBootstrap, authn},
		{rcm.ErrMalformedBootstrap, Result{Code: 5004}},
		{rcm.ErrNotProvisioning, authz},
		{rcm.ErrUnknownCA, authn},
		{rcm.ErrCertExpired, authn},
		{rcm.ErrCertNotYetValid, authn},
		{rcm.ErrSerialRevoked, authn},
		{rcm.ErrCRLRevoked, authn},
		{rcm.ErrIMEIMismatch, authn},
		{rcm.ErrBadSignature, authn},
		{rcm.ErrStaleTimestamp, authn},
		{rcm.ErrReplay, authn},
		{rcm.ErrIMEIRevoked, authz},
		{rcm.ErrIMEINotCovered, authz},
		{rcm.ErrRateLimited, Result{Code: 4181, Experimental: true, VendorID: 10415}},
		{rcm.ErrNoBinding, authz},
		{rcm.ErrBindingExpired, authz},
		// A ULR refused for an IMEI mismatch is an authorisation refusal, not
		// the AIR's authentication failure.
		{fmt.Errorf("rcm: ulr: %w: %w", rcm.ErrGuestULRRejected, rcm.ErrIMEIMismatch), authz},
	} {
		err := fmt.Errorf("rcm: verify: detail: %w", c.err)
		if got := ResultFor(err); got != c.want {
			t.Errorf("ResultFor(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
