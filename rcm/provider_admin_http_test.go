package rcm_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rcmhss/rcmhss/rcm"
)

const operatorToken = "operator-secret-token"

func adminCall(t *testing.T, base, token, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

func providerBody(id, imsiPrefix string) rcm.ProviderJSON {
	return rcm.ProviderJSON{ID: id, Name: id, Kind: rcm.ProviderReseller, IMSIPool: []rcm.NumberRange{{First: imsiPrefix + "01", Last: imsiPrefix + "99"}},
		KeyPolicy: rcm.KeyPolicyOPc, OP: "cdc202d5123e20f62b6d676ac72cb318", AMF: "8000"}
}

// TestProviderAdminIsolation: one provider's token cannot read or change
// another provider's profiles, pools, offers, pre-registrations or sessions.
func TestProviderAdminIsolation(t *testing.T) {
	e := newProvEnv(t)
	srv := httptest.NewServer(rcm.NewProviderAdminHandler(e.ps, e.st, operatorToken, slog.New(slog.DiscardHandler)))
	t.Cleanup(srv.Close)

	tokens := map[string]string{}
	for id, prefix := range map[string]string{"prov-a": "0010300000000", "prov-b": "0010400000000"} {
		if code, _ := adminCall(t, srv.URL, "", "POST", "/v1/providers", providerBody(id, prefix)); code != http.StatusUnauthorized {
			t.Fatalf("create without the operator token: %d", code)
		}
		code, raw := adminCall(t, srv.URL, operatorToken, "POST", "/v1/providers", providerBody(id, prefix))
		var created rcm.CreatedProviderJSON
		if code != http.StatusCreated || json.Unmarshal(raw, &created) != nil || len(created.Token) != 64 {
			t.Fatalf("create %s: %d %s", id, code, raw)
		}
		if strings.Contains(string(raw), "cdc202d5") {
			t.Fatal("OP returned by the API")
		}
		tokens[id] = created.Token
	}
	a, b := tokens["prov-a"], tokens["prov-b"]
	if code, _ := adminCall(t, srv.URL, a, "POST", "/v1/providers", providerBody("prov-c", "0010500000000")); code != http.StatusUnauthorized {
		t.Fatalf("a provider token creating providers: %d", code)
	}

	// B's own records.
	prof := e.pki.Profile
	prof.ID, prof.ProviderID = "prof-b", ""
	if code, raw := adminCall(t, srv.URL, b, "POST", "/v1/providers/prov-b/profiles", prof); code != http.StatusCreated {
		t.Fatalf("b creates its profile: %d %s", code, raw)
	}
	offer := rcm.OfferJSON{PlanName: "B plan", Price: rcm.Price{Amount: 100, Currency: "EUR"}, DurationSeconds: 3600, ActivationCode: "B-CODE-1"}
	if code, raw := adminCall(t, srv.URL, b, "PUT", "/v1/providers/prov-b/offers/b-offer", offer); code != http.StatusOK || strings.Contains(string(raw), "B-CODE-1") {
		t.Fatalf("b puts its offer: %d %s", code, raw)
	}
	pre := rcm.PreRegistrationJSON{OfferID: "b-offer", ValidUntil: e.clock().Add(1e12)}
	if code, raw := adminCall(t, srv.URL, b, "PUT", "/v1/providers/prov-b/preregistrations/"+string(imei(40)), pre); code != http.StatusOK {
		t.Fatalf("b pre-registers: %d %s", code, raw)
	}

	// A profile registered in another provider's name is refused.
	prof2 := e.pki.Profile
	prof2.ID, prof2.ProviderID = "prof-a-as-b", "prov-b"
	if code, _ := adminCall(t, srv.URL, a, "POST", "/v1/providers/prov-a/profiles", prof2); code != http.StatusForbidden {
		t.Fatalf("a registers a profile as b: %d", code)
	}

	// Everything under B's path with A's token (or none, or the operator's).
	bPaths := []struct {
		method, path string
		body         any
	}{
		{"GET", "/v1/providers/prov-b", nil},
		{"PUT", "/v1/providers/prov-b/pools/imsi", []rcm.NumberRange{{First: "001030000000001", Last: "001030000000009"}}},
		{"GET", "/v1/providers/prov-b/profiles", nil},
		{"POST", "/v1/providers/prov-b/profiles", prof},
		{"DELETE", "/v1/providers/prov-b/profiles/prof-b", nil},
		{"GET", "/v1/providers/prov-b/offers", nil},
		{"GET", "/v1/providers/prov-b/offers/b-offer", nil},
		{"PUT", "/v1/providers/prov-b/offers/b-offer", offer},
		{"DELETE", "/v1/providers/prov-b/offers/b-offer", nil},
		{"GET", "/v1/providers/prov-b/preregistrations", nil},
		{"PUT", "/v1/providers/prov-b/preregistrations/" + string(imei(41)), pre},
		{"DELETE", "/v1/providers/prov-b/preregistrations/" + string(imei(40)), nil},
		{"GET", "/v1/providers/prov-b/sessions", nil},
		{"GET", "/v1/providers/prov-b/sessions/any", nil},
	}
	for _, p := range bPaths {
		if code, raw := adminCall(t, srv.URL, a, p.method, p.path, p.body); code != http.StatusForbidden {
			t.Errorf("A's token: %s %s: %d %s, want 403", p.method, p.path, code, raw)
		}
		if code, _ := adminCall(t, srv.URL, operatorToken, p.method, p.path, p.body); code != http.StatusForbidden {
			t.Errorf("operator token: %s %s: %d, want 403", p.method, p.path, code)
		}
		if code, _ := adminCall(t, srv.URL, "", p.method, p.path, p.body); code != http.StatusUnauthorized {
			t.Errorf("no token: %s %s: %d, want 401", p.method, p.path, code)
		}
	}
	// B's records named under A's own path are not found.
	for _, p := range []struct{ method, path string }{
		{"GET", "/v1/providers/prov-a/offers/b-offer"},
		{"DELETE", "/v1/providers/prov-a/offers/b-offer"},
		{"DELETE", "/v1/providers/prov-a/profiles/prof-b"},
		{"DELETE", "/v1/providers/prov-a/preregistrations/" + string(imei(40))},
	} {
		if code, raw := adminCall(t, srv.URL, a, p.method, p.path, nil); code != http.StatusNotFound {
			t.Errorf("A's path to B's record: %s %s: %d %s, want 404", p.method, p.path, code, raw)
		}
	}
	// A cannot take over B's pre-registration of an IMEI.
	if code, raw := adminCall(t, srv.URL, a, "PUT", "/v1/providers/prov-a/offers/a-offer", offer); code != http.StatusOK {
		t.Fatalf("a puts its offer: %d %s", code, raw)
	}
	if code, _ := adminCall(t, srv.URL, a, "PUT", "/v1/providers/prov-a/preregistrations/"+string(imei(40)), rcm.PreRegistrationJSON{OfferID: "a-offer", ValidUntil: pre.ValidUntil}); code != http.StatusForbidden {
		t.Fatalf("a replaces b's pre-registration: %d", code)
	}
	// A's lists hold none of B's records.
	for _, path := range []string{"/v1/providers/prov-a/profiles", "/v1/providers/prov-a/preregistrations", "/v1/providers/prov-a/sessions"} {
		if code, raw := adminCall(t, srv.URL, a, "GET", path, nil); code != http.StatusOK || strings.TrimSpace(string(raw)) != "[]" {
			t.Errorf("GET %s with A's token: %d %s, want an empty list", path, code, raw)
		}
	}
	// And B's records are intact.
	if r, err := e.ps.GetPreRegistration(provCtx, imei(40)); err != nil || r.ProviderID != "prov-b" {
		t.Fatalf("b's pre-registration: %+v, %v", r, err)
	}
	if o, err := e.ps.GetOffer(provCtx, "prov-b", "b-offer"); err != nil || o.ActivationCode == nil || !o.ActivationCode.Check("B-CODE-1") {
		t.Fatalf("b's offer: %v", err)
	}
	if _, err := e.st.GetProfile(provCtx, "prof-b"); err != nil {
		t.Fatalf("b's profile: %v", err)
	}
	if p, err := e.ps.GetProvider(provCtx, "prov-b"); err != nil || p.IMSIPool[0].First != "001040000000001" {
		t.Fatalf("b's pool: %+v, %v", p.IMSIPool, err)
	}
}
