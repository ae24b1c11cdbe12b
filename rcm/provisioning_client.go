package rcm

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/rcmhss/rcmhss/hss"
)

// ProvisioningClient is the device side of the provisioning API (RCM.md step
// 4, patent message 660), used by the rcmdevice simulator and the tests: it
// authenticates with the device's IMEI certificate, presents an HPKE key
// signed by the certificate key, answers offers, opens the sealed credentials
// and confirms.
type ProvisioningClient struct {
	base string
	cred DeviceCredentials
	fp   Fingerprint
	hc   *http.Client
}

// NewProvisioningClient connects to the server at base ("https://host:port"),
// trusting serverRoots for its certificate.
func NewProvisioningClient(base string, cred DeviceCredentials, serverRoots *x509.CertPool) (*ProvisioningClient, error) {
	if cred.Key == nil || len(cred.CertChain) == 0 {
		return nil, errors.New("rcm: provisioning client: device certificate and key are required")
	}
	return &ProvisioningClient{base: base, cred: cred, fp: FingerprintOf(cred.CertChain[0]), hc: &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{
			MinVersion: tls.VersionTLS13, RootCAs: serverRoots,
			Certificates: []tls.Certificate{{Certificate: cred.CertChain, PrivateKey: cred.Key}},
		}},
	}}, nil
}

// ProvisioningAPIError is an error answer of the server.
type ProvisioningAPIError struct {
	Status int
	Body   ProvisioningError
}

func (e *ProvisioningAPIError) Error() string {
	return fmt.Sprintf("rcm: provisioning api: %d %s: %s", e.Status, e.Body.Code, e.Body.Message)
}

// Is maps the stable error codes back to the domain sentinels.
func (e *ProvisioningAPIError) Is(target error) bool {
	m := map[string]error{
		"no_provider_available": ErrNoProviderAvailable, "unknown_session": ErrUnknownSession,
		"wrong_offer": ErrWrongOffer, "illegal_transition": ErrIllegalTransition, "bad_signature": ErrBadAcceptance,
		"bad_activation_code": ErrBadActivationCode, "activation_locked": ErrActivationLocked, "session_busy": ErrSessionBusy,
	}
	return m[e.Body.Code] == target && target != nil
}

func (c *ProvisioningClient) do(ctx context.Context, method, path string, body, out any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return err
		}
	}
	for attempt := 0; ; attempt++ {
		var rd io.Reader
		if payload != nil {
			rd = bytes.NewReader(payload)
		}
		req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.hc.Do(req)
		if err != nil {
			return fmt.Errorf("rcm: provisioning api: %s %s: %w", method, path, err)
		}
		raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("rcm: provisioning api: %s %s: %w", method, path, err)
		}
		if resp.StatusCode == http.StatusServiceUnavailable && attempt < 5 {
			// session_busy: another node holds the session; every call is
			// idempotent, so the retry is safe.
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(50*(attempt+1)) * time.Millisecond):
			}
			continue
		}
		if resp.StatusCode >= 300 {
			e := &ProvisioningAPIError{Status: resp.StatusCode}
			_ = json.Unmarshal(raw, &e.Body)
			return e
		}
		if out != nil {
			if err := json.Unmarshal(raw, out); err != nil {
				return fmt.Errorf("rcm: provisioning api: %s %s: %w", method, path, err)
			}
		}
		return nil
	}
}

// OfferDecision is the device's (or its user's) answer to an offer.
type OfferDecision struct {
	Accept         bool
	ActivationCode string
}

// ProvisioningResult is what a completed provisioning gives the device.
type ProvisioningResult struct {
	SessionID     string
	PreRegistered bool
	Declined      []OfferView
	Accepted      *OfferView
	Credentials   *Credentials
}

// Provision runs RCM.md step 4 from the device: start a session (guest is the
// guest IMSI it attached with), answer each offer with decide, and open the
// sealed credentials. It does not confirm: the device confirms once it has
// installed them (Confirm). step, when not nil, is told each step.
func (c *ProvisioningClient) Provision(ctx context.Context, guest hss.IMSI, decide func(OfferView) OfferDecision, step func(string)) (*ProvisioningResult, error) {
	if step == nil {
		step = func(string) {}
	}
	hk, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	pub := hk.PublicKey().Bytes()
	dg := HPKEKeyDigest(c.fp, pub)
	sig, err := ecdsa.SignASN1(rand.Reader, c.cred.Key, dg[:])
	if err != nil {
		return nil, err
	}
	var v SessionView
	if err := c.do(ctx, http.MethodPost, "/v1/sessions", StartSessionJSON{GuestIMSI: string(guest), HPKEKey: pub, HPKESignature: sig}, &v); err != nil {
		return nil, err
	}
	res := &ProvisioningResult{SessionID: v.ID, PreRegistered: v.PreRegistered}
	if v.PreRegistered {
		step("subscription found: pre-registered, provisioned at once (RCM.md step 4)")
	}
	for v.State == StateOffered && v.Offer != nil {
		o := *v.Offer
		step(fmt.Sprintf("offer from %s: %q, %d.%02d %s", o.ProviderID, o.PlanName, o.Price.Amount/100, o.Price.Amount%100, o.Price.Currency))
		d := decide(o)
		if !d.Accept {
			step("declined offer " + o.ID)
			res.Declined = append(res.Declined, o)
			if err := c.do(ctx, http.MethodPost, "/v1/sessions/"+v.ID+"/decline", DeclineJSON{OfferID: o.ID}, &v); err != nil {
				return res, err
			}
			continue
		}
		adg := AcceptanceDigest(v.ID, o.ID)
		asig, err := ecdsa.SignASN1(rand.Reader, c.cred.Key, adg[:])
		if err != nil {
			return res, err
		}
		step("accepted offer " + o.ID + " (signed over offer and session id)")
		if err := c.do(ctx, http.MethodPost, "/v1/sessions/"+v.ID+"/accept", AcceptJSON{OfferID: o.ID, Signature: asig, ActivationCode: d.ActivationCode}, &v); err != nil {
			return res, err
		}
		res.Accepted = &o
	}
	if v.State != StateProvisioned || len(v.Sealed) == 0 {
		return res, fmt.Errorf("rcm: provisioning client: session %s ended in state %s", v.ID, v.State)
	}
	sum := sha256.Sum256(v.Sealed)
	step(fmt.Sprintf("sealed credentials received (%d bytes, sha256 %x...)", len(v.Sealed), sum[:4]))
	if res.Credentials, err = OpenCredentials(hk, v.ID, v.Sealed); err != nil {
		return res, err
	}
	step("credentials opened with the device HPKE key (RFC 9180): IMSI " + res.Credentials.IMSI.Masked())
	return res, nil
}

// Confirm tells the server the credentials are installed (the swap follows).
func (c *ProvisioningClient) Confirm(ctx context.Context, sessionID string) (SessionView, error) {
	var v SessionView
	err := c.do(ctx, http.MethodPost, "/v1/sessions/"+sessionID+"/confirm", nil, &v)
	return v, err
}

// Session reads the session.
func (c *ProvisioningClient) Session(ctx context.Context, sessionID string) (SessionView, error) {
	var v SessionView
	err := c.do(ctx, http.MethodGet, "/v1/sessions/"+sessionID, nil, &v)
	return v, err
}
