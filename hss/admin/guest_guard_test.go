package admin_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/hss/admin"
	"github.com/rcmhss/rcmhss/hss/memstore"
)

// TestGuestGuard: through the guarded API a guest IMSI cannot be created,
// imported, read, patched, deleted or listed, while the internal guest record
// (made by the RCM extension straight on the HSS) stays untouched and normal
// subscribers are served as before.
func TestGuestGuard(t *testing.T) {
	store := memstore.New(hss.NewPlaintextSealer())
	svc, err := hss.New(hss.DefaultConfig(), store)
	if err != nil {
		t.Fatal(err)
	}
	isGuest := func(i hss.IMSI) bool { return strings.HasPrefix(string(i), "00101999") }
	srv := httptest.NewServer(admin.NewHandler(admin.GuestGuard(svc, isGuest), admin.Options{Token: token}))
	t.Cleanup(srv.Close)
	f := &fixture{srv: srv, svc: svc, store: store}
	ctx := context.Background()

	guest := hss.IMSI("001019990000001")
	k, _ := hss.ParseKey(set1K)
	opc, _ := hss.ParseKey(set1OPc)
	if err := svc.CreateSubscriber(ctx, &hss.Subscriber{IMSI: guest, K: k, OPc: opc}); err != nil {
		t.Fatal(err)
	}
	body := `{"imsi":"001019990000002","k":"` + set1K + `","opc":"` + set1OPc + `"}`
	if r := f.do(t, "POST", "/v1/subscribers", "application/json", body); r.status != http.StatusBadRequest || r.json(t)["field"] != "imsi" {
		t.Errorf("create guest: %d %s", r.status, r.body)
	}
	ndjson := body + "\n" + `{"imsi":"001010000000021","k":"` + set1K + `","opc":"` + set1OPc + `"}`
	if r := f.do(t, "POST", "/v1/subscribers:import", "application/x-ndjson", ndjson); r.status != http.StatusOK ||
		r.json(t)["accepted"] != float64(1) || r.json(t)["rejected"] != float64(1) {
		t.Errorf("import: %d %s", r.status, r.body)
	}
	for _, c := range []struct{ method, body string }{{"GET", ""}, {"PATCH", `{"msisdn":"3361"}`}, {"DELETE", ""}} {
		if r := f.do(t, c.method, "/v1/subscribers/"+string(guest), "application/merge-patch+json", c.body); r.status != http.StatusNotFound {
			t.Errorf("%s guest: %d %s", c.method, r.status, r.body)
		}
	}
	r := f.do(t, "GET", "/v1/subscribers", "", "")
	if r.status != http.StatusOK || strings.Contains(string(r.body), "0010199") || !strings.Contains(string(r.body), "001010000000021") {
		t.Errorf("list: %d %s", r.status, r.body)
	}
	s, err := svc.GetSubscriber(ctx, guest)
	if err != nil || s.MSISDN != "" {
		t.Errorf("guest record changed: %+v %v", s, err)
	}
	if _, err := svc.GetSubscriber(ctx, "001019990000002"); err == nil {
		t.Error("guest IMSI was created")
	}
}
