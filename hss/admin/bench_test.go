package admin_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/hss/admin"
	"github.com/rcmhss/rcmhss/hss/memstore"
)

func benchHandler(b *testing.B) http.Handler {
	svc, err := hss.New(hss.DefaultConfig(), memstore.New(hss.NewPlaintextSealer()))
	if err != nil {
		b.Fatal(err)
	}
	return admin.NewHandler(svc, admin.Options{Token: token})
}

// BenchmarkCreate is one POST /v1/subscribers (decode, validate, store, read
// back, encode) on the embedded store, without the network.
func BenchmarkCreate(b *testing.B) {
	h := benchHandler(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		body := strings.Replace(fullSubscriber, "001010000000001", fmt.Sprintf("00101%010d", i), 1)
		req := httptest.NewRequest("POST", "/v1/subscribers", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkImportCSV measures the bulk import per line (ns/op is per row).
func BenchmarkImportCSV(b *testing.B) {
	h := benchHandler(b)
	var body strings.Builder
	body.WriteString("imsi,k,opc,amf,sqn,msisdn,apn\n")
	for i := 0; i < b.N; i++ {
		fmt.Fprintf(&body, "00101%010d,%s,%s,8000,0,336%08d,internet\n", i, set1K, set1OPc, i)
	}
	req := httptest.NewRequest("POST", "/v1/subscribers:import", strings.NewReader(body.String()))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "text/csv")
	rec := httptest.NewRecorder()
	b.ReportAllocs()
	b.ResetTimer()
	h.ServeHTTP(rec, req)
	b.StopTimer()
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), fmt.Sprintf(`"accepted":%d,`, b.N)) {
		b.Fatalf("%d %s", rec.Code, rec.Body)
	}
}
