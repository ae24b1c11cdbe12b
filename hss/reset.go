package hss

import (
	"context"
	"fmt"
	"strconv"
)

// MaxResetUserIDs bounds the User-Ids of one Reset: an HSS serves a handful
// of IMSI ranges, and every User-Id travels in each Reset-Request.
const MaxResetUserIDs = 256

// User-Id length (TS 29.272 7.3.50): the leading digits of an IMSI, "i.e.
// MCC, MNC, leading digits of MSIN". MCC and the shortest MNC make 5 digits;
// a whole IMSI is at most 15 (TS 23.003 2.2).
const (
	minUserIDDigits = 5
	maxUserIDDigits = 15
)

// ResetRequest is the Reset procedure (TS 29.272 5.2.1.3) the HSS runs after
// a restart or failure in which it may have lost the MME / SGSN identities of
// some of its subscribers: every serving node marks the affected subscribers
// and re-registers them (ULR) at their next contact, so that CLR and IDR can
// reach them again.
type ResetRequest struct {
	// UserIDs are the leading IMSI digits of the affected subscribers
	// (User-Id, TS 29.272 7.3.50); empty means all subscribers of this HSS.
	UserIDs []string
}

// ResetOutcome is what one serving node made of a Reset.
type ResetOutcome struct {
	// Application is the interface the node was reached on ("S6a").
	Application string
	// Node is the serving node's identity (its Diameter Origin-Host).
	Node string
	// Err is nil when the node acknowledged the Reset.
	Err error
}

// ResetObserver is implemented by a SubscriberObserver that can tell its
// serving nodes about a Reset (the S6a application sends a Reset-Request to
// every MME and SGSN connected to this node). HSS.Reset calls it
// synchronously; it returns one outcome per node it tried and logs them.
type ResetObserver interface {
	OnReset(ctx context.Context, req ResetRequest) []ResetOutcome
}

// userIDProblem says what is wrong with a User-Id, or "" when nothing is.
func userIDProblem(s string) string {
	if allDigits(s) && len(s) >= minUserIDDigits && len(s) <= maxUserIDDigits {
		return ""
	}
	// A short value is echoed so that the operator sees which one; a long
	// one is not (it could be a misplaced key).
	shown := strconv.Quote(s)
	if len(s) > maxUserIDDigits {
		shown = fmt.Sprintf("of %d characters", len(s))
	}
	return fmt.Sprintf("value %s must be %d to %d decimal digits, the leading digits of an IMSI (MCC, MNC, MSIN; TS 29.272 7.3.50)",
		shown, minUserIDDigits, maxUserIDDigits)
}

// Reset runs the Reset procedure (TS 29.272 5.2.1.3) for the subscribers
// whose IMSI starts with one of userIDs, or for all subscribers when userIDs
// is empty: every ResetObserver tells its serving nodes, and the outcomes
// are returned. Invalid input sends nothing and wraps ErrInvalidInput,
// naming the offending entry. Duplicates are sent once.
func (h *HSS) Reset(ctx context.Context, userIDs []string) ([]ResetOutcome, error) {
	const op = "hss: reset: %w"
	if len(userIDs) > MaxResetUserIDs {
		return nil, fmt.Errorf(op, invalid("user_ids", fmt.Sprintf("at most %d, got %d", MaxResetUserIDs, len(userIDs))))
	}
	req := ResetRequest{}
	seen := make(map[string]bool, len(userIDs))
	for i, u := range userIDs {
		if reason := userIDProblem(u); reason != "" {
			return nil, fmt.Errorf(op, invalid(fmt.Sprintf("user_ids[%d]", i), reason))
		}
		if !seen[u] {
			seen[u] = true
			req.UserIDs = append(req.UserIDs, u)
		}
	}
	var out []ResetOutcome
	for _, o := range h.observersSnapshot() {
		if r, ok := o.(ResetObserver); ok {
			out = append(out, r.OnReset(ctx, req)...)
		}
	}
	// A 15-digit User-Id is a whole IMSI: the values go to Debug only.
	h.log.InfoContext(ctx, "reset sent to serving nodes", "user_ids", len(req.UserIDs), "nodes", len(out))
	h.log.DebugContext(ctx, "reset user ids", "user_ids", req.UserIDs)
	return out, nil
}
