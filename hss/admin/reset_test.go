package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/hss/admin"
)

// resetObserver is a real hss.ResetObserver on the real HSS: it answers for
// two serving nodes, the second of which fails.
type resetObserver struct {
	recorder
	mu    sync.Mutex
	calls [][]string
}

func (o *resetObserver) OnReset(_ context.Context, req hss.ResetRequest) []hss.ResetOutcome {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls = append(o.calls, req.UserIDs)
	return []hss.ResetOutcome{
		{Application: "S6a", Node: "mme1.test"},
		{Application: "S6a", Node: "mme2.test", Err: errors.New("request rejected by peer: DIAMETER_UNABLE_TO_COMPLY (5012)")},
	}
}

func (o *resetObserver) called() [][]string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.calls)
}

type resetResponse struct {
	UserIDs      []string `json:"user_ids"`
	Sent         int      `json:"sent"`
	Acknowledged int      `json:"acknowledged"`
	Nodes        []struct {
		Application, Node, Result, Error string
	} `json:"nodes"`
}

func TestResetRoute(t *testing.T) {
	f := newFixture(t)
	obs := &resetObserver{}
	f.svc.AddObserver(obs)

	r := f.do(t, "POST", "/v1/reset", "application/json", `{"user_ids": ["00101", "310260"]}`)
	if r.status != http.StatusOK {
		t.Fatalf("status %d %s, want 200", r.status, r.body)
	}
	var body resetResponse
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(body.UserIDs, []string{"00101", "310260"}) || body.Sent != 2 || body.Acknowledged != 1 || len(body.Nodes) != 2 ||
		body.Nodes[0].Node != "mme1.test" || body.Nodes[0].Result != "acknowledged" || body.Nodes[0].Error != "" || body.Nodes[0].Application != "S6a" ||
		body.Nodes[1].Node != "mme2.test" || body.Nodes[1].Result != "failed" || !strings.Contains(body.Nodes[1].Error, "5012") {
		t.Errorf("body %s", r.body)
	}
	if calls := obs.called(); len(calls) != 1 || !slices.Equal(calls[0], []string{"00101", "310260"}) {
		t.Errorf("OnReset calls %q", calls)
	}

	// No User-Id: all subscribers.
	for _, doc := range []string{`{}`, `{"user_ids": []}`} {
		r := f.do(t, "POST", "/v1/reset", "application/json", doc)
		if r.status != http.StatusOK || !strings.Contains(string(r.body), `"user_ids":[]`) {
			t.Errorf("%s: status %d %s, want 200 with no user id", doc, r.status, r.body)
		}
	}
	if calls := obs.called(); len(calls) != 3 || len(calls[1]) != 0 || len(calls[2]) != 0 {
		t.Errorf("OnReset calls %q, want two for all subscribers", calls)
	}
}

func TestResetRouteRefusesBadInput(t *testing.T) {
	f := newFixture(t)
	obs := &resetObserver{}
	f.svc.AddObserver(obs)
	for _, tc := range []struct {
		name, body, field, text string
	}{
		{"letters", `{"user_ids": ["00101", "0010x"]}`, "user_ids[1]", `"0010x"`},
		{"too short", `{"user_ids": ["001"]}`, "user_ids[0]", `"001"`},
		{"too long", `{"user_ids": ["0010100000000001"]}`, "user_ids[0]", "of 16 characters"},
		{"not a list", `{"user_ids": "00101"}`, "user_ids", "[]string"},
		{"number", `{"user_ids": [101]}`, "user_ids", "string"},
		{"unknown field", `{"userids": ["00101"]}`, "userids", "unknown field"},
		{"empty body", ``, "body", "empty"},
		{"two documents", `{} {}`, "body", "exactly one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.do(t, "POST", "/v1/reset", "application/json", tc.body)
			m := r.json(t)
			if r.status != http.StatusBadRequest || m["field"] != tc.field || !strings.Contains(m["error"].(string), tc.text) {
				t.Errorf("status %d %s, want 400 on %s saying %s", r.status, r.body, tc.field, tc.text)
			}
		})
	}
	if calls := obs.called(); len(calls) != 0 {
		t.Errorf("OnReset called %d times after invalid input", len(calls))
	}
	if r := f.doAuth(t, "POST", "/v1/reset", "application/json", `{}`, ""); r.status != http.StatusUnauthorized {
		t.Errorf("without token: %d, want 401", r.status)
	}
	if r := f.do(t, "GET", "/v1/reset", "", ""); r.status != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d, want 405", r.status)
	}
}

// TestResetRouteBehindGuestGuard: the guard rcmhss puts in front of the
// subscriber API passes a Reset through, and a service that cannot run one
// answers 501.
func TestResetRouteBehindGuestGuard(t *testing.T) {
	f := newFixture(t)
	obs := &resetObserver{}
	f.svc.AddObserver(obs)
	never := func(hss.IMSI) bool { return false }
	for _, tc := range []struct {
		name   string
		svc    admin.Service
		status int
	}{
		{"guarded hss", admin.GuestGuard(f.svc, never), http.StatusOK},
		{"service without reset", struct{ admin.Service }{f.svc}, http.StatusNotImplemented},
		{"guarded service without reset", admin.GuestGuard(struct{ admin.Service }{f.svc}, never), http.StatusNotImplemented},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(admin.NewHandler(tc.svc, admin.Options{Token: token}))
			t.Cleanup(srv.Close)
			g := &fixture{srv: srv}
			if r := g.do(t, "POST", "/v1/reset", "application/json", `{"user_ids": ["00101"]}`); r.status != tc.status {
				t.Errorf("status %d %s, want %d", r.status, r.body, tc.status)
			}
		})
	}
	if calls := obs.called(); len(calls) != 1 {
		t.Errorf("OnReset called %d times, want once (through the guard)", len(calls))
	}
}
