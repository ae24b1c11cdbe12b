package rcm

import (
	"context"
	"testing"
)

// BenchmarkVerify measures one full provisioning-attach verification: chain
// path building, revocation, coverage and the device signature.
func BenchmarkVerify(b *testing.B) {
	f := newFixture(b)
	cred := f.vendor.device(b, testIMEI, leafOpts{})
	_, bs := f.attach(b, cred, testNow)
	f.cfg.RateLimits = RateLimits{}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		// A fresh replay cache each time: the same transcript is verified again.
		v, err := NewVerifier(f.cfg, f.state, f.revs, newMemState(), newMemState())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := v.Verify(ctx, f.guest, f.visited, bs, testNow); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBind measures the HSS side of the binding per AIR: ephemeral key,
// ECDH, proof signature and one KASME derivation.
func BenchmarkBind(b *testing.B) {
	f := newFixture(b)
	cred := f.vendor.device(b, testIMEI, leafOpts{})
	_, bs := f.attach(b, cred, testNow)
	d, err := f.verifier.Verify(context.Background(), f.guest, f.visited, bs, testNow)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		kb, err := f.hss.Bind(d)
		if err != nil {
			b.Fatal(err)
		}
		_ = kb.KASME([32]byte{}, [16]byte{})
	}
}

// BenchmarkDeviceFinish measures the device side: HSS chain, proof
// signature, ECDH and HKDF.
func BenchmarkDeviceFinish(b *testing.B) {
	f := newFixture(b)
	cred := f.vendor.device(b, testIMEI, leafOpts{})
	sess, bs := f.attach(b, cred, testNow)
	d, err := f.verifier.Verify(context.Background(), f.guest, f.visited, bs, testNow)
	if err != nil {
		b.Fatal(err)
	}
	kb, err := f.hss.Bind(d)
	if err != nil {
		b.Fatal(err)
	}
	p := kb.Proof()
	roots := f.pinned()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sess.Finish(p.HSSEphemeral, p.Signature, p.CertChain, roots, [32]byte{}, [16]byte{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBindKASME(b *testing.B) {
	z := make([]byte, 32)
	b.ReportAllocs()
	for b.Loop() {
		_ = BindKASME([32]byte{}, z, [32]byte{}, [16]byte{})
	}
}
