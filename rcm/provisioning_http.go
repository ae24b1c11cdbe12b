package rcm

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/rcmhss/rcmhss/hss"
)

// Provisioning API (RCM.md step 4: "over a mutually authenticated secure
// channel"). Every request carries the device's IMEI certificate as its TLS
// client certificate; the handler verifies it against the registered vendor
// CAs with the same rules as a provisioning attach (Verifier.
// VerifyDeviceCertificate), because the set of vendor CAs is store state that
// changes at run time and cannot be frozen into a tls.Config.

// maxProvisioningBody bounds request bodies.
const maxProvisioningBody = 16 << 10

// ProvisioningTLSConfig is the server side of the mutual TLS: TLS 1.3, and a
// client certificate is required (its chain is checked per request by the
// handler against the vendor CAs then registered).
func ProvisioningTLSConfig(serverCert tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{serverCert},
		ClientAuth:   tls.RequireAnyClientCert,
	}
}

// ProvisioningRoutes lists the routes of NewProvisioningHandler.
func ProvisioningRoutes() []string {
	return []string{
		"POST /v1/sessions",
		"GET /v1/sessions/{id}",
		"POST /v1/sessions/{id}/accept",
		"POST /v1/sessions/{id}/decline",
		"POST /v1/sessions/{id}/confirm",
	}
}

// StartSessionJSON is the body of POST /v1/sessions.
type StartSessionJSON struct {
	GuestIMSI     string `json:"guest_imsi"`
	HPKEKey       []byte `json:"hpke_key"`       // base64 SEC 1 uncompressed P-256 point
	HPKESignature []byte `json:"hpke_signature"` // base64 ASN.1 ECDSA over HPKEKeyDigest
}

// AcceptJSON is the body of POST /v1/sessions/{id}/accept.
type AcceptJSON struct {
	OfferID        string `json:"offer_id"`
	Signature      []byte `json:"signature"` // base64 ASN.1 ECDSA over AcceptanceDigest
	ActivationCode string `json:"activation_code,omitempty"`
}

// DeclineJSON is the body of POST /v1/sessions/{id}/decline.
type DeclineJSON struct {
	OfferID string `json:"offer_id"`
}

// ProvisioningError is the body of every error answer. Code is stable; it is
// what clients branch on.
type ProvisioningError struct {
	Code    string       `json:"code"`
	Message string       `json:"message"`
	Session *SessionView `json:"session,omitempty"`
}

type provisioningHandler struct {
	p   *Provisioner
	log *slog.Logger
	now func() time.Time
}

// NewProvisioningHandler serves the provisioning API for p. It must be served
// over TLS with ProvisioningTLSConfig (a request without a client certificate
// is refused).
func NewProvisioningHandler(p *Provisioner, log *slog.Logger) http.Handler {
	h := &provisioningHandler{p: p, log: log, now: p.now}
	handlers := map[string]func(http.ResponseWriter, *http.Request, *CertifiedDevice){
		"POST /v1/sessions":              h.start,
		"GET /v1/sessions/{id}":          h.get,
		"POST /v1/sessions/{id}/accept":  h.accept,
		"POST /v1/sessions/{id}/decline": h.decline,
		"POST /v1/sessions/{id}/confirm": h.confirm,
	}
	mux := http.NewServeMux()
	for _, r := range ProvisioningRoutes() {
		fn := handlers[r]
		mux.HandleFunc(r, func(w http.ResponseWriter, r *http.Request) {
			d, err := h.device(r)
			if err != nil {
				h.fail(w, r, err, nil)
				return
			}
			fn(w, r, d)
		})
	}
	return mux
}

// errDeviceNotAuthenticated wraps every client-certificate failure.
var errDeviceNotAuthenticated = errors.New("device not authenticated")

func (h *provisioningHandler) device(r *http.Request) (*CertifiedDevice, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil, fmt.Errorf("rcm: provisioning: no client certificate: %w", errDeviceNotAuthenticated)
	}
	d, err := h.p.verifier.VerifyDeviceCertificate(r.Context(), r.TLS.PeerCertificates, h.now())
	if err != nil {
		if errors.Is(err, hss.ErrStoreUnavailable) {
			return nil, err
		}
		return nil, fmt.Errorf("rcm: provisioning: %w: %w", errDeviceNotAuthenticated, err)
	}
	return d, nil
}

// provisioningStatus is the one table from domain errors to HTTP answers.
func provisioningStatus(err error) (int, string) {
	switch {
	case errors.Is(err, errDeviceNotAuthenticated):
		return http.StatusUnauthorized, "device_not_authenticated"
	case errors.Is(err, errProvBadRequest), errors.Is(err, hss.ErrInvalidInput), errors.Is(err, ErrMalformedBootstrap):
		return http.StatusBadRequest, "bad_request"
	case errors.Is(err, ErrUnknownSession):
		return http.StatusNotFound, "unknown_session"
	case errors.Is(err, ErrNoProviderAvailable):
		return http.StatusConflict, "no_provider_available"
	case errors.Is(err, ErrWrongOffer):
		return http.StatusConflict, "wrong_offer"
	case errors.Is(err, ErrIllegalTransition):
		return http.StatusConflict, "illegal_transition"
	case errors.Is(err, ErrActivationLocked):
		return http.StatusForbidden, "activation_locked"
	case errors.Is(err, ErrBadActivationCode):
		return http.StatusForbidden, "bad_activation_code"
	case errors.Is(err, ErrBadAcceptance):
		return http.StatusForbidden, "bad_signature"
	case errors.Is(err, ErrNoBinding), errors.Is(err, ErrBindingExpired), errors.Is(err, ErrIMEIMismatch):
		return http.StatusForbidden, "no_guest_binding"
	case errors.Is(err, ErrSessionBusy), errors.Is(err, ErrSessionConflict):
		return http.StatusServiceUnavailable, "session_busy"
	case errors.Is(err, ErrPoolExhausted):
		return http.StatusServiceUnavailable, "pool_exhausted"
	case errors.Is(err, hss.ErrStoreUnavailable), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, "unavailable"
	}
	return http.StatusInternalServerError, "internal"
}

var errProvBadRequest = errors.New("bad request")

func (h *provisioningHandler) fail(w http.ResponseWriter, r *http.Request, err error, v *SessionView) {
	status, code := provisioningStatus(err)
	msg := err.Error()
	if status >= 500 {
		if status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "1")
		}
		if status == http.StatusInternalServerError {
			h.log.ErrorContext(r.Context(), "rcm provisioning request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			msg = http.StatusText(status)
		}
	}
	if v != nil && v.ID == "" {
		v = nil
	}
	writeProvJSON(w, status, ProvisioningError{Code: code, Message: msg, Session: v})
}

func writeProvJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store") // sealed credentials must not sit in caches
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func decodeProvBody(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxProvisioningBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("rcm: provisioning: body: %w: %v", errProvBadRequest, err)
	}
	return nil
}

func (h *provisioningHandler) start(w http.ResponseWriter, r *http.Request, d *CertifiedDevice) {
	var body StartSessionJSON
	if err := decodeProvBody(r, &body); err != nil {
		h.fail(w, r, err, nil)
		return
	}
	req := StartRequest{Device: d, HPKEKey: body.HPKEKey, HPKESignature: body.HPKESignature}
	if body.GuestIMSI != "" {
		imsi, err := hss.ParseIMSI(body.GuestIMSI)
		if err != nil {
			h.fail(w, r, err, nil)
			return
		}
		req.GuestIMSI = imsi
	}
	v, err := h.p.Start(r.Context(), req)
	if err != nil {
		h.fail(w, r, err, &v)
		return
	}
	w.Header().Set("Location", "/v1/sessions/"+v.ID)
	writeProvJSON(w, http.StatusCreated, v)
}

func (h *provisioningHandler) get(w http.ResponseWriter, r *http.Request, d *CertifiedDevice) {
	v, err := h.p.Get(r.Context(), r.PathValue("id"), d)
	if err != nil {
		h.fail(w, r, err, nil)
		return
	}
	writeProvJSON(w, http.StatusOK, v)
}

func (h *provisioningHandler) accept(w http.ResponseWriter, r *http.Request, d *CertifiedDevice) {
	var body AcceptJSON
	if err := decodeProvBody(r, &body); err != nil {
		h.fail(w, r, err, nil)
		return
	}
	v, err := h.p.Accept(r.Context(), AcceptRequest{SessionID: r.PathValue("id"), Device: d, OfferID: body.OfferID,
		Signature: body.Signature, ActivationCode: body.ActivationCode})
	if err != nil {
		h.fail(w, r, err, nil)
		return
	}
	writeProvJSON(w, http.StatusOK, v)
}

func (h *provisioningHandler) decline(w http.ResponseWriter, r *http.Request, d *CertifiedDevice) {
	var body DeclineJSON
	if err := decodeProvBody(r, &body); err != nil {
		h.fail(w, r, err, nil)
		return
	}
	v, err := h.p.Decline(r.Context(), r.PathValue("id"), d, body.OfferID)
	if err != nil {
		h.fail(w, r, err, &v)
		return
	}
	writeProvJSON(w, http.StatusOK, v)
}

func (h *provisioningHandler) confirm(w http.ResponseWriter, r *http.Request, d *CertifiedDevice) {
	v, err := h.p.Confirm(r.Context(), r.PathValue("id"), d)
	if err != nil {
		h.fail(w, r, err, nil)
		return
	}
	writeProvJSON(w, http.StatusOK, v)
}
