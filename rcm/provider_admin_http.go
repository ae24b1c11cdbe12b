package rcm

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/rcmhss/rcmhss/hss"
)

// Provider admin API (issue 6 item 1): each credential provider manages its
// own profiles, IMSI pool, offers, pre-registrations and sees its own
// sessions, under /v1/providers/{id}/..., with its own bearer token. A token
// authorises exactly the provider it was issued to: another provider's path
// answers 403 whatever the token, and records are looked up only within the
// provider of the path, so an id of another provider's record answers 404.
// Creating a provider (and so issuing its token) needs the operator token.

// ProviderAdminRoutes lists the routes of NewProviderAdminHandler.
func ProviderAdminRoutes() []string {
	return []string{
		"POST /v1/providers",
		"GET /v1/providers/{id}",
		"PUT /v1/providers/{id}/pools/imsi",
		"GET /v1/providers/{id}/profiles",
		"POST /v1/providers/{id}/profiles",
		"DELETE /v1/providers/{id}/profiles/{pid}",
		"GET /v1/providers/{id}/offers",
		"PUT /v1/providers/{id}/offers/{oid}",
		"GET /v1/providers/{id}/offers/{oid}",
		"DELETE /v1/providers/{id}/offers/{oid}",
		"GET /v1/providers/{id}/preregistrations",
		"PUT /v1/providers/{id}/preregistrations/{imei}",
		"DELETE /v1/providers/{id}/preregistrations/{imei}",
		"GET /v1/providers/{id}/sessions",
		"GET /v1/providers/{id}/sessions/{sid}",
	}
}

// ProviderJSON is a provider as the admin API reads and writes it. OP is
// write-only (hex); it is never returned.
type ProviderJSON struct {
	ID         string               `json:"id"`
	Name       string               `json:"name"`
	Kind       ProviderKind         `json:"kind"`
	ProfileIDs []string             `json:"profile_ids"`
	IMSIPool   []NumberRange        `json:"imsi_pool"`
	KeyPolicy  KeyPolicy            `json:"key_policy"`
	OP         string               `json:"op,omitempty"`
	AMF        string               `json:"amf"`
	Template   SubscriptionTemplate `json:"template"`
}

// CreatedProviderJSON answers POST /v1/providers: the only time the
// provider's token is shown.
type CreatedProviderJSON struct {
	Provider ProviderJSON `json:"provider"`
	Token    string       `json:"token"`
}

// OfferJSON is an offer as written by a provider: the activation code in
// clear, hashed on arrival and never returned.
type OfferJSON struct {
	PlanName        string `json:"plan_name"`
	Terms           string `json:"terms"`
	Price           Price  `json:"price"`
	DurationSeconds int64  `json:"duration_seconds,omitempty"`
	DataCapBytes    uint64 `json:"data_cap_bytes,omitempty"`
	ActivationCode  string `json:"activation_code,omitempty"`
	MaxCodeAttempts int    `json:"max_code_attempts,omitempty"`
}

// PreRegistrationJSON is a pre-registration as written by a provider.
type PreRegistrationJSON struct {
	OfferID         string    `json:"offer_id"`
	ValidUntil      time.Time `json:"valid_until"`
	RenewForSeconds int64     `json:"renew_for_seconds,omitempty"`
}

// ProviderSessionJSON is what a provider sees of a session: no key material,
// no sealed bytes, the IMSI masked.
type ProviderSessionJSON struct {
	ID         string       `json:"id"`
	State      SessionState `json:"state"`
	IMEI       IMEI         `json:"imei"`
	OfferID    string       `json:"offer_id,omitempty"`
	IMSI       string       `json:"imsi,omitempty"`
	Reason     string       `json:"reason,omitempty"`
	CreatedAt  time.Time    `json:"created_at"`
	ExpiresAt  time.Time    `json:"expires_at"`
	PreRegistd bool         `json:"pre_registered,omitempty"`
}

type providerAdminHandler struct {
	store         ProvisioningStore
	profiles      Store
	operatorToken [32]byte
	log           *slog.Logger
}

// NewProviderAdminHandler serves the provider admin API over store (providers,
// offers, pre-registrations, sessions) and profiles (the HSS's RCM store,
// where device profiles live). operatorToken authorises POST /v1/providers.
func NewProviderAdminHandler(store ProvisioningStore, profiles Store, operatorToken string, log *slog.Logger) http.Handler {
	h := &providerAdminHandler{store: store, profiles: profiles, operatorToken: sha256.Sum256([]byte(operatorToken)), log: log}
	handlers := map[string]http.HandlerFunc{
		"PUT /v1/providers/{id}/pools/imsi":                 h.putIMSIPool,
		"GET /v1/providers/{id}":                            h.getProvider,
		"GET /v1/providers/{id}/profiles":                   h.listProfiles,
		"POST /v1/providers/{id}/profiles":                  h.createProfile,
		"DELETE /v1/providers/{id}/profiles/{pid}":          h.deleteProfile,
		"GET /v1/providers/{id}/offers":                     h.listOffers,
		"PUT /v1/providers/{id}/offers/{oid}":               h.putOffer,
		"GET /v1/providers/{id}/offers/{oid}":               h.getOffer,
		"DELETE /v1/providers/{id}/offers/{oid}":            h.deleteOffer,
		"GET /v1/providers/{id}/preregistrations":           h.listPreRegistrations,
		"PUT /v1/providers/{id}/preregistrations/{imei}":    h.putPreRegistration,
		"DELETE /v1/providers/{id}/preregistrations/{imei}": h.deletePreRegistration,
		"GET /v1/providers/{id}/sessions":                   h.listSessions,
		"GET /v1/providers/{id}/sessions/{sid}":             h.getSession,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/providers", h.createProvider)
	for route, fn := range handlers {
		mux.Handle(route, h.authorise(fn))
	}
	return mux
}

func bearer(r *http.Request) (string, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return strings.TrimSpace(tok), ok && strings.TrimSpace(tok) != ""
}

var (
	errPAUnauthorized = errors.New("missing or invalid bearer token")
	errPAForbidden    = errors.New("token does not authorise this provider")
	errPABadRequest   = errors.New("bad request")
)

// authorise lets a request through only with the token of the provider named
// in the path. An unknown provider id answers 403 like a foreign one, so that
// provider ids cannot be probed.
func (h *providerAdminHandler) authorise(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := bearer(r)
		if !ok {
			h.fail(w, r, errPAUnauthorized)
			return
		}
		p, err := h.store.GetProvider(r.Context(), r.PathValue("id"))
		if err != nil && !errors.Is(err, ErrUnknownProvider) {
			h.fail(w, r, err)
			return
		}
		sum := sha256.Sum256([]byte(tok))
		if err != nil || subtle.ConstantTimeCompare(sum[:], p.TokenHash[:]) != 1 {
			h.fail(w, r, errPAForbidden)
			return
		}
		next(w, r)
	})
}

func providerAdminStatus(err error) int {
	switch {
	case errors.Is(err, errPAUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, errPAForbidden):
		return http.StatusForbidden
	case errors.Is(err, errPABadRequest), errors.Is(err, ErrInvalidProvider), errors.Is(err, ErrInvalidOffer),
		errors.Is(err, ErrInvalidProfile), errors.Is(err, hss.ErrInvalidInput):
		return http.StatusBadRequest
	case errors.Is(err, ErrUnknownProvider), errors.Is(err, ErrUnknownOffer), errors.Is(err, ErrUnknownProfile),
		errors.Is(err, ErrNoPreRegistration), errors.Is(err, ErrUnknownSession):
		return http.StatusNotFound
	case errors.Is(err, ErrProviderExists), errors.Is(err, ErrProfileExists):
		return http.StatusConflict
	case errors.Is(err, hss.ErrStoreUnavailable), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func (h *providerAdminHandler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := providerAdminStatus(err)
	msg := err.Error()
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="rcmhss-providers"`)
	}
	if status >= 500 {
		h.log.ErrorContext(r.Context(), "rcm provider admin request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = http.StatusText(status)
	}
	writeProvJSON(w, status, map[string]string{"error": msg})
}

func decodePABody(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("rcm: provider admin: body: %w: %v", errPABadRequest, err)
	}
	return nil
}

func toProviderJSON(p Provider) ProviderJSON {
	return ProviderJSON{ID: p.ID, Name: p.Name, Kind: p.Kind, ProfileIDs: p.ProfileIDs, IMSIPool: p.IMSIPool,
		KeyPolicy: p.KeyPolicy, AMF: hex.EncodeToString(p.AMF[:]), Template: p.Template}
}

func (h *providerAdminHandler) createProvider(w http.ResponseWriter, r *http.Request) {
	tok, ok := bearer(r)
	sum := sha256.Sum256([]byte(tok))
	if !ok || subtle.ConstantTimeCompare(sum[:], h.operatorToken[:]) != 1 {
		h.fail(w, r, errPAUnauthorized)
		return
	}
	var j ProviderJSON
	if err := decodePABody(r, &j); err != nil {
		h.fail(w, r, err)
		return
	}
	p := Provider{ID: j.ID, Name: j.Name, Kind: j.Kind, ProfileIDs: j.ProfileIDs, IMSIPool: j.IMSIPool, KeyPolicy: j.KeyPolicy, Template: j.Template}
	var err error
	if p.OP, err = hss.ParseKey(j.OP); err != nil {
		h.fail(w, r, fmt.Errorf("rcm: provider admin: op: %w", errPABadRequest))
		return
	}
	amf, err := hex.DecodeString(j.AMF)
	if err != nil || len(amf) != 2 {
		h.fail(w, r, fmt.Errorf("rcm: provider admin: amf must be 4 hex digits: %w", errPABadRequest))
		return
	}
	copy(p.AMF[:], amf)
	if err := p.Validate(); err != nil {
		h.fail(w, r, err)
		return
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		h.fail(w, r, err)
		return
	}
	token := hex.EncodeToString(raw[:])
	p.TokenHash = sha256.Sum256([]byte(token))
	if err := h.store.CreateProvider(r.Context(), p); err != nil {
		h.fail(w, r, err)
		return
	}
	writeProvJSON(w, http.StatusCreated, CreatedProviderJSON{Provider: toProviderJSON(p), Token: token})
}

func (h *providerAdminHandler) provider(r *http.Request) (Provider, error) {
	return h.store.GetProvider(r.Context(), r.PathValue("id"))
}

func (h *providerAdminHandler) getProvider(w http.ResponseWriter, r *http.Request) {
	p, err := h.provider(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeProvJSON(w, http.StatusOK, toProviderJSON(p))
}

func (h *providerAdminHandler) putIMSIPool(w http.ResponseWriter, r *http.Request) {
	var ranges []NumberRange
	if err := decodePABody(r, &ranges); err != nil {
		h.fail(w, r, err)
		return
	}
	p, err := h.provider(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	p.IMSIPool = ranges
	if err := p.Validate(); err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.store.UpdateProvider(r.Context(), p); err != nil {
		h.fail(w, r, err)
		return
	}
	writeProvJSON(w, http.StatusOK, toProviderJSON(p))
}

// ownProfiles lists the device profiles that belong to the provider.
func (h *providerAdminHandler) ownProfiles(ctx context.Context, id string) ([]DeviceProfile, error) {
	all, err := h.profiles.ListProfiles(ctx)
	if err != nil {
		return nil, err
	}
	out := []DeviceProfile{}
	for _, p := range all {
		if p.ProviderID == id {
			out = append(out, p)
		}
	}
	return out, nil
}

func (h *providerAdminHandler) listProfiles(w http.ResponseWriter, r *http.Request) {
	ps, err := h.ownProfiles(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeProvJSON(w, http.StatusOK, ps)
}

// createProfile registers a device profile for the provider of the path; the
// profile's provider_id is forced to it (a provider cannot register a profile
// in another's name), and the profile joins the provider's profile ids.
func (h *providerAdminHandler) createProfile(w http.ResponseWriter, r *http.Request) {
	var dp DeviceProfile
	if err := decodePABody(r, &dp); err != nil {
		h.fail(w, r, err)
		return
	}
	id := r.PathValue("id")
	if dp.ProviderID != "" && dp.ProviderID != id {
		h.fail(w, r, fmt.Errorf("rcm: provider admin: provider_id is not the provider of the path: %w", errPAForbidden))
		return
	}
	dp.ProviderID = id
	if err := dp.Validate(); err != nil {
		h.fail(w, r, err)
		return
	}
	p, err := h.provider(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.profiles.CreateProfile(r.Context(), dp); err != nil {
		h.fail(w, r, err)
		return
	}
	if !slices.Contains(p.ProfileIDs, dp.ID) {
		p.ProfileIDs = append(p.ProfileIDs, dp.ID)
		if err := h.store.UpdateProvider(r.Context(), p); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	writeProvJSON(w, http.StatusCreated, dp)
}

func (h *providerAdminHandler) deleteProfile(w http.ResponseWriter, r *http.Request) {
	dp, err := h.profiles.GetProfile(r.Context(), r.PathValue("pid"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if dp.ProviderID != r.PathValue("id") {
		h.fail(w, r, fmt.Errorf("rcm: provider admin: %w", ErrUnknownProfile))
		return
	}
	if err := h.profiles.DeleteProfile(r.Context(), dp.ID); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *providerAdminHandler) listOffers(w http.ResponseWriter, r *http.Request) {
	os, err := h.store.ListOffers(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]OfferView, 0, len(os))
	for i := range os {
		out = append(out, os[i].View())
	}
	writeProvJSON(w, http.StatusOK, out)
}

func (h *providerAdminHandler) getOffer(w http.ResponseWriter, r *http.Request) {
	o, err := h.store.GetOffer(r.Context(), r.PathValue("id"), r.PathValue("oid"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeProvJSON(w, http.StatusOK, o.View())
}

func (h *providerAdminHandler) putOffer(w http.ResponseWriter, r *http.Request) {
	var j OfferJSON
	if err := decodePABody(r, &j); err != nil {
		h.fail(w, r, err)
		return
	}
	o := Offer{ID: r.PathValue("oid"), ProviderID: r.PathValue("id"), PlanName: j.PlanName, Terms: j.Terms, Price: j.Price,
		Duration: time.Duration(j.DurationSeconds) * time.Second, DataCapBytes: j.DataCapBytes, MaxCodeAttempts: j.MaxCodeAttempts}
	if j.DurationSeconds < 0 || j.DurationSeconds > int64(100*365*24*3600) {
		h.fail(w, r, fmt.Errorf("rcm: provider admin: duration_seconds out of range: %w", errPABadRequest))
		return
	}
	if err := o.Validate(); err != nil {
		h.fail(w, r, err)
		return
	}
	if j.ActivationCode != "" {
		var err error
		if o.ActivationCode, err = HashActivationCode(j.ActivationCode); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	if err := h.store.PutOffer(r.Context(), o); err != nil {
		h.fail(w, r, err)
		return
	}
	writeProvJSON(w, http.StatusOK, o.View())
}

func (h *providerAdminHandler) deleteOffer(w http.ResponseWriter, r *http.Request) {
	if err := h.store.DeleteOffer(r.Context(), r.PathValue("id"), r.PathValue("oid")); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *providerAdminHandler) listPreRegistrations(w http.ResponseWriter, r *http.Request) {
	rs, err := h.store.ListPreRegistrations(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if rs == nil {
		rs = []PreRegistration{}
	}
	writeProvJSON(w, http.StatusOK, rs)
}

func (h *providerAdminHandler) putPreRegistration(w http.ResponseWriter, r *http.Request) {
	var j PreRegistrationJSON
	if err := decodePABody(r, &j); err != nil {
		h.fail(w, r, err)
		return
	}
	imei, err := ParseIMEI(r.PathValue("imei"))
	if err != nil {
		h.fail(w, r, fmt.Errorf("rcm: provider admin: imei: %w", errPABadRequest))
		return
	}
	id := r.PathValue("id")
	if _, err := h.store.GetOffer(r.Context(), id, j.OfferID); err != nil {
		h.fail(w, r, err)
		return
	}
	// One pre-registration per IMEI: another provider's is not replaced.
	if cur, err := h.store.GetPreRegistration(r.Context(), imei); err == nil && cur.ProviderID != id {
		h.fail(w, r, fmt.Errorf("rcm: provider admin: imei pre-registered by another provider: %w", errPAForbidden))
		return
	} else if err != nil && !errors.Is(err, ErrNoPreRegistration) {
		h.fail(w, r, err)
		return
	}
	pr := PreRegistration{IMEI: imei, ProviderID: id, OfferID: j.OfferID, ValidUntil: j.ValidUntil.UTC(),
		RenewFor: time.Duration(j.RenewForSeconds) * time.Second}
	if err := pr.Validate(); err != nil {
		h.fail(w, r, fmt.Errorf("%w: %w", errPABadRequest, err))
		return
	}
	if err := h.store.PutPreRegistration(r.Context(), pr); err != nil {
		h.fail(w, r, err)
		return
	}
	writeProvJSON(w, http.StatusOK, pr)
}

func (h *providerAdminHandler) deletePreRegistration(w http.ResponseWriter, r *http.Request) {
	imei, err := ParseIMEI(r.PathValue("imei"))
	if err != nil {
		h.fail(w, r, fmt.Errorf("rcm: provider admin: imei: %w", errPABadRequest))
		return
	}
	cur, err := h.store.GetPreRegistration(r.Context(), imei)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if cur.ProviderID != r.PathValue("id") {
		h.fail(w, r, fmt.Errorf("rcm: provider admin: %w", ErrNoPreRegistration))
		return
	}
	if err := h.store.DeletePreRegistration(r.Context(), imei); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func toProviderSession(s Session) ProviderSessionJSON {
	j := ProviderSessionJSON{ID: s.ID, State: s.State, IMEI: s.IMEI, OfferID: s.OfferID, Reason: s.Reason,
		CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt, PreRegistd: s.PreRegistered}
	if s.IMSI != "" {
		j.IMSI = s.IMSI.Masked()
	}
	return j
}

func (h *providerAdminHandler) listSessions(w http.ResponseWriter, r *http.Request) {
	ss, err := h.store.ListSessions(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]ProviderSessionJSON, 0, len(ss))
	for _, s := range ss {
		out = append(out, toProviderSession(s))
	}
	writeProvJSON(w, http.StatusOK, out)
}

func (h *providerAdminHandler) getSession(w http.ResponseWriter, r *http.Request) {
	s, err := h.store.GetSession(r.Context(), r.PathValue("sid"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !s.Concerns(r.PathValue("id")) {
		h.fail(w, r, fmt.Errorf("rcm: provider admin: %w", ErrUnknownSession))
		return
	}
	writeProvJSON(w, http.StatusOK, toProviderSession(s))
}
