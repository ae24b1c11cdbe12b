package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/hss/admin"
	"github.com/rcmhss/rcmhss/hss/memstore"
)

// FuzzImport feeds arbitrary bodies to the bulk import, as JSON lines and as
// CSV. Whatever the input: the answer is 200 with a summary or 400 with an
// error, never a 500; the summary's accepted count is exactly what the store
// gained; no response echoes a key given in the input.
func FuzzImport(f *testing.F) {
	f.Add(true, `{"imsi":"001010000000011","k":"`+set1K+`","opc":"`+set1OPc+`"}`+"\n{}\n")
	f.Add(true, `{"imsi":"001010000000012","k":"`+set1K+`","op":"`+set1OP+`","apns":[{"name":"a"},{"name":"b","qci":300}]}`)
	f.Add(false, "imsi,k,opc\n001010000000021,"+set1K+","+set1OPc+"\n")
	f.Add(false, "imsi,k,op,apn,qci,sqn\n001010000000022,"+set1K+","+set1OP+",internet,9,18446744073709551615\n\"x\n")
	f.Add(false, "\ufeffIMSI,K\n")
	f.Fuzz(func(t *testing.T, ndjson bool, body string) {
		store := memstore.New(hss.NewPlaintextSealer())
		svc, err := hss.New(hss.DefaultConfig(), store)
		if err != nil {
			t.Fatal(err)
		}
		h := admin.NewHandler(svc, admin.Options{Token: token})
		ct := "text/csv"
		if ndjson {
			ct = "application/x-ndjson"
		}
		req := httptest.NewRequest("POST", "/v1/subscribers:import", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", ct)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
			t.Fatalf("import answered %d: %s", rec.Code, rec.Body)
		}
		var sum struct {
			Accepted, Rejected int
			Error              string
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &sum); err != nil {
			t.Fatalf("answer is not JSON: %q", rec.Body)
		}
		imsis, _, err := svc.ListSubscribers(context.Background(), "", admin.MaxPageSize)
		if err != nil {
			t.Fatal(err)
		}
		if len(imsis) != sum.Accepted {
			t.Fatalf("summary accepted %d, store holds %d", sum.Accepted, len(imsis))
		}
		for _, secret := range []string{set1K, set1OPc, set1OP} {
			if strings.Contains(body, secret) && strings.Contains(rec.Body.String(), secret) {
				t.Fatalf("answer echoes key material: %s", rec.Body)
			}
		}
	})
}

// FuzzPatch applies arbitrary merge patches to a provisioned subscriber: the
// answer is 200 or 400, never 500, and a rejected patch changes nothing.
func FuzzPatch(f *testing.F) {
	f.Add(`{"msisdn":"33699999999","ambr":{"dl":1}}`)
	f.Add(`{"apns":null,"default_apn":null}`)
	f.Add(`{"apns":[{"context_id":4,"name":"x"}],"default_apn":"x"}`)
	f.Add(`{"k":"` + set1OPc + `","op":"` + set1OP + `"}`)
	f.Add(`{"non3gpp":{"apns":[9]}}`)
	f.Add(`{"allowed_visited_plmns":["00101",7]}`)
	f.Fuzz(func(t *testing.T, patch string) {
		store := memstore.New(hss.NewPlaintextSealer())
		svc, err := hss.New(hss.DefaultConfig(), store)
		if err != nil {
			t.Fatal(err)
		}
		h := admin.NewHandler(svc, admin.Options{Token: token})
		do := func(method, path, body string) *httptest.ResponseRecorder {
			req := httptest.NewRequest(method, path, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+token)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			return rec
		}
		if rec := do("POST", "/v1/subscribers", fullSubscriber); rec.Code != http.StatusCreated {
			t.Fatalf("create: %d %s", rec.Code, rec.Body)
		}
		before := do("GET", "/v1/subscribers/001010000000001", "").Body.String()
		rec := do("PATCH", "/v1/subscribers/001010000000001", patch)
		switch rec.Code {
		case http.StatusOK:
		case http.StatusBadRequest:
			if after := do("GET", "/v1/subscribers/001010000000001", "").Body.String(); after != before {
				t.Fatalf("rejected patch %q changed the subscriber:\n%s\n%s", patch, before, after)
			}
		default:
			t.Fatalf("patch %q answered %d: %s", patch, rec.Code, rec.Body)
		}
	})
}
