package rcm

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rcmhss/rcmhss/hss"
)

// BindingCanceller cancels the serving MME's registration of a binding (a
// Diameter CLR); package rcm knows no Diameter, so the caller injects it
// (diameter/rcmext.Extension implements it).
type BindingCanceller interface {
	CancelBinding(ctx context.Context, b Binding) error
}

// AdminOption configures NewAdminHandler.
type AdminOption func(*adminHandler)

// WithCanceller makes DELETE /v1/rcm/bindings/{imsi} send the CLR first.
func WithCanceller(c BindingCanceller) AdminOption {
	return func(h *adminHandler) { h.cancel = c }
}

// WithAdminLogger sets the logger for failed requests (default: discard).
func WithAdminLogger(l *slog.Logger) AdminOption { return func(h *adminHandler) { h.log = l } }

// Paging of GET /v1/rcm/audit.
const (
	DefaultAuditPage = 100
	MaxAuditPage     = 1000
	maxAdminBody     = 4 << 20 // a profile with a few CA certificates, a CRL
)

// AdminRoutes lists the RCM admin API's routes as net/http ServeMux patterns;
// docs/openapi.yaml documents exactly these (with the other admin routes).
func AdminRoutes() []string {
	return []string{
		"GET /v1/rcm/profiles",
		"POST /v1/rcm/profiles",
		"GET /v1/rcm/profiles/{id}",
		"PUT /v1/rcm/profiles/{id}",
		"DELETE /v1/rcm/profiles/{id}",
		"GET /v1/rcm/revocations",
		"POST /v1/rcm/revocations/imeis",
		"POST /v1/rcm/revocations/serials",
		"POST /v1/rcm/revocations/crls",
		"GET /v1/rcm/bindings",
		"GET /v1/rcm/bindings/{imsi}",
		"DELETE /v1/rcm/bindings/{imsi}",
		"GET /v1/rcm/audit",
	}
}

type adminHandler struct {
	svc       *Service
	cancel    BindingCanceller
	log       *slog.Logger
	tokenHash [sha256.Size]byte
	hasToken  bool
}

// NewAdminHandler is the RCM admin REST API (issue 5: device profiles with
// vendor CA certificates as PEM, revocations, bindings, the audit log with its
// chain verification), routes under /v1/rcm/. Every request must carry
// "Authorization: Bearer <token>" (RFC 6750); an empty token refuses all.
func NewAdminHandler(svc *Service, token string, opts ...AdminOption) http.Handler {
	h := &adminHandler{svc: svc, log: slog.New(slog.DiscardHandler)}
	if token != "" {
		h.tokenHash, h.hasToken = sha256.Sum256([]byte(token)), true
	}
	for _, o := range opts {
		o(h)
	}
	handlers := map[string]http.HandlerFunc{
		"GET /v1/rcm/profiles":             h.listProfiles,
		"POST /v1/rcm/profiles":            h.createProfile,
		"GET /v1/rcm/profiles/{id}":        h.getProfile,
		"PUT /v1/rcm/profiles/{id}":        h.putProfile,
		"DELETE /v1/rcm/profiles/{id}":     h.deleteProfile,
		"GET /v1/rcm/revocations":          h.getRevocations,
		"POST /v1/rcm/revocations/imeis":   h.revokeIMEI,
		"POST /v1/rcm/revocations/serials": h.revokeSerial,
		"POST /v1/rcm/revocations/crls":    h.addCRL,
		"GET /v1/rcm/bindings":             h.listBindings,
		"GET /v1/rcm/bindings/{imsi}":      h.getBinding,
		"DELETE /v1/rcm/bindings/{imsi}":   h.deleteBinding,
		"GET /v1/rcm/audit":                h.listAudit,
	}
	mux := http.NewServeMux()
	for _, r := range AdminRoutes() {
		mux.HandleFunc(r, handlers[r])
	}
	return h.authenticate(mux)
}

func (h *adminHandler) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(strings.TrimSpace(got)))
		if !ok || !h.hasToken || subtle.ConstantTimeCompare(sum[:], h.tokenHash[:]) != 1 {
			challenge := `Bearer realm="rcmhss"`
			if ok {
				challenge += `, error="invalid_token"`
			}
			w.Header().Set("WWW-Authenticate", challenge)
			writeAdminJSON(w, http.StatusUnauthorized, adminError{Error: "missing or invalid bearer token"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

type adminError struct {
	Error string `json:"error"`
}

func writeAdminJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// errBadRequest marks client errors found by the handler itself.
var errBadRequest = errors.New("bad request")

// adminStatus is the one table from errors to HTTP status codes.
func adminStatus(err error) int {
	switch {
	case errors.Is(err, errBadRequest), errors.Is(err, ErrInvalidProfile), errors.Is(err, hss.ErrInvalidInput),
		errors.Is(err, ErrMalformedBootstrap), errors.Is(err, ErrUnknownCA):
		return http.StatusBadRequest
	case errors.Is(err, ErrUnknownProfile), errors.Is(err, ErrNoBinding):
		return http.StatusNotFound
	case errors.Is(err, ErrProfileExists):
		return http.StatusConflict
	case errors.Is(err, hss.ErrStoreUnavailable), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func (h *adminHandler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := adminStatus(err)
	msg := err.Error()
	if status >= 500 {
		h.log.ErrorContext(r.Context(), "rcm admin request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		msg = http.StatusText(status)
	}
	writeAdminJSON(w, status, adminError{Error: msg})
}

func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxAdminBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("rcm: admin: body: %w: %v", errBadRequest, err)
	}
	return nil
}

// profileJSON is a DeviceProfile with its vendor CAs as PEM (RFC 7468).
type profileJSON struct {
	ID         string   `json:"id"`
	ProviderID string   `json:"provider_id"`
	VendorCAs  []string `json:"vendor_cas"`
	Coverage   Coverage `json:"coverage"`
}

func toProfileJSON(p DeviceProfile) profileJSON {
	out := profileJSON{ID: p.ID, ProviderID: p.ProviderID, Coverage: p.Coverage, VendorCAs: []string{}}
	for _, der := range p.VendorCAs {
		out.VendorCAs = append(out.VendorCAs, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	}
	return out
}

func (j profileJSON) profile() (DeviceProfile, error) {
	p := DeviceProfile{ID: j.ID, ProviderID: j.ProviderID, Coverage: j.Coverage}
	for i, s := range j.VendorCAs {
		rest := []byte(s)
		n := 0
		for {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			if b.Type != "CERTIFICATE" {
				return p, fmt.Errorf("rcm: admin: vendor_cas[%d]: PEM block %q is not a CERTIFICATE: %w", i, b.Type, errBadRequest)
			}
			p.VendorCAs = append(p.VendorCAs, b.Bytes)
			n++
		}
		if n == 0 {
			return p, fmt.Errorf("rcm: admin: vendor_cas[%d]: no PEM certificate: %w", i, errBadRequest)
		}
	}
	return p, p.Validate()
}

func (h *adminHandler) listProfiles(w http.ResponseWriter, r *http.Request) {
	ps, err := h.svc.store.ListProfiles(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]profileJSON, 0, len(ps))
	for _, p := range ps {
		out = append(out, toProfileJSON(p))
	}
	writeAdminJSON(w, http.StatusOK, map[string]any{"profiles": out})
}

func (h *adminHandler) createProfile(w http.ResponseWriter, r *http.Request) {
	var j profileJSON
	if err := decodeBody(r, &j); err != nil {
		h.fail(w, r, err)
		return
	}
	p, err := j.profile()
	if err == nil {
		err = h.svc.store.CreateProfile(r.Context(), p)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.auditAdmin(r.Context(), "create profile "+p.ID)
	w.Header().Set("Location", "/v1/rcm/profiles/"+p.ID)
	writeAdminJSON(w, http.StatusCreated, toProfileJSON(p))
}

func (h *adminHandler) getProfile(w http.ResponseWriter, r *http.Request) {
	p, err := h.svc.store.GetProfile(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeAdminJSON(w, http.StatusOK, toProfileJSON(p))
}

func (h *adminHandler) putProfile(w http.ResponseWriter, r *http.Request) {
	var j profileJSON
	if err := decodeBody(r, &j); err != nil {
		h.fail(w, r, err)
		return
	}
	if j.ID != r.PathValue("id") {
		h.fail(w, r, fmt.Errorf("rcm: admin: body id %q is not the path's: %w", j.ID, errBadRequest))
		return
	}
	p, err := j.profile()
	if err == nil {
		err = h.svc.store.UpdateProfile(r.Context(), p)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.auditAdmin(r.Context(), "update profile "+p.ID)
	writeAdminJSON(w, http.StatusOK, toProfileJSON(p))
}

func (h *adminHandler) deleteProfile(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := h.svc.store.DeleteProfile(r.Context(), id); err != nil {
		h.fail(w, r, err)
		return
	}
	h.auditAdmin(r.Context(), "delete profile "+id)
	w.WriteHeader(http.StatusNoContent)
}

// auditAdmin records an admin change to device profiles or revocations.
func (h *adminHandler) auditAdmin(ctx context.Context, what string) {
	rec := AuditRecord{Time: h.svc.now().UTC(), Event: AuditProfileAdded, Reason: what}
	if _, err := h.svc.store.AppendAudit(ctx, rec); err != nil {
		h.log.ErrorContext(ctx, "rcm audit append failed", "err", err)
	}
}

type revocationsJSON struct {
	IMEIs   []IMEI             `json:"imeis"`
	Serials []SerialRevocation `json:"serials"`
	CRLs    []string           `json:"crls"`
}

func (h *adminHandler) getRevocations(w http.ResponseWriter, r *http.Request) {
	rv, err := h.svc.store.GetRevocations(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := revocationsJSON{IMEIs: rv.IMEIs, Serials: rv.Serials, CRLs: []string{}}
	if out.IMEIs == nil {
		out.IMEIs = []IMEI{}
	}
	if out.Serials == nil {
		out.Serials = []SerialRevocation{}
	}
	for _, der := range rv.CRLs {
		out.CRLs = append(out.CRLs, string(pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})))
	}
	writeAdminJSON(w, http.StatusOK, out)
}

func (h *adminHandler) revokeIMEI(w http.ResponseWriter, r *http.Request) {
	var body struct {
		IMEI string `json:"imei"`
	}
	if err := decodeBody(r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	imei, err := ParseIMEI(body.IMEI)
	if err == nil {
		err = h.svc.store.RevokeIMEI(r.Context(), imei)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.auditAdmin(r.Context(), "revoke imei "+string(imei))
	w.WriteHeader(http.StatusNoContent)
}

func (h *adminHandler) revokeSerial(w http.ResponseWriter, r *http.Request) {
	var sr SerialRevocation
	if err := decodeBody(r, &sr); err != nil {
		h.fail(w, r, err)
		return
	}
	if sr.Issuer == (Fingerprint{}) {
		h.fail(w, r, fmt.Errorf("rcm: admin: issuer: the SHA-256 of the issuing CA certificate is required: %w", errBadRequest))
		return
	}
	if _, ok := new(big.Int).SetString(sr.Serial, 16); !ok || len(sr.Serial) > 40 {
		h.fail(w, r, fmt.Errorf("rcm: admin: serial: must be at most 40 hex digits (RFC 5280 4.1.2.2): %w", errBadRequest))
		return
	}
	sr.Serial = strings.ToLower(sr.Serial)
	if err := h.svc.store.RevokeSerial(r.Context(), sr); err != nil {
		h.fail(w, r, err)
		return
	}
	h.auditAdmin(r.Context(), "revoke serial "+sr.Serial+" of "+sr.Issuer.String())
	w.WriteHeader(http.StatusNoContent)
}

// addCRL takes a CRL as PEM ("X509 CRL") or DER (application/pkix-crl, RFC
// 5280) and stores it under its issuer, after checking that a vendor CA of a
// registered profile signed it (RFC 5280 6.3.3 (f)).
func (h *adminHandler) addCRL(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxAdminBody))
	if err != nil {
		h.fail(w, r, fmt.Errorf("rcm: admin: crl: %w: %v", errBadRequest, err))
		return
	}
	der := body
	if b, _ := pem.Decode(body); b != nil {
		if b.Type != "X509 CRL" {
			h.fail(w, r, fmt.Errorf("rcm: admin: crl: PEM block %q is not an X509 CRL: %w", b.Type, errBadRequest))
			return
		}
		der = b.Bytes
	}
	ps, err := h.svc.store.ListProfiles(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var cas []*x509.Certificate
	for _, p := range ps {
		cs, err := p.CACertificates()
		if err != nil {
			continue // a profile that no longer parses vouches for nothing
		}
		cas = append(cas, cs...)
	}
	_, issuer, err := ParseCRL(der, cas)
	if err != nil {
		if !errors.Is(err, ErrUnknownCA) {
			err = fmt.Errorf("%w: %w", errBadRequest, err)
		}
		h.fail(w, r, err)
		return
	}
	if err := h.svc.store.AddCRL(r.Context(), issuer, der); err != nil {
		h.fail(w, r, err)
		return
	}
	h.auditAdmin(r.Context(), "add crl of "+issuer.String())
	writeAdminJSON(w, http.StatusCreated, map[string]string{"issuer": issuer.String()})
}

// allBindings lists every binding: ExpiredBindings at the end of time.
func (h *adminHandler) allBindings(ctx context.Context) ([]Binding, error) {
	return h.svc.store.ExpiredBindings(ctx, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), -1)
}

func (h *adminHandler) listBindings(w http.ResponseWriter, r *http.Request) {
	bs, err := h.allBindings(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if bs == nil {
		bs = []Binding{}
	}
	writeAdminJSON(w, http.StatusOK, map[string]any{"bindings": bs})
}

func (h *adminHandler) bindingOf(r *http.Request) (Binding, error) {
	imsi, err := hss.ParseIMSI(r.PathValue("imsi"))
	if err != nil {
		return Binding{}, fmt.Errorf("rcm: admin: imsi: %w: %v", errBadRequest, err)
	}
	return h.svc.store.GetBinding(r.Context(), imsi)
}

func (h *adminHandler) getBinding(w http.ResponseWriter, r *http.Request) {
	b, err := h.bindingOf(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeAdminJSON(w, http.StatusOK, b)
}

// deleteBinding ends a guest binding now: the serving MME gets a CLR (when a
// canceller is configured), then the binding goes and the audit log says so.
// A CLR that fails is logged; the binding is deleted anyway, so that a
// vanished MME cannot keep it alive.
func (h *adminHandler) deleteBinding(w http.ResponseWriter, r *http.Request) {
	b, err := h.bindingOf(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if h.cancel != nil {
		if err := h.cancel.CancelBinding(r.Context(), b); err != nil {
			h.log.WarnContext(r.Context(), "rcm admin: cancel location failed", "imsi", b.GuestIMSI, "mme", b.MMEHost, "error", err)
		}
	}
	if err := h.svc.store.DeleteBinding(r.Context(), b.GuestIMSI); err != nil {
		h.fail(w, r, err)
		return
	}
	rec := NewAuditRecord(h.svc.now(), AuditExpired, b.GuestIMSI, b.IMEI, errors.New("deleted by operator"))
	if _, err := h.svc.store.AppendAudit(r.Context(), rec); err != nil {
		h.log.ErrorContext(r.Context(), "rcm audit append failed", "err", err)
	}
	w.WriteHeader(http.StatusNoContent)
}

// auditPage is one page of the audit log. Verified says whether the page's
// hashes recompute, link to each other and to the entry before the page
// (rcm.VerifyChain); ChainError says why not.
type auditPage struct {
	Entries    []AuditEntry `json:"entries"`
	Verified   bool         `json:"verified"`
	ChainError string       `json:"chain_error,omitempty"`
	// Next is the "after" of the next page; absent on the last page.
	Next *uint64 `json:"next,omitempty"`
}

func (h *adminHandler) listAudit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var after uint64
	limit := DefaultAuditPage
	if s := q.Get("after"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			h.fail(w, r, fmt.Errorf("rcm: admin: after: must be a sequence number: %w", errBadRequest))
			return
		}
		after = v
	}
	if s := q.Get("limit"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 || v > MaxAuditPage {
			h.fail(w, r, fmt.Errorf("rcm: admin: limit: must be 1..%d: %w", MaxAuditPage, errBadRequest))
			return
		}
		limit = v
	}
	ctx := r.Context()
	entries, err := h.svc.store.ListAudit(ctx, after, limit+1)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	page := auditPage{Entries: entries}
	if len(entries) > limit {
		page.Entries = entries[:limit]
		n := page.Entries[limit-1].Seq
		page.Next = &n
	}
	if page.Entries == nil {
		page.Entries = []AuditEntry{}
	}
	check := page.Entries
	if after > 0 && len(check) > 0 {
		prev, err := h.svc.store.ListAudit(ctx, after-1, 1)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		check = append(prev, check...)
	}
	if err := VerifyChain(check); err != nil {
		page.ChainError = err.Error()
	} else {
		page.Verified = true
	}
	writeAdminJSON(w, http.StatusOK, page)
}
