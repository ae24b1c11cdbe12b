package rcm_test

import (
	"crypto/ecdh"
	"crypto/rand"
	"testing"

	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/rcm"
)

// BenchmarkSealCredentials: one HPKE seal (DHKEM P-256 encapsulation, AES-128-GCM).
func BenchmarkSealCredentials(b *testing.B) {
	k, _ := ecdh.P256().GenerateKey(rand.Reader)
	pub := k.PublicKey().Bytes()
	c := &rcm.Credentials{IMSI: "001010000000001", K: hss.Key{1}, OPc: hss.Key{2}, ProviderID: "p", OfferID: "o"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rcm.SealCredentials(pub, "0123456789abcdef0123456789abcdef", c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProvisionSession: start, accept, confirm on the in-memory stores
// (the server side of one device's provisioning, without TLS).
func BenchmarkProvisionSession(b *testing.B) {
	e := newProvEnv(b)
	p := rcm.Provider{ID: providerA, Name: "bench", Kind: rcm.ProviderOperator, ProfileIDs: []string{"meters-acme"},
		IMSIPool: []rcm.NumberRange{{First: "001010000000000", Last: "001010099999999"}}, KeyPolicy: rcm.KeyPolicyOPc, OP: hss.Key{1}}
	if err := e.ps.CreateProvider(provCtx, p); err != nil {
		b.Fatal(err)
	}
	if err := e.ps.PutOffer(provCtx, rcm.Offer{ID: "o", ProviderID: providerA, PlanName: "o", DataCapBytes: 1}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		b.StopTimer()
		d := e.device(b, i)
		i++
		sr := d.start(b)
		b.StartTimer()
		v, err := e.prov.Start(provCtx, sr)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		ar := d.accept(b, v.ID, v.Offer.ID, "")
		b.StartTimer()
		if _, err := e.prov.Accept(provCtx, ar); err != nil {
			b.Fatal(err)
		}
		if _, err := e.prov.Confirm(provCtx, v.ID, d.cd); err != nil {
			b.Fatal(err)
		}
	}
}
