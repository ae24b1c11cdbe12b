package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/rcmhss/rcmhss/hss"
)

// Resetter runs the Reset procedure (TS 29.272 5.2.1.3): *hss.HSS
// implements it, and so does the Service GuestGuard returns when the
// Service it wraps does.
type Resetter interface {
	Reset(ctx context.Context, userIDs []string) ([]hss.ResetOutcome, error)
}

// errResetUnavailable: the Service cannot run a Reset (501).
var errResetUnavailable = errors.New("admin: reset: not available on this service")

// Reset lets the guest guard pass a Reset through: it names IMSI ranges,
// not subscribers, so there is nothing to hide.
func (g guestGuard) Reset(ctx context.Context, userIDs []string) ([]hss.ResetOutcome, error) {
	r, ok := g.svc.(Resetter)
	if !ok {
		return nil, errResetUnavailable
	}
	return r.Reset(ctx, userIDs)
}

// resetDoc is the body of POST /v1/reset: the User-Ids (leading IMSI
// digits, TS 29.272 7.3.50) of the affected subscribers; none (`{}` or an
// empty list) for all subscribers.
type resetDoc struct {
	UserIDs []string `json:"user_ids"`
}

// resetBody answers POST /v1/reset: how many serving nodes were sent a
// Reset-Request and what each answered.
type resetBody struct {
	UserIDs      []string    `json:"user_ids"`
	Sent         int         `json:"sent"`
	Acknowledged int         `json:"acknowledged"`
	Nodes        []resetNode `json:"nodes"`
}

type resetNode struct {
	Application string `json:"application"`
	Node        string `json:"node"`
	// Result is "acknowledged" (DIAMETER_SUCCESS) or "failed".
	Result string `json:"result"`
	Error  string `json:"error,omitempty"`
}

// reset serves POST /v1/reset. The Reset-Requests are sent and their
// answers awaited (each bounded by the S6a request timeout) before the
// response, so it is 200 with every node's outcome, including failures:
// the procedure ran. Invalid User-Ids are a 400 naming the entry, and then
// nothing is sent.
func (h *handler) reset(w http.ResponseWriter, r *http.Request) {
	rs, ok := h.svc.(Resetter)
	if !ok {
		h.writeResetUnavailable(w)
		return
	}
	data, err := readBody(w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	var doc resetDoc
	if err := decodeStrict(data, &doc); err != nil {
		h.writeError(w, r, err)
		return
	}
	out, err := rs.Reset(r.Context(), doc.UserIDs)
	if errors.Is(err, errResetUnavailable) {
		h.writeResetUnavailable(w)
		return
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	body := resetBody{UserIDs: doc.UserIDs, Sent: len(out), Nodes: make([]resetNode, 0, len(out))}
	if body.UserIDs == nil {
		body.UserIDs = []string{}
	}
	for _, o := range out {
		n := resetNode{Application: o.Application, Node: o.Node, Result: "acknowledged"}
		if o.Err != nil {
			n.Result, n.Error = "failed", o.Err.Error()
		} else {
			body.Acknowledged++
		}
		body.Nodes = append(body.Nodes, n)
	}
	if body.Acknowledged < body.Sent {
		h.log.WarnContext(r.Context(), "admin: reset not acknowledged by every node", "sent", body.Sent, "acknowledged", body.Acknowledged)
	}
	writeJSON(w, http.StatusOK, body)
}

func (h *handler) writeResetUnavailable(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotImplemented, errorBody{Error: fmt.Sprintf("%v: no Diameter application can send it", errResetUnavailable)})
}
