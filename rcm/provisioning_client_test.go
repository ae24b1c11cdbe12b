package rcm_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/rcmhss/rcmhss/rcm"
)

// TestProvisioningClient drives the device side against the mTLS server:
// decline the first provider, accept the second with its activation code,
// open, confirm.
func TestProvisioningClient(t *testing.T) {
	e := newProvEnv(t)
	e.provider(t, providerA, "meters-acme", "0010100000000", "")
	e.provider(t, providerB, "meters-beta", "0010200000000", "CODE-77")
	srv, roots := e.provServer(t)
	d := e.device(t, 60)
	c, err := rcm.NewProvisioningClient(srv.URL, d.cred, roots)
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	res, err := c.Provision(provCtx, d.guest, func(o rcm.OfferView) rcm.OfferDecision {
		return rcm.OfferDecision{Accept: o.ProviderID == providerB, ActivationCode: "CODE-77"}
	}, func(s string) { steps = append(steps, s) })
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Declined) != 1 || res.Accepted == nil || res.Accepted.ProviderID != providerB || res.Credentials.ProviderID != providerB {
		t.Fatalf("result %+v", res)
	}
	joined := strings.Join(steps, "\n")
	if strings.Contains(joined, res.Credentials.K.Hex()) || strings.Contains(joined, string(res.Credentials.IMSI)) {
		t.Fatal("a printed step shows the key or the full IMSI")
	}
	v, err := c.Confirm(provCtx, res.SessionID)
	if err != nil || v.State != rcm.StateSwapped {
		t.Fatalf("confirm: %+v, %v", v, err)
	}
	if sub, err := e.hss.GetSubscriber(provCtx, res.Credentials.IMSI); err != nil || sub.K != res.Credentials.K {
		t.Fatalf("subscriber: %v", err)
	}

	// A wrong code comes back as the domain error.
	d2 := e.device(t, 61)
	c2, _ := rcm.NewProvisioningClient(srv.URL, d2.cred, roots)
	_, err = c2.Provision(provCtx, d2.guest, func(o rcm.OfferView) rcm.OfferDecision {
		return rcm.OfferDecision{Accept: o.ProviderID == providerB, ActivationCode: "nope"}
	}, nil)
	var ae *rcm.ProvisioningAPIError
	if !errors.Is(err, rcm.ErrBadActivationCode) || !errors.As(err, &ae) || ae.Status != 403 {
		t.Fatalf("wrong code: %v", err)
	}
	// Declining everything: no provider.
	d3 := e.device(t, 62)
	c3, _ := rcm.NewProvisioningClient(srv.URL, d3.cred, roots)
	if _, err := c3.Provision(provCtx, d3.guest, func(rcm.OfferView) rcm.OfferDecision { return rcm.OfferDecision{} }, nil); !errors.Is(err, rcm.ErrNoProviderAvailable) {
		t.Fatalf("decline all: %v", err)
	}
}
