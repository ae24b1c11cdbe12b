package admin_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/hss/admin"
	"github.com/rcmhss/rcmhss/hss/memstore"
	"github.com/rcmhss/rcmhss/hss/redisstore"
	"github.com/rcmhss/rcmhss/hss/redisstore/redistest"
)

const eirToken = "eir-secret-token"

type eirResponse struct {
	status int
	body   string
}

func eirDo(t *testing.T, srv *httptest.Server, method, path, body, token string) eirResponse {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return eirResponse{res.StatusCode, string(b)}
}

func newEIRServer(t *testing.T, store hss.EIRStore, token string) *httptest.Server {
	srv := httptest.NewServer(admin.NewEIRHandler(store, token))
	t.Cleanup(srv.Close)
	return srv
}

func TestEIRAuthentication(t *testing.T) {
	srv := newEIRServer(t, memstore.NewEIR(), eirToken)
	for _, tok := range []string{"", "wrong"} {
		if r := eirDo(t, srv, "GET", "/v1/eir/entries", "", tok); r.status != http.StatusUnauthorized {
			t.Errorf("token %q: %d", tok, r.status)
		}
	}
	closed := newEIRServer(t, memstore.NewEIR(), "")
	if r := eirDo(t, closed, "GET", "/v1/eir/entries", "", "anything"); r.status != http.StatusUnauthorized {
		t.Errorf("empty configured token: %d, want 401", r.status)
	}
}

func TestEIREntries(t *testing.T) {
	store := memstore.NewEIR()
	srv := newEIRServer(t, store, eirToken)
	put := func(body string, want int) eirResponse {
		t.Helper()
		r := eirDo(t, srv, "PUT", "/v1/eir/entries", body, eirToken)
		if r.status != want {
			t.Fatalf("PUT %s: %d %s, want %d", body, r.status, r.body, want)
		}
		return r
	}
	// A 15-digit IMEI is stored as its 14 digits (TS 23.003 6.2.1).
	r := put(`{"kind":"imei","value":"351234567890125","status":"black"}`, 200)
	if strings.TrimSpace(r.body) != `{"kind":"imei","value":"35123456789012","status":"black"}` {
		t.Errorf("stored entry %s", r.body)
	}
	put(`{"kind":"tac","value":"49015420","status":"grey"}`, 200)
	put(`{"kind":"range","first":"35000000000100","last":"35000000000199","status":"grey"}`, 200)
	put(`{"kind":"range","first":"35000000000150","last":"35000000000300","status":"black"}`, 409)
	for _, bad := range []struct{ body, field string }{
		{`{"kind":"imei","value":"123","status":"black"}`, "value"},
		{`{"kind":"tac","value":"4901542","status":"black"}`, "value"},
		{`{"kind":"imei","value":"35123456789012","status":"pink"}`, "status"},
		{`{"kind":"ean","value":"35123456789012","status":"black"}`, "kind"},
		{`{"kind":"range","value":"35123456789012","first":"35000000000100","last":"35000000000199","status":"black"}`, "value"},
		{`{"kind":"range","first":"35000000000199","last":"35000000000100","status":"black"}`, "last"},
		{`{"kind":"imei","value":"35123456789012","status":"black","colour":"x"}`, "colour"},
		{`{"kind":"imei"`, "body"},
	} {
		r := put(bad.body, 400)
		var e struct{ Error, Field string }
		if err := json.Unmarshal([]byte(r.body), &e); err != nil || e.Field != bad.field {
			t.Errorf("PUT %s: %s, want field %q", bad.body, r.body, bad.field)
		}
	}
	// The status of an existing entry changes in place.
	put(`{"kind":"tac","value":"49015420","status":"black"}`, 200)

	r = eirDo(t, srv, "GET", "/v1/eir/entries", "", eirToken)
	want := `{"entries":[` +
		`{"kind":"imei","value":"35123456789012","status":"black"},` +
		`{"kind":"range","first":"35000000000100","last":"35000000000199","status":"grey"},` +
		`{"kind":"tac","value":"49015420","status":"black"}]}`
	if r.status != 200 || strings.TrimSpace(r.body) != want {
		t.Errorf("list %d\n got %s\nwant %s", r.status, r.body, want)
	}
	m, err := store.MatchIMEI(context.Background(), "35000000000120")
	if err != nil || m.Range == nil || m.Range.Status != hss.Greylisted {
		t.Errorf("range not in the store: %+v %v", m, err)
	}

	for _, d := range []struct {
		path string
		want int
	}{
		{"/v1/eir/entries/imei/3512345678901201", 204}, // an IMEISV names its IMEI
		{"/v1/eir/entries/imei/35123456789012", 404},
		{"/v1/eir/entries/range/35000000000100-35000000000199", 204},
		{"/v1/eir/entries/range/35000000000100", 400},
		{"/v1/eir/entries/tac/49015420", 204},
		{"/v1/eir/entries/tac/49015420", 404},
		{"/v1/eir/entries/msisdn/49015420", 400},
	} {
		if r := eirDo(t, srv, "DELETE", d.path, "", eirToken); r.status != d.want {
			t.Errorf("DELETE %s: %d %s, want %d", d.path, r.status, r.body, d.want)
		}
	}
	if l, _ := store.ListEIREntries(context.Background()); len(l) != 0 {
		t.Errorf("entries left: %+v", l)
	}
}

// TestEIRStoreUnavailable: a Redis store whose connections are closed is
// answered 503 without internals.
func TestEIRStoreUnavailable(t *testing.T) {
	addr := redistest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := redisstore.New(ctx, redisstore.Config{Addrs: []string{addr}, KeyPrefix: "eiradmin:"}, hss.NewPlaintextSealer())
	if err != nil {
		t.Fatal(err)
	}
	srv := newEIRServer(t, st.EIR(), eirToken)
	if r := eirDo(t, srv, "PUT", "/v1/eir/entries", `{"kind":"tac","value":"49015420","status":"grey"}`, eirToken); r.status != 200 {
		t.Fatalf("PUT on redis: %d %s", r.status, r.body)
	}
	_ = st.Close()
	r := eirDo(t, srv, "GET", "/v1/eir/entries", "", eirToken)
	if r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, "store unavailable") {
		t.Errorf("closed store: %d %s", r.status, r.body)
	}
}
