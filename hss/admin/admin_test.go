package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/hss/admin"
	"github.com/rcmhss/rcmhss/hss/memstore"
)

const token = "test-token-0123456789"

// TS 35.208 test set 1: K, OP and the OPc derived from them.
const (
	set1K   = "465b5ce8b199b49faa5f0a2ee238a6bc"
	set1OP  = "cdc202d5123e20f62b6d676ac72cb318"
	set1OPc = "cd63cb71954a9f4e48a5994e37a02baf"
)

// recorder is a real hss.SubscriberObserver that keeps what it was told.
type recorder struct {
	mu      sync.Mutex
	updated []*hss.Subscriber
	deleted []hss.IMSI
}

func (r *recorder) SubscriberUpdated(_ context.Context, _, after *hss.Subscriber, _ hss.Registrations) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.updated = append(r.updated, after)
}

func (r *recorder) SubscriberDeleted(_ context.Context, s *hss.Subscriber, _ hss.Registrations) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deleted = append(r.deleted, s.IMSI)
}

type fixture struct {
	srv   *httptest.Server
	svc   *hss.HSS
	store *memstore.Store
	obs   *recorder
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	store := memstore.New(hss.NewPlaintextSealer())
	svc, err := hss.New(hss.DefaultConfig(), store)
	if err != nil {
		t.Fatal(err)
	}
	obs := &recorder{}
	svc.AddObserver(obs)
	srv := httptest.NewServer(admin.NewHandler(svc, admin.Options{Token: token}))
	t.Cleanup(srv.Close)
	return &fixture{srv: srv, svc: svc, store: store, obs: obs}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

func (f *fixture) do(t *testing.T, method, path, contentType, body string) response {
	t.Helper()
	return f.doAuth(t, method, path, contentType, body, "Bearer "+token)
}

func (f *fixture) doAuth(t *testing.T, method, path, contentType, body, auth string) response {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

const fullSubscriber = `{
  "imsi": "001010000000001",
  "k": "` + set1K + `",
  "opc": "` + set1OPc + `",
  "amf": "8000",
  "sqn": 32,
  "msisdn": "33612345678",
  "apns": [
    {"context_id": 1, "name": "internet", "pdn_type": "ipv4v6", "qci": 9,
     "arp": {"priority_level": 8, "preemption_capability": false, "preemption_vulnerability": true},
     "ambr": {"ul": 50000000, "dl": 100000000}},
    {"context_id": 2, "name": "ims", "pdn_type": "ipv4", "qci": 5, "static_ipv4": "10.45.0.7",
     "arp": {"priority_level": 1, "preemption_capability": true, "preemption_vulnerability": false}}
  ],
  "default_apn": "internet",
  "ambr": {"ul": 100000000, "dl": 200000000},
  "status": "service_granted",
  "network_access_mode": "only_packet",
  "access_restriction": 3,
  "roaming_allowed": false,
  "allowed_visited_plmns": ["00102", "310410"],
  "periodic_rau_tau_timer": 3600
}`

func TestAuthentication(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct{ name, auth, wantChallenge string }{
		{"missing", "", `Bearer realm="rcmhss"`},
		{"wrong token", "Bearer not-the-token", `Bearer realm="rcmhss", error="invalid_token"`},
		{"prefix of token", "Bearer " + token[:len(token)-1], `Bearer realm="rcmhss", error="invalid_token"`},
		{"basic scheme", "Basic " + token, `Bearer realm="rcmhss"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.doAuth(t, "GET", "/v1/subscribers", "", "", tc.auth)
			if r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") != tc.wantChallenge {
				t.Fatalf("got %d %q, want 401 %q", r.status, r.header.Get("WWW-Authenticate"), tc.wantChallenge)
			}
		})
	}
	if r := f.do(t, "GET", "/v1/subscribers", "", ""); r.status != http.StatusOK {
		t.Fatalf("right token: %d %s", r.status, r.body)
	}
	// An empty configured token fails closed.
	closed := httptest.NewServer(admin.NewHandler(f.svc, admin.Options{}))
	t.Cleanup(closed.Close)
	req, _ := http.NewRequest("GET", closed.URL+"/v1/subscribers", nil)
	req.Header.Set("Authorization", "Bearer ")
	resp, err := closed.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("handler without token answered %d", resp.StatusCode)
	}
}

func TestCreateAndGet(t *testing.T) {
	f := newFixture(t)
	r := f.do(t, "POST", "/v1/subscribers", "application/json", fullSubscriber)
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	if loc := r.header.Get("Location"); loc != "/v1/subscribers/001010000000001" {
		t.Errorf("Location = %q", loc)
	}
	stored, err := f.svc.GetSubscriber(context.Background(), "001010000000001")
	if err != nil {
		t.Fatal(err)
	}
	if stored.K.Hex() != set1K || stored.OPc.Hex() != set1OPc || stored.AMF != [2]byte{0x80, 0} || stored.MSISDN != "33612345678" {
		t.Errorf("stored keys/amf/msisdn wrong")
	}
	if len(stored.APNs) != 2 || stored.DefaultContextID != 1 || stored.APNs[1].StaticIPv4.String() != "10.45.0.7" ||
		stored.APNs[1].QCI != 5 || !stored.APNs[1].ARP.PreemptionCapability || stored.RoamingAllowed ||
		len(stored.AllowedVisitedPLMNs) != 2 || stored.AllowedVisitedPLMNs[1].String() != "310410" ||
		stored.AccessRestriction != 3 || stored.PeriodicRAUTAUTimer != 3600 || stored.AMBR.DL != 200000000 {
		t.Errorf("stored subscription differs from the request: %+v", stored)
	}

	g := f.do(t, "GET", "/v1/subscribers/001010000000001", "", "")
	if g.status != http.StatusOK {
		t.Fatalf("get: %d %s", g.status, g.body)
	}
	for _, body := range [][]byte{r.body, g.body} {
		for _, secret := range []string{set1K, set1OPc, strings.ToUpper(set1K), strings.ToUpper(set1OPc)} {
			if bytes.Contains(body, []byte(secret)) {
				t.Fatalf("response carries key material: %s", body)
			}
		}
		m := map[string]any{}
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"k", "opc", "op"} {
			if _, ok := m[k]; ok {
				t.Errorf("response has field %q", k)
			}
		}
	}
	m := g.json(t)
	if m["sqn"] != float64(32) || m["msisdn"] != "33612345678" || m["amf"] != "8000" || m["default_apn"] != float64(1) {
		t.Errorf("get body = %s", g.body)
	}
	if apns := m["apns"].([]any); len(apns) != 2 || apns[1].(map[string]any)["static_ipv4"] != "10.45.0.7" {
		t.Errorf("apns = %v", m["apns"])
	}
	if _, ok := m["serving_mme"]; ok {
		t.Errorf("no MME registered yet, got serving_mme")
	}

	// The registration an ULR leaves appears as serving_mme.
	if _, err := f.store.SetMMERegistration(context.Background(), "001010000000001", hss.MMERegistration{
		Host: "mme1.example.org", Realm: "example.org", RATType: hss.RATEUTRAN,
	}); err != nil {
		t.Fatal(err)
	}
	m = f.do(t, "GET", "/v1/subscribers/001010000000001", "", "").json(t)
	if mme, ok := m["serving_mme"].(map[string]any); !ok || mme["host"] != "mme1.example.org" || mme["rat_type"] != float64(1004) {
		t.Errorf("serving_mme = %v", m["serving_mme"])
	}

	if r := f.do(t, "POST", "/v1/subscribers", "application/json", fullSubscriber); r.status != http.StatusConflict {
		t.Errorf("second create: %d %s", r.status, r.body)
	}
	if r := f.do(t, "GET", "/v1/subscribers/001010000000009", "", ""); r.status != http.StatusNotFound {
		t.Errorf("get unknown: %d", r.status)
	}
}

func TestCreateWithOPDerivesOPc(t *testing.T) {
	f := newFixture(t)
	body := `{"imsi":"001010000000002","k":"` + set1K + `","op":"` + set1OP + `","apns":[{"name":"internet"}]}`
	if r := f.do(t, "POST", "/v1/subscribers", "application/json", body); r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	s, err := f.svc.GetSubscriber(context.Background(), "001010000000002")
	if err != nil {
		t.Fatal(err)
	}
	if s.OPc.Hex() != set1OPc || s.OP == nil || s.OP.Hex() != set1OP {
		t.Fatalf("OPc not derived per TS 35.208 set 1")
	}
	// Defaults of an APN given by name only.
	if a := s.APNs[0]; a.ContextID != 1 || a.PDNType != hss.PDNIPv4v6 || a.QCI != 9 || a.ARP.PriorityLevel != 8 || s.DefaultContextID != 1 {
		t.Errorf("APN defaults = %+v", a)
	}
	m := f.do(t, "GET", "/v1/subscribers/001010000000002", "", "").json(t)
	if m["op_provisioned"] != true {
		t.Errorf("op_provisioned = %v", m["op_provisioned"])
	}
}

func TestCreateRejects(t *testing.T) {
	f := newFixture(t)
	ok := map[string]any{}
	if err := json.Unmarshal([]byte(fullSubscriber), &ok); err != nil {
		t.Fatal(err)
	}
	with := func(mut func(m map[string]any)) string {
		b, _ := json.Marshal(ok)
		m := map[string]any{}
		_ = json.Unmarshal(b, &m)
		mut(m)
		out, _ := json.Marshal(m)
		return string(out)
	}
	for _, tc := range []struct {
		name, body, field string
	}{
		{"unknown field", with(func(m map[string]any) { m["kk"] = "x" }), "kk"},
		{"short k", with(func(m map[string]any) { m["k"] = "00ff" }), "k"},
		{"no k", with(func(m map[string]any) { delete(m, "k") }), "k"},
		{"no opc nor op", with(func(m map[string]any) { delete(m, "opc") }), "opc"},
		{"opc and op", with(func(m map[string]any) { m["op"] = set1OP }), "op"},
		{"bad imsi", with(func(m map[string]any) { m["imsi"] = "00101x" }), "imsi"},
		{"bad amf", with(func(m map[string]any) { m["amf"] = "80" }), "amf"},
		{"sqn too big", with(func(m map[string]any) { m["sqn"] = float64(1 << 49) }), "sqn"},
		{"sqn wrong type", with(func(m map[string]any) { m["sqn"] = "1" }), "sqn"},
		{"qci 0", with(func(m map[string]any) { m["apns"].([]any)[0].(map[string]any)["qci"] = 0 }), "apns[0].qci"},
		{"pdn type", with(func(m map[string]any) { m["apns"].([]any)[1].(map[string]any)["pdn_type"] = "ipx" }), "apns[1].pdn_type"},
		{"static ip", with(func(m map[string]any) { m["apns"].([]any)[1].(map[string]any)["static_ipv4"] = "10.1" }), "apns[1].static_ipv4"},
		{"default apn", with(func(m map[string]any) { m["default_apn"] = "nope" }), "default_apn"},
		{"status", with(func(m map[string]any) { m["status"] = "barred" }), "status"},
		{"plmn", with(func(m map[string]any) { m["allowed_visited_plmns"] = []string{"0010"} }), "allowed_visited_plmns[0]"},
		{"syntax", `{"imsi":`, "body"},
		{"two documents", `{} {}`, "body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.do(t, "POST", "/v1/subscribers", "application/json", tc.body)
			if r.status != http.StatusBadRequest {
				t.Fatalf("status %d %s", r.status, r.body)
			}
			if m := r.json(t); m["field"] != tc.field || m["error"] == "" {
				t.Fatalf("body %s, want field %q", r.body, tc.field)
			}
			if bytes.Contains(r.body, []byte(set1OPc)) || bytes.Contains(r.body, []byte(set1K)) {
				t.Fatalf("error echoes key material: %s", r.body)
			}
		})
	}
	imsis, _, err := f.svc.ListSubscribers(context.Background(), "", 10)
	if err != nil || len(imsis) != 0 {
		t.Fatalf("rejected requests stored something: %v %v", imsis, err)
	}
}

func TestPatch(t *testing.T) {
	f := newFixture(t)
	if r := f.do(t, "POST", "/v1/subscribers", "application/json", fullSubscriber); r.status != http.StatusCreated {
		t.Fatal(r.status, string(r.body))
	}
	path := "/v1/subscribers/001010000000001"
	r := f.do(t, "PATCH", path, "application/merge-patch+json",
		`{"msisdn":"33699999999","ambr":{"dl":300000000},"status":"operator_determined_barring","allowed_visited_plmns":null}`)
	if r.status != http.StatusOK {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	s, err := f.svc.GetSubscriber(context.Background(), "001010000000001")
	if err != nil {
		t.Fatal(err)
	}
	// RFC 7396: ambr.dl replaced, ambr.ul kept, null removes.
	if s.MSISDN != "33699999999" || s.AMBR.DL != 300000000 || s.AMBR.UL != 100000000 ||
		s.Status != hss.OperatorDeterminedBarring || len(s.AllowedVisitedPLMNs) != 0 || len(s.APNs) != 2 {
		t.Fatalf("after patch: %+v", s)
	}
	if s.K.Hex() != set1K || s.OPc.Hex() != set1OPc {
		t.Fatal("patch without keys changed the keys")
	}
	f.obs.mu.Lock()
	n := len(f.obs.updated)
	f.obs.mu.Unlock()
	if n != 1 {
		t.Fatalf("observer told %d updates, want 1 (IDR is sent from it)", n)
	}

	// Key rotation: new K with OP derives a new OPc.
	if r := f.do(t, "PATCH", path, "application/merge-patch+json", `{"k":"`+set1OPc+`","op":"`+set1OP+`"}`); r.status != http.StatusOK {
		t.Fatalf("patch keys: %d %s", r.status, r.body)
	}
	s, _ = f.svc.GetSubscriber(context.Background(), "001010000000001")
	if s.K.Hex() != set1OPc || s.OPc != hss.ComputeOPc(s.K, *s.OP) {
		t.Fatal("OPc not re-derived after K changed")
	}

	for _, tc := range []struct{ body, field string }{
		{`{"sqn":5}`, "sqn"},
		{`{"imsi":"001010000000002"}`, "imsi"},
		{`{"msisdn":"12ab"}`, "msisdn"},
		{`{"bogus":1}`, "bogus"},
		{`{"apns":[{"context_id":7,"name":"only"}]}`, "default_apn"},
		{`[1]`, "body"},
	} {
		r := f.do(t, "PATCH", path, "application/merge-patch+json", tc.body)
		if r.status != http.StatusBadRequest || r.json(t)["field"] != tc.field {
			t.Errorf("patch %s: %d %s, want 400 field %q", tc.body, r.status, r.body, tc.field)
		}
	}
	if after, _ := f.svc.GetSubscriber(context.Background(), "001010000000001"); after.MSISDN != "33699999999" || len(after.APNs) != 2 {
		t.Fatal("a rejected patch changed the subscriber")
	}
	if r := f.do(t, "PATCH", "/v1/subscribers/001010000000009", "", `{"msisdn":"1"}`); r.status != http.StatusNotFound {
		t.Errorf("patch unknown: %d", r.status)
	}
}

func TestDeleteAndList(t *testing.T) {
	f := newFixture(t)
	for _, imsi := range []string{"001010000000005", "001010000000001", "001010000000003", "001010000000004", "001010000000002"} {
		body := `{"imsi":"` + imsi + `","k":"` + set1K + `","opc":"` + set1OPc + `"}`
		if r := f.do(t, "POST", "/v1/subscribers", "application/json", body); r.status != http.StatusCreated {
			t.Fatal(r.status, string(r.body))
		}
	}
	var all []string
	cursor := ""
	for page := 0; ; page++ {
		r := f.do(t, "GET", "/v1/subscribers?limit=2&cursor="+cursor, "", "")
		if r.status != http.StatusOK {
			t.Fatal(r.status, string(r.body))
		}
		var lb struct {
			IMSIs      []string `json:"imsis"`
			NextCursor string   `json:"next_cursor"`
		}
		if err := json.Unmarshal(r.body, &lb); err != nil {
			t.Fatal(err)
		}
		if len(lb.IMSIs) > 2 {
			t.Fatalf("page of %d with limit 2", len(lb.IMSIs))
		}
		all = append(all, lb.IMSIs...)
		if cursor = lb.NextCursor; cursor == "" || page > 5 {
			break
		}
	}
	if strings.Join(all, ",") != "001010000000001,001010000000002,001010000000003,001010000000004,001010000000005" {
		t.Fatalf("paged listing = %v", all)
	}
	for _, q := range []string{"limit=0", "limit=1001", "limit=x"} {
		if r := f.do(t, "GET", "/v1/subscribers?"+q, "", ""); r.status != http.StatusBadRequest || r.json(t)["field"] != "limit" {
			t.Errorf("%s: %d %s", q, r.status, r.body)
		}
	}

	if r := f.do(t, "DELETE", "/v1/subscribers/001010000000003", "", ""); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := f.do(t, "GET", "/v1/subscribers/001010000000003", "", ""); r.status != http.StatusNotFound {
		t.Fatalf("get after delete: %d", r.status)
	}
	if r := f.do(t, "DELETE", "/v1/subscribers/001010000000003", "", ""); r.status != http.StatusNotFound {
		t.Fatalf("second delete: %d", r.status)
	}
	f.obs.mu.Lock()
	deleted := append([]hss.IMSI(nil), f.obs.deleted...)
	f.obs.mu.Unlock()
	if len(deleted) != 1 || deleted[0] != "001010000000003" {
		t.Fatalf("observer told deletions %v (CLR is sent from it)", deleted)
	}
}

func TestImport(t *testing.T) {
	f := newFixture(t)
	ndjson := strings.Join([]string{
		`{"imsi":"001010000000011","k":"` + set1K + `","opc":"` + set1OPc + `","apns":[{"name":"internet"}]}`,
		``,
		`{"imsi":"001010000000012","k":"` + set1K + `"}`,
		`{"imsi":"001010000000013","k":"` + set1K + `","op":"` + set1OP + `","msisdn":"3361"}`,
		`not json`,
		`{"imsi":"001010000000011","k":"` + set1K + `","opc":"` + set1OPc + `"}`,
	}, "\n")
	r := f.do(t, "POST", "/v1/subscribers:import", "application/x-ndjson", ndjson)
	if r.status != http.StatusOK {
		t.Fatalf("import: %d %s", r.status, r.body)
	}
	var sum struct {
		Accepted, Rejected int
		Errors             []struct {
			Line  int
			Error string
			Field string
		}
	}
	if err := json.Unmarshal(r.body, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Accepted != 2 || sum.Rejected != 3 || len(sum.Errors) != 3 ||
		sum.Errors[0].Line != 3 || sum.Errors[0].Field != "opc" ||
		sum.Errors[1].Line != 5 || sum.Errors[1].Field != "body" ||
		sum.Errors[2].Line != 6 || !strings.Contains(sum.Errors[2].Error, "exists") {
		t.Fatalf("summary = %s", r.body)
	}
	if bytes.Contains(r.body, []byte(set1K)) {
		t.Fatal("summary echoes key material")
	}

	csv := "imsi,k,opc,op,amf,sqn,msisdn,apn,qci\n" +
		"001010000000021," + set1K + "," + set1OPc + ",,8000,64,3362,internet,8\n" +
		"001010000000022," + set1K + ",," + set1OP + ",,,,,\n" +
		"001010000000023,zz," + set1OPc + ",,,,,,\n" +
		"\"001010000000024," + set1K + "\n"
	r = f.do(t, "POST", "/v1/subscribers:import", "text/csv; charset=utf-8", csv)
	if err := json.Unmarshal(r.body, &sum); err != nil || r.status != http.StatusOK {
		t.Fatalf("csv import: %d %s", r.status, r.body)
	}
	if sum.Accepted != 2 || sum.Rejected != 2 || sum.Errors[0].Line != 4 || sum.Errors[0].Field != "k" || sum.Errors[1].Line != 5 {
		t.Fatalf("csv summary = %s", r.body)
	}
	s, err := f.svc.GetSubscriber(context.Background(), "001010000000021")
	if err != nil {
		t.Fatal(err)
	}
	if s.SQN != 64 || s.MSISDN != "3362" || len(s.APNs) != 1 || s.APNs[0].QCI != 8 || s.OPc.Hex() != set1OPc {
		t.Fatalf("csv row stored as %+v", s)
	}
	if s, err := f.svc.GetSubscriber(context.Background(), "001010000000022"); err != nil || s.OPc.Hex() != set1OPc {
		t.Fatalf("csv row with OP: %v", err)
	}

	if r := f.do(t, "POST", "/v1/subscribers:import", "text/csv", "imsi,ki\n"); r.status != http.StatusBadRequest || r.json(t)["field"] != "header" {
		t.Errorf("unknown column: %d %s", r.status, r.body)
	}
	// A file without its header row: the first data row must not be echoed.
	r = f.do(t, "POST", "/v1/subscribers:import", "text/csv", "001010000000031,"+set1K+","+set1OPc+"\n")
	if r.status != http.StatusBadRequest || bytes.Contains(r.body, []byte(set1K)) || r.json(t)["field"] != "header" {
		t.Errorf("headerless csv: %d %s", r.status, r.body)
	}
	if r := f.do(t, "POST", "/v1/subscribers", "application/json", `{"`+set1K+`":1}`); r.status != http.StatusBadRequest || bytes.Contains(r.body, []byte(set1K)) {
		t.Errorf("key-shaped unknown field echoed: %d %s", r.status, r.body)
	}
	if r := f.do(t, "POST", "/v1/subscribers:import", "application/json", "{}"); r.status != http.StatusUnsupportedMediaType {
		t.Errorf("wrong content type: %d %s", r.status, r.body)
	}
}

func TestImportErrorsCapped(t *testing.T) {
	store := memstore.New(hss.NewPlaintextSealer())
	svc, err := hss.New(hss.DefaultConfig(), store)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(admin.NewHandler(svc, admin.Options{Token: token, MaxImportErrors: 3}))
	t.Cleanup(srv.Close)
	f := &fixture{srv: srv, svc: svc}
	r := f.do(t, "POST", "/v1/subscribers:import", "application/x-ndjson", strings.Repeat("{}\n", 10))
	m := r.json(t)
	if m["rejected"] != float64(10) || len(m["errors"].([]any)) != 3 || m["errors_truncated"] != true {
		t.Fatalf("capped summary = %s", r.body)
	}
}

func TestStoreUnavailable(t *testing.T) {
	f := newFixture(t)
	if err := f.store.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ method, path, ct, body string }{
		{"GET", "/v1/subscribers/001010000000001", "", ""},
		{"GET", "/v1/subscribers", "", ""},
		{"POST", "/v1/subscribers", "application/json", fullSubscriber},
		{"DELETE", "/v1/subscribers/001010000000001", "", ""},
		{"POST", "/v1/subscribers:import", "application/x-ndjson", fullSubscriber[:0] + strings.ReplaceAll(fullSubscriber, "\n", "")},
	} {
		r := f.do(t, tc.method, tc.path, tc.ct, tc.body)
		if r.status != http.StatusServiceUnavailable || r.json(t)["error"] == "" {
			t.Errorf("%s %s: %d %s, want 503", tc.method, tc.path, r.status, r.body)
		}
	}
}
