package rcm_test

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/rcm"
	"github.com/rcmhss/rcmhss/rcm/memstore"
)

// FuzzOpenCredentials: any bytes either open to the sealed credentials or
// fail with ErrCredentialsUnreadable; never a panic.
func FuzzOpenCredentials(f *testing.F) {
	k, _ := ecdh.P256().GenerateKey(rand.Reader)
	good, err := rcm.SealCredentials(k.PublicKey().Bytes(), "s", &rcm.Credentials{IMSI: "001010000000001", K: hss.Key{1}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte{4})
	f.Add(good[:65])
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := rcm.OpenCredentials(k, "s", b)
		if err == nil && !bytes.Equal(b, good) {
			t.Fatalf("foreign bytes opened: %+v", c)
		}
	})
}

// FuzzProviderAdminCreate: whatever body the operator posts, the answer is
// 201 or a 4xx, never a 5xx, and a 201 stores a provider that validates.
func FuzzProviderAdminCreate(f *testing.F) {
	f.Add([]byte(`{"id":"p","name":"p","kind":"operator","imsi_pool":[{"first":"001010000000001","last":"001010000000009"}],"key_policy":"opc","op":"cdc202d5123e20f62b6d676ac72cb318","amf":"8000"}`))
	f.Add([]byte(`{"id":"p","imsi_pool":[{"first":"9","last":"1"}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ps := memstore.NewProvisioning()
		h := rcm.NewProviderAdminHandler(ps, memstore.New(), "op-token", slog.New(slog.DiscardHandler))
		req := httptest.NewRequest(http.MethodPost, "/v1/providers", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer op-token")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch {
		case rec.Code == http.StatusCreated:
			all, _ := ps.ListProviders(provCtx)
			if len(all) != 1 {
				t.Fatalf("201 but %d providers", len(all))
			}
			if err := all[0].Validate(); err != nil {
				t.Fatalf("stored provider does not validate: %v", err)
			}
		case rec.Code >= 500 || rec.Code < 400:
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body.String())
		}
	})
}
