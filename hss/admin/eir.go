package admin

import (
	"crypto/sha256"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/rcmhss/rcmhss/hss"
)

// EIRRoutes lists the routes of the EIR list API (NewEIRHandler) as
// net/http ServeMux patterns; docs/openapi.yaml documents exactly these (with the other admin routes).
func EIRRoutes() []string {
	return []string{
		"GET /v1/eir/entries",
		"PUT /v1/eir/entries",
		"DELETE /v1/eir/entries/{kind}/{key}",
	}
}

// eirEntryDoc is an EIR list entry as the API reads and writes it: "value"
// for kinds "imei" and "tac", "first" and "last" for kind "range".
type eirEntryDoc struct {
	Kind   string `json:"kind"`
	Value  string `json:"value,omitempty"`
	First  string `json:"first,omitempty"`
	Last   string `json:"last,omitempty"`
	Status string `json:"status"`
}

func docFromEIREntry(e hss.EIREntry) eirEntryDoc {
	return eirEntryDoc{Kind: string(e.Kind), Value: e.Value, First: e.First, Last: e.Last, Status: e.Status.String()}
}

// entry validates d and returns it normalised (IMEIs of 15 or 16 digits cut
// to 14, TS 23.003 6.2).
func (d eirEntryDoc) entry() (hss.EIREntry, error) {
	st, err := hss.ParseEquipmentStatus(d.Status)
	if err != nil {
		return hss.EIREntry{}, err
	}
	e := hss.EIREntry{Kind: hss.EIRKind(d.Kind), Value: d.Value, First: d.First, Last: d.Last, Status: st}
	switch e.Kind {
	case hss.EIRByRange:
		if d.Value != "" {
			return hss.EIREntry{}, &hss.ValidationError{Field: "value", Reason: `is not used by kind "range" (use first and last)`}
		}
	case hss.EIRByIMEI, hss.EIRByTAC:
		if d.First != "" || d.Last != "" {
			return hss.EIREntry{}, &hss.ValidationError{Field: "first", Reason: "first and last are only used by kind \"range\""}
		}
	}
	return e.Normalize()
}

type eirHandler struct {
	store hss.EIRStore
	log   *slog.Logger
}

// NewEIRHandler returns the API that manages the EIR's white, grey and black
// lists (TS 29.272 5.3) behind the same bearer-token check as NewHandler:
//
//	GET    /v1/eir/entries               every entry, ordered
//	PUT    /v1/eir/entries               add an entry or change its status
//	DELETE /v1/eir/entries/{kind}/{key}  key is the IMEI, the TAC, or first-last
//
// An empty token refuses every request.
func NewEIRHandler(store hss.EIRStore, token string) http.Handler {
	auth := &handler{log: slog.New(slog.DiscardHandler)}
	if token != "" {
		auth.tokenHash, auth.hasToken = sha256.Sum256([]byte(token)), true
	}
	h := &eirHandler{store: store, log: auth.log}
	mux := http.NewServeMux()
	handlers := map[string]http.HandlerFunc{
		"GET /v1/eir/entries":                 h.list,
		"PUT /v1/eir/entries":                 h.put,
		"DELETE /v1/eir/entries/{kind}/{key}": h.delete,
	}
	for _, r := range EIRRoutes() {
		mux.HandleFunc(r, handlers[r])
	}
	return auth.authenticate(mux)
}

// writeError answers err: 400 for bad input (with the field), 404 for an
// entry that does not exist, 409 for an overlapping range, 503 when the
// store does not answer.
func (h *eirHandler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, hss.ErrInvalidInput):
		status = http.StatusBadRequest
	case errors.Is(err, hss.ErrUnknownEIREntry):
		status = http.StatusNotFound
	case errors.Is(err, hss.ErrEIRRangeOverlap):
		status = http.StatusConflict
	case errors.Is(err, hss.ErrStoreUnavailable):
		status = http.StatusServiceUnavailable
	}
	body := errorBody{Error: err.Error()}
	var ve *hss.ValidationError
	if errors.As(err, &ve) {
		body.Field = ve.Field
	}
	switch status {
	case http.StatusInternalServerError:
		h.log.ErrorContext(r.Context(), "admin: eir request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		body.Error = "internal error"
	case http.StatusServiceUnavailable:
		body.Error = "store unavailable"
	}
	writeJSON(w, status, body)
}

func (h *eirHandler) list(w http.ResponseWriter, r *http.Request) {
	es, err := h.store.ListEIREntries(r.Context())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out := struct {
		Entries []eirEntryDoc `json:"entries"`
	}{Entries: make([]eirEntryDoc, 0, len(es))}
	for _, e := range es {
		out.Entries = append(out.Entries, docFromEIREntry(e))
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *eirHandler) put(w http.ResponseWriter, r *http.Request) {
	data, err := readBody(w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	var doc eirEntryDoc
	if err := decodeStrict(data, &doc); err != nil {
		h.writeError(w, r, err)
		return
	}
	e, err := doc.entry()
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := h.store.PutEIREntry(r.Context(), e); err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, docFromEIREntry(e))
}

func (h *eirHandler) delete(w http.ResponseWriter, r *http.Request) {
	doc := eirEntryDoc{Kind: r.PathValue("kind"), Status: "white"}
	key := r.PathValue("key")
	if doc.Kind == string(hss.EIRByRange) {
		first, last, ok := strings.Cut(key, "-")
		if !ok {
			h.writeError(w, r, &hss.ValidationError{Field: "key", Reason: "a range is named first-last"})
			return
		}
		doc.First, doc.Last = first, last
	} else {
		doc.Value = key
	}
	e, err := doc.entry()
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := h.store.DeleteEIREntry(r.Context(), e); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
