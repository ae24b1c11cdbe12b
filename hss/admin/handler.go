package admin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/rcmhss/rcmhss/hss"
)

// Service is what the admin API needs of the HSS. *hss.HSS implements it; the
// observer hooks of hss.HSS turn updates and deletions into IDR / DSR / CLR.
type Service interface {
	CreateSubscriber(ctx context.Context, s *hss.Subscriber) error
	GetSubscriber(ctx context.Context, imsi hss.IMSI) (*hss.Subscriber, error)
	Registrations(ctx context.Context, imsi hss.IMSI) (hss.Registrations, error)
	UpdateSubscriber(ctx context.Context, imsi hss.IMSI, fn func(*hss.Subscriber) error) (*hss.Subscriber, error)
	DeleteSubscriber(ctx context.Context, imsi hss.IMSI) error
	ListSubscribers(ctx context.Context, cursor string, limit int) ([]hss.IMSI, string, error)
}

// Options configures the Handler.
type Options struct {
	// Token is the bearer token every request must present. An empty Token
	// refuses every request: the API fails closed.
	Token string
	// Logger receives one line per failed request (nil: discard).
	Logger *slog.Logger
	// MaxImportErrors caps the per-line errors an import reports (default 100).
	MaxImportErrors int
}

// Paging limits of GET /v1/subscribers.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// maxDocumentBytes bounds one JSON document (a POST or PATCH body, one import line).
const maxDocumentBytes = 1 << 20

// Routes lists the API's routes as net/http ServeMux patterns. docs/openapi.yaml
// documents exactly these.
func Routes() []string {
	return []string{
		"POST /v1/subscribers",
		"GET /v1/subscribers",
		"POST /v1/subscribers:import",
		"GET /v1/subscribers/{imsi}",
		"PATCH /v1/subscribers/{imsi}",
		"DELETE /v1/subscribers/{imsi}",
		"POST /v1/reset",
	}
}

type handler struct {
	svc       Service
	log       *slog.Logger
	tokenHash [sha256.Size]byte
	hasToken  bool
	maxErrs   int
}

// NewHandler returns the admin API. Paths outside Routes answer 404 (or 405 for a
// known path with another method), after authentication.
func NewHandler(svc Service, opts Options) http.Handler {
	h := &handler{svc: svc, log: opts.Logger, maxErrs: opts.MaxImportErrors}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.maxErrs <= 0 {
		h.maxErrs = 100
	}
	if opts.Token != "" {
		h.tokenHash, h.hasToken = sha256.Sum256([]byte(opts.Token)), true
	}
	mux := http.NewServeMux()
	handlers := map[string]http.HandlerFunc{
		"POST /v1/subscribers":          h.create,
		"GET /v1/subscribers":           h.list,
		"POST /v1/subscribers:import":   h.importSubscribers,
		"GET /v1/subscribers/{imsi}":    h.get,
		"PATCH /v1/subscribers/{imsi}":  h.patch,
		"DELETE /v1/subscribers/{imsi}": h.delete,
		"POST /v1/reset":                h.reset, // reset.go
	}
	for _, r := range Routes() {
		mux.HandleFunc(r, handlers[r])
	}
	return h.authenticate(mux)
}

// authenticate checks "Authorization: Bearer <token>" (RFC 6750 2.1). Comparing
// SHA-256 digests in constant time hides both the token and its length.
func (h *handler) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(strings.TrimSpace(got)))
		if !ok || !h.hasToken || subtle.ConstantTimeCompare(sum[:], h.tokenHash[:]) != 1 {
			// RFC 6750 3: a 401 names the scheme; invalid_token only when one was sent.
			challenge := `Bearer realm="rcmhss"`
			if ok {
				challenge += `, error="invalid_token"`
			}
			w.Header().Set("WWW-Authenticate", challenge)
			writeJSON(w, http.StatusUnauthorized, errorBody{Error: "missing or invalid bearer token"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

type errorBody struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// errorStatus is the one table from domain errors to HTTP status codes.
func errorStatus(err error) int {
	switch {
	case errors.Is(err, hss.ErrInvalidInput):
		return http.StatusBadRequest
	case errors.Is(err, hss.ErrUnknownSubscriber):
		return http.StatusNotFound
	case errors.Is(err, hss.ErrSubscriberExists), errors.Is(err, hss.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, hss.ErrStoreUnavailable), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// writeError answers err. Domain errors carry no key material (hss.Key redacts
// itself), so their text is safe to return; anything unexpected is logged here,
// once, and answered with a generic message.
func (h *handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := errorStatus(err)
	body := errorBody{Error: err.Error()}
	var ve *hss.ValidationError
	if errors.As(err, &ve) {
		body.Field = ve.Field
	}
	// The route, not the path: a path carries an IMSI, masked at Info and above.
	switch status {
	case http.StatusInternalServerError:
		h.log.ErrorContext(r.Context(), "admin: request failed", "route", r.Pattern, "imsi", hss.IMSI(r.PathValue("imsi")), "err", err)
		body.Error = "internal error"
	case http.StatusServiceUnavailable:
		h.log.WarnContext(r.Context(), "admin: store unavailable", "route", r.Pattern, "err", err)
		body.Error = "store unavailable"
	}
	writeJSON(w, status, body)
}

// decodeStrict decodes exactly one JSON value, refusing unknown fields, so that
// a misspelt field is an error rather than silently ignored.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return &hss.ValidationError{Field: "body", Reason: "must hold exactly one JSON object"}
	}
	return nil
}

// jsonError turns an encoding/json error into a ValidationError naming the field.
// The messages of encoding/json name types and offsets, never the values.
func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "body"
		}
		return &hss.ValidationError{Field: field, Reason: "must be of type " + te.Type.String()}
	}
	if msg, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name, ok := echoable(strings.Trim(msg, `"`))
		if !ok {
			name = "body"
		}
		return &hss.ValidationError{Field: name, Reason: "unknown field"}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &hss.ValidationError{Field: "body", Reason: fmt.Sprintf("malformed JSON at offset %d", se.Offset)}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &hss.ValidationError{Field: "body", Reason: "truncated or empty JSON"}
	}
	return &hss.ValidationError{Field: "body", Reason: "malformed JSON"}
}

// echoable reports whether client text may be repeated in an error: short,
// and without a run of 16 or more hex digits, the shape of key material that
// a misplaced column or field could carry.
func echoable(s string) (string, bool) {
	if len(s) > 64 {
		return "", false
	}
	run := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' {
			if run++; run >= 16 {
				return "", false
			}
			continue
		}
		run = 0
	}
	return s, true
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxDocumentBytes))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, &hss.ValidationError{Field: "body", Reason: fmt.Sprintf("larger than %d bytes", maxDocumentBytes)}
	}
	return data, err
}

func (h *handler) create(w http.ResponseWriter, r *http.Request) {
	data, err := readBody(w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	var doc subscriberDoc
	if err := decodeStrict(data, &doc); err != nil {
		h.writeError(w, r, err)
		return
	}
	s, err := h.createDoc(r.Context(), &doc)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.writeSubscriber(w, r, s.IMSI, http.StatusCreated)
}

func (h *handler) createDoc(ctx context.Context, doc *subscriberDoc) (*hss.Subscriber, error) {
	if doc.K == nil {
		return nil, &hss.ValidationError{Field: "k", Reason: "is required"}
	}
	if doc.OPc == nil && doc.OP == nil {
		return nil, &hss.ValidationError{Field: "opc", Reason: "opc or op is required"}
	}
	s, err := doc.toSubscriber(nil)
	if err != nil {
		return nil, err
	}
	return s, h.svc.CreateSubscriber(ctx, s)
}

// writeSubscriber answers with the stored view of imsi (the SQN_HE and the
// registrations as the store now has them).
func (h *handler) writeSubscriber(w http.ResponseWriter, r *http.Request, imsi hss.IMSI, status int) {
	s, err := h.svc.GetSubscriber(r.Context(), imsi)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	regs, err := h.svc.Registrations(r.Context(), imsi)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if status == http.StatusCreated {
		w.Header().Set("Location", "/v1/subscribers/"+string(imsi))
	}
	writeJSON(w, status, viewFromSubscriber(s, regs))
}

func pathIMSI(r *http.Request) (hss.IMSI, error) {
	return hss.ParseIMSI(r.PathValue("imsi"))
}

func (h *handler) get(w http.ResponseWriter, r *http.Request) {
	imsi, err := pathIMSI(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.writeSubscriber(w, r, imsi, http.StatusOK)
}

func (h *handler) delete(w http.ResponseWriter, r *http.Request) {
	imsi, err := pathIMSI(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := h.svc.DeleteSubscriber(r.Context(), imsi); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type listBody struct {
	IMSIs      []hss.IMSI `json:"imsis"`
	NextCursor string     `json:"next_cursor,omitempty"`
}

func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := DefaultPageSize
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxPageSize {
			h.writeError(w, r, &hss.ValidationError{Field: "limit", Reason: fmt.Sprintf("must be 1..%d", MaxPageSize)})
			return
		}
		limit = n
	}
	imsis, next, err := h.svc.ListSubscribers(r.Context(), q.Get("cursor"), limit)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if imsis == nil {
		imsis = []hss.IMSI{}
	}
	writeJSON(w, http.StatusOK, listBody{IMSIs: imsis, NextCursor: next})
}

// patch applies a JSON merge patch (RFC 7396) to the subscriber's writable
// fields. Key material can be replaced but never read back; sqn cannot be patched
// because SQN_HE is live store state (TS 33.102 C.1), changed only by AIR/resync.
func (h *handler) patch(w http.ResponseWriter, r *http.Request) {
	imsi, err := pathIMSI(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	data, err := readBody(w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	var patch map[string]any
	if err := json.Unmarshal(data, &patch); err != nil || patch == nil {
		h.writeError(w, r, &hss.ValidationError{Field: "body", Reason: "must be a JSON object (RFC 7396 merge patch)"})
		return
	}
	if _, ok := patch["sqn"]; ok {
		h.writeError(w, r, &hss.ValidationError{Field: "sqn", Reason: "cannot be changed after provisioning"})
		return
	}
	if v, ok := patch["imsi"]; ok && v != string(imsi) {
		h.writeError(w, r, &hss.ValidationError{Field: "imsi", Reason: "cannot be changed"})
		return
	}
	// The patch is checked against the document type before any store round trip.
	var probe subscriberDoc
	if err := decodeStrict(data, &probe); err != nil {
		h.writeError(w, r, err)
		return
	}
	_, err = h.svc.UpdateSubscriber(r.Context(), imsi, func(cur *hss.Subscriber) error {
		next, err := applyPatch(cur, patch)
		if err != nil {
			return err
		}
		*cur = *next
		return nil
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.writeSubscriber(w, r, imsi, http.StatusOK)
}

func applyPatch(cur *hss.Subscriber, patch map[string]any) (*hss.Subscriber, error) {
	base, err := json.Marshal(docFromSubscriber(cur))
	if err != nil {
		return nil, fmt.Errorf("admin: render subscriber: %w", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(base, &doc); err != nil {
		return nil, fmt.Errorf("admin: render subscriber: %w", err)
	}
	merged, err := json.Marshal(mergePatch(doc, patch))
	if err != nil {
		return nil, fmt.Errorf("admin: merge patch: %w", err)
	}
	var d subscriberDoc
	if err := decodeStrict(merged, &d); err != nil {
		return nil, err
	}
	return d.toSubscriber(cur)
}

// mergePatch is RFC 7396 section 2: objects merge recursively, null deletes,
// anything else (arrays included) replaces.
func mergePatch(target any, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
			continue
		}
		t[k] = mergePatch(t[k], v)
	}
	return t
}
