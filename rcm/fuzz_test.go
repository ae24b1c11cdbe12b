package rcm

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"testing"
)

// FuzzDecodeBootstrap runs the AVP payload decoders (certificate chain,
// ephemeral key, timestamp, IMEI URN) on arbitrary bytes: they never panic,
// every error is ErrMalformedBootstrap, and what decodes re-encodes to the
// same bytes.
func FuzzDecodeBootstrap(f *testing.F) {
	chain, _ := EncodeCertChain([][]byte{[]byte("leaf"), []byte("intermediate")})
	k, _ := ecdh.P256().GenerateKey(rand.Reader)
	f.Add(chain, k.PublicKey().Bytes(), EncodeTimestamp(1767225600), "urn:gsma:imei:49015420-323751-8")
	f.Add([]byte{0, 0, 0, 1}, []byte{4}, []byte{}, "")
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1}, make([]byte, 65), make([]byte, 9), "urn:gsma:imei:;")
	f.Fuzz(func(t *testing.T, chainB, ephB, tsB []byte, urn string) {
		if c, err := DecodeCertChain(chainB); err == nil {
			re, err := EncodeCertChain(c)
			if err != nil || !bytes.Equal(re, chainB) {
				t.Fatalf("chain does not round trip: %v", err)
			}
		} else if !errors.Is(err, ErrMalformedBootstrap) {
			t.Fatalf("chain error %v", err)
		}
		if pk, err := DecodeEphemeralKey(ephB); err == nil {
			if !bytes.Equal(pk.Bytes(), ephB) {
				t.Fatal("ephemeral key does not round trip")
			}
		} else if !errors.Is(err, ErrMalformedBootstrap) {
			t.Fatalf("ephemeral error %v", err)
		}
		if ts, err := DecodeTimestamp(tsB); err == nil {
			if !bytes.Equal(EncodeTimestamp(ts), tsB) {
				t.Fatal("timestamp does not round trip")
			}
		} else if !errors.Is(err, ErrMalformedBootstrap) {
			t.Fatalf("timestamp error %v", err)
		}
		if imei, err := ParseIMEIURN(urn); err == nil {
			if again, err := ParseIMEIURN(imei.URN()); err != nil || again != imei {
				t.Fatalf("imei urn does not round trip: %q", urn)
			}
		} else if !errors.Is(err, ErrMalformedBootstrap) {
			t.Fatalf("urn error %v", err)
		}
	})
}

// FuzzVerify feeds arbitrary certificate bytes, signature and IMEI through the
// whole verification path against a real registered PKI: it never panics and
// never accepts (no input here carries a valid signature by the device key).
func FuzzVerify(f *testing.F) {
	fx := newFixture(f)
	cred := fx.vendor.device(f, testIMEI, leafOpts{})
	_, b := fx.attach(f, cred, testNow)
	f.Add(cred.CertChain[0], []byte(nil), b.Signature[:len(b.Signature)-1], string(testIMEI))
	f.Add(cred.CertChain[0], fx.vendor.cert.Raw, []byte{0x30, 0}, string(testIMEI))
	f.Add([]byte("junk"), []byte(nil), b.Signature, "356938035643809")
	f.Add(cred.CertChain[0][:100], []byte(nil), b.Signature, string(testIMEI))
	f.Fuzz(func(t *testing.T, leaf, inter, sig []byte, imei string) {
		fb := b
		fb.IMEI = IMEI(imei)
		fb.CertChain = [][]byte{leaf}
		if len(inter) > 0 {
			fb.CertChain = append(fb.CertChain, inter)
		}
		fb.Signature = sig
		v, err := NewVerifier(fx.cfg, fx.state, fx.revs, newMemState(), newMemState())
		if err != nil {
			t.Fatal(err)
		}
		d, err := v.Verify(context.Background(), fx.guest, fx.visited, fb, testNow)
		if err == nil {
			// Only the genuine signature over this exact transcript may pass.
			if !bytes.Equal(sig, b.Signature) || !bytes.Equal(leaf, cred.CertChain[0]) || len(inter) > 0 || IMEI(imei) != testIMEI {
				t.Fatalf("accepted a forged bootstrap: %+v", d)
			}
			return
		}
		matched := false
		for _, s := range allRejections {
			if errors.Is(err, s) {
				matched = true
			}
		}
		if !matched {
			t.Fatalf("error without a rejection sentinel: %v", err)
		}
	})
}
