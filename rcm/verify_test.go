package rcm

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net/url"
	"testing"
	"time"

	"github.com/rcmhss/rcmhss/hss"
)

func TestVerifyHappyPathAndBoundKASME(t *testing.T) {
	f := newFixture(t)
	cred := f.vendor.device(t, testIMEI, leafOpts{})
	sess, b := f.attach(t, cred, testNow.Add(-30*time.Second))

	d, err := f.verifier.Verify(context.Background(), f.guest, f.visited, b, testNow)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if d.IMEI != testIMEI || d.ProfileID != "meters-acme" || d.ProviderID != "acme-utility" {
		t.Fatalf("device = %+v", d)
	}
	if d.CertFingerprint != sha256.Sum256(cred.CertChain[0]) {
		t.Fatal("fingerprint is not SHA-256 of the device certificate")
	}
	if d.TranscriptHash != TranscriptHash(f.guest, f.visited, &b) {
		t.Fatal("device transcript hash differs")
	}

	kb, err := f.hss.Bind(d)
	if err != nil {
		t.Fatal(err)
	}
	vs := []hss.EUTRANVector{{}, {}}
	for i := range vs {
		_, _ = rand.Read(vs[i].RAND[:])
		_, _ = rand.Read(vs[i].KASME[:]) // stands for the guest KASME of TS 33.401 A.2
	}
	guestKASME := []([32]byte){vs[0].KASME, vs[1].KASME}
	kb.BindVectors(vs)
	p := kb.Proof()
	for i := range vs {
		got, err := sess.Finish(p.HSSEphemeral, p.Signature, p.CertChain, f.pinned(), guestKASME[i], vs[i].RAND)
		if err != nil {
			t.Fatalf("Finish: %v", err)
		}
		if got != vs[i].KASME {
			t.Fatalf("vector %d: device KASME_bound %x != HSS %x", i, got, vs[i].KASME)
		}
		if got == guestKASME[i] {
			t.Fatal("KASME_bound equals KASME_guest")
		}
	}
	if vs[0].KASME == vs[1].KASME {
		t.Fatal("two vectors got the same bound KASME")
	}
	if s := fmt.Sprintf("%v %+v %#v %s", kb, kb, kb, sess); bytes.Contains([]byte(s), kb.z) || !bytes.Contains([]byte(s), []byte("redacted")) {
		t.Fatalf("secrets print: %s", s)
	}
}

func TestVerifyRejections(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		want error
		// setup returns the bootstrap to verify (and may change the fixture).
		setup func(t *testing.T, f *rcmFixture) Bootstrap
		now   time.Time
	}{
		{"no bootstrap", ErrNoBootstrap, func(t *testing.T, f *rcmFixture) Bootstrap { return Bootstrap{} }, testNow},
		{"not provisioning", ErrNotProvisioning, func(t *testing.T, f *rcmFixture) Bootstrap {
			_, b := f.attach(t, f.vendor.device(t, testIMEI, leafOpts{}), testNow)
			b.ConnectionType = ConnectionNormal
			return b
		}, testNow},
		{"malformed ephemeral", ErrMalformedBootstrap, func(t *testing.T, f *rcmFixture) Bootstrap {
			_, b := f.attach(t, f.vendor.device(t, testIMEI, leafOpts{}), testNow)
			b.DeviceEphemeral = append([]byte{4}, make([]byte, 64)...) // (0,0) is not on P-256
			return b
		}, testNow},
		{"malformed certificate", ErrMalformedBootstrap, func(t *testing.T, f *rcmFixture) Bootstrap {
			_, b := f.attach(t, f.vendor.device(t, testIMEI, leafOpts{}), testNow)
			b.CertChain = [][]byte{[]byte("not a certificate")}
			return b
		}, testNow},
		{"unknown ca", ErrUnknownCA, func(t *testing.T, f *rcmFixture) Bootstrap {
			rogue := newCA(t, "Vendor Device CA", nil) // same name, other key
			_, b := f.attach(t, rogue.device(t, testIMEI, leafOpts{}), testNow)
			return b
		}, testNow},
		{"expired", ErrCertExpired, func(t *testing.T, f *rcmFixture) Bootstrap {
			_, b := f.attach(t, f.vendor.device(t, testIMEI, leafOpts{notBefore: testNow.Add(-48 * time.Hour), notAfter: testNow.Add(-time.Hour)}), testNow)
			return b
		}, testNow},
		{"not yet valid", ErrCertNotYetValid, func(t *testing.T, f *rcmFixture) Bootstrap {
			_, b := f.attach(t, f.vendor.device(t, testIMEI, leafOpts{notBefore: testNow.Add(time.Hour)}), testNow)
			return b
		}, testNow},
		{"ca certificate as device certificate", ErrUnknownCA, func(t *testing.T, f *rcmFixture) Bootstrap {
			key := newKey(t)
			tmpl := &x509.Certificate{SerialNumber: serial(), NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(time.Hour),
				IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
				URIs: []*url.URL{{Scheme: "urn", Opaque: "gsma:imei:49015420-323751-8"}}}
			der, err := x509.CreateCertificate(rand.Reader, tmpl, f.vendor.cert, &key.PublicKey, f.vendor.key)
			if err != nil {
				t.Fatal(err)
			}
			_, b := f.attach(t, DeviceCredentials{IMEI: testIMEI, CertChain: [][]byte{der}, Key: key}, testNow)
			return b
		}, testNow},
		{"key usage without digitalSignature", ErrBadSignature, func(t *testing.T, f *rcmFixture) Bootstrap {
			key := newKey(t)
			tmpl := &x509.Certificate{SerialNumber: serial(), NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(time.Hour),
				KeyUsage: x509.KeyUsageKeyAgreement, URIs: []*url.URL{{Scheme: "urn", Opaque: "gsma:imei:49015420-323751-8"}}}
			der, err := x509.CreateCertificate(rand.Reader, tmpl, f.vendor.cert, &key.PublicKey, f.vendor.key)
			if err != nil {
				t.Fatal(err)
			}
			_, b := f.attach(t, DeviceCredentials{IMEI: testIMEI, CertChain: [][]byte{der}, Key: key}, testNow)
			return b
		}, testNow},
		{"imei revoked", ErrIMEIRevoked, func(t *testing.T, f *rcmFixture) Bootstrap {
			f.revs.IMEIs = []IMEI{testIMEI}
			_, b := f.attach(t, f.vendor.device(t, testIMEI, leafOpts{}), testNow)
			return b
		}, testNow},
		{"serial revoked", ErrSerialRevoked, func(t *testing.T, f *rcmFixture) Bootstrap {
			cred := f.vendor.device(t, testIMEI, leafOpts{})
			f.revs.Serials = []SerialRevocation{{Issuer: FingerprintOf(f.vendor.cert.Raw), Serial: leafSerial(t, cred)}}
			_, b := f.attach(t, cred, testNow)
			return b
		}, testNow},
		{"crl revoked", ErrCRLRevoked, func(t *testing.T, f *rcmFixture) Bootstrap {
			cred := f.vendor.device(t, testIMEI, leafOpts{})
			f.revs.CRLs = [][]byte{f.vendor.crl(t, leafCert(t, cred).SerialNumber)}
			_, b := f.attach(t, cred, testNow)
			return b
		}, testNow},
		{"imei mismatch", ErrIMEIMismatch, func(t *testing.T, f *rcmFixture) Bootstrap {
			cred := f.vendor.device(t, testIMEI, leafOpts{})
			cred.IMEI = "490154203237526" // same TAC, valid Luhn, not the certified one
			_, b := f.attach(t, cred, testNow)
			return b
		}, testNow},
		{"imei not covered", ErrIMEINotCovered, func(t *testing.T, f *rcmFixture) Bootstrap {
			_, b := f.attach(t, f.vendor.device(t, "356938035643809", leafOpts{}), testNow)
			return b
		}, testNow},
		{"bad signature", ErrBadSignature, func(t *testing.T, f *rcmFixture) Bootstrap {
			cred := f.vendor.device(t, testIMEI, leafOpts{})
			cred.Key = newKey(t) // not the certified key
			_, b := f.attach(t, cred, testNow)
			return b
		}, testNow},
		{"signature for another visited plmn", ErrBadSignature, func(t *testing.T, f *rcmFixture) Bootstrap {
			_, b := f.attach(t, f.vendor.device(t, testIMEI, leafOpts{}), testNow)
			f.visited, _ = hss.PLMNFromString("310410")
			return b
		}, testNow},
		{"substituted ephemeral", ErrBadSignature, func(t *testing.T, f *rcmFixture) Bootstrap {
			_, b := f.attach(t, f.vendor.device(t, testIMEI, leafOpts{}), testNow)
			k, _ := ecdh.P256().GenerateKey(rand.Reader)
			b.DeviceEphemeral = k.PublicKey().Bytes()
			return b
		}, testNow},
		{"stale timestamp", ErrStaleTimestamp, func(t *testing.T, f *rcmFixture) Bootstrap {
			_, b := f.attach(t, f.vendor.device(t, testIMEI, leafOpts{}), testNow)
			return b
		}, testNow.Add(testConfig().TimestampWindow + time.Second)},
		{"future timestamp", ErrStaleTimestamp, func(t *testing.T, f *rcmFixture) Bootstrap {
			_, b := f.attach(t, f.vendor.device(t, testIMEI, leafOpts{}), testNow.Add(testConfig().TimestampWindow+time.Second))
			return b
		}, testNow},
		{"replay", ErrReplay, func(t *testing.T, f *rcmFixture) Bootstrap {
			_, b := f.attach(t, f.vendor.device(t, testIMEI, leafOpts{}), testNow)
			if _, err := f.verifier.Verify(context.Background(), f.guest, f.visited, b, testNow); err != nil {
				t.Fatalf("first Verify: %v", err)
			}
			return b
		}, testNow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			b := tt.setup(t, f)
			d, err := f.verifier.Verify(ctx, f.guest, f.visited, b, tt.now)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify err = %v, want %v", err, tt.want)
			}
			if d != nil {
				t.Fatal("a rejected attach returned a device")
			}
			for _, other := range allRejections {
				if other != tt.want && errors.Is(err, other) {
					t.Fatalf("err %v also matches %v: the diameter table could pick the wrong code", err, other)
				}
			}
		})
	}
}

var allRejections = []error{ErrNoBootstrap, ErrMalformedBootstrap, ErrNotProvisioning, ErrUnknownCA, ErrCertExpired,
	ErrCertNotYetValid, ErrIMEIRevoked, ErrSerialRevoked, ErrCRLRevoked, ErrIMEIMismatch, ErrIMEINotCovered,
	ErrBadSignature, ErrStaleTimestamp, ErrReplay, ErrRateLimited}

func leafCert(t *testing.T, cred DeviceCredentials) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(cred.CertChain[0])
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func leafSerial(t *testing.T, cred DeviceCredentials) string {
	return leafCert(t, cred).SerialNumber.Text(16)
}

func TestVerifyRateLimits(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*RateLimits)
		// second attempt differs from the first in IMEI or guest IMSI so that
		// only the limit under test is shared.
		secondIMEI IMEI
		secondIMSI hss.IMSI
	}{
		{"per imei", func(l *RateLimits) { l.PerIMEI = RateLimit{Limit: 1, Window: time.Minute} }, testIMEI, "001019990000002"},
		{"per tac", func(l *RateLimits) { l.PerTAC = RateLimit{Limit: 1, Window: time.Minute} }, "490154203237526", "001019990000002"},
		{"per guest imsi", func(l *RateLimits) { l.PerIMSI = RateLimit{Limit: 1, Window: time.Minute} }, "356938035643809", "001019990000001"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.cfg.RateLimits = RateLimits{}
			tc.set(&f.cfg.RateLimits)
			f.profile.Coverage.TACs = append(f.profile.Coverage.TACs, "35693803")
			f.state.profiles = []DeviceProfile{f.profile}
			v, err := NewVerifier(f.cfg, f.state, f.revs, f.state, f.state)
			if err != nil {
				t.Fatal(err)
			}
			_, b := f.attach(t, f.vendor.device(t, testIMEI, leafOpts{}), testNow)
			if _, err := v.Verify(context.Background(), f.guest, f.visited, b, testNow); err != nil {
				t.Fatalf("first attempt: %v", err)
			}
			f.guest = tc.secondIMSI
			_, b = f.attach(t, f.vendor.device(t, tc.secondIMEI, leafOpts{}), testNow)
			if _, err := v.Verify(context.Background(), f.guest, f.visited, b, testNow); !errors.Is(err, ErrRateLimited) {
				t.Fatalf("second attempt err = %v, want ErrRateLimited", err)
			}
		})
	}
}

func TestVerifyCRLOfAnotherCAIsNoEvidence(t *testing.T) {
	f := newFixture(t)
	cred := f.vendor.device(t, testIMEI, leafOpts{})
	other := newCA(t, "Vendor Device CA", nil) // same subject name, different key
	f.revs.CRLs = [][]byte{other.crl(t, leafCert(t, cred).SerialNumber)}
	f.revs.Serials = []SerialRevocation{{Issuer: FingerprintOf(other.cert.Raw), Serial: leafSerial(t, cred)}}
	_, b := f.attach(t, cred, testNow)
	if _, err := f.verifier.Verify(context.Background(), f.guest, f.visited, b, testNow); err != nil {
		t.Fatalf("a CRL and a serial revocation from another issuer revoked the device: %v", err)
	}
	if _, _, err := ParseCRL(f.revs.CRLs[0], []*x509.Certificate{f.vendor.cert}); !errors.Is(err, ErrUnknownCA) {
		t.Fatalf("ParseCRL accepted a CRL not signed by a registered CA: %v", err)
	}
	if _, fp, err := ParseCRL(f.vendor.crl(t), []*x509.Certificate{other.cert, f.vendor.cert}); err != nil || fp != FingerprintOf(f.vendor.cert.Raw) {
		t.Fatalf("ParseCRL = %v, %v", fp, err)
	}
}

func TestVerifyIntermediateAndDeviceClass(t *testing.T) {
	f := newFixture(t)
	inter := newCA(t, "Vendor Factory 7", f.vendor)
	f.profile.Coverage = Coverage{DeviceClasses: []string{"meter"}}
	f.state.profiles = []DeviceProfile{f.profile}
	cred := inter.device(t, "356938035643809", leafOpts{}, "meter")
	cred.CertChain = append(cred.CertChain, inter.cert.Raw)
	_, b := f.attach(t, cred, testNow)
	d, err := f.verifier.Verify(context.Background(), f.guest, f.visited, b, testNow)
	if err != nil {
		t.Fatalf("Verify through an intermediate, covered by class: %v", err)
	}
	if len(d.Classes) != 1 || d.Classes[0] != "meter" {
		t.Fatalf("classes = %v", d.Classes)
	}

	// Revoking the intermediate on its issuer's CRL revokes the device.
	f.revs.CRLs = [][]byte{f.vendor.crl(t, inter.cert.SerialNumber)}
	_, b = f.attach(t, cred, testNow)
	if _, err := f.verifier.Verify(context.Background(), f.guest, f.visited, b, testNow); !errors.Is(err, ErrCRLRevoked) {
		t.Fatalf("revoked intermediate: err = %v", err)
	}
}

func TestVerifyNonECDSAKeyIsBadSignature(t *testing.T) {
	f := newFixture(t)
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := f.vendor.issue(t, "ed25519 device", pub, leafOpts{uris: []string{testIMEI.URN()}})
	b := Bootstrap{ConnectionType: ConnectionProvisioning, IMEI: testIMEI, CertChain: [][]byte{leaf.Raw},
		Timestamp: uint64(testNow.Unix()), Signature: []byte{0x30, 0x00}}
	k, _ := ecdh.P256().GenerateKey(rand.Reader)
	b.DeviceEphemeral = k.PublicKey().Bytes()
	if _, err := f.verifier.Verify(context.Background(), f.guest, f.visited, b, testNow); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("err = %v, want ErrBadSignature", err)
	}
}

// TestAttackerCannotComputeBoundKASME: the guest K/OPc are public, so anyone
// can compute KASME_guest; a captured AIR can be replayed. Neither gives
// KASME_bound.
func TestAttackerCannotComputeBoundKASME(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	cred := f.vendor.device(t, testIMEI, leafOpts{})
	_, captured := f.attach(t, cred, testNow)
	d, err := f.verifier.Verify(ctx, f.guest, f.visited, captured, testNow)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := f.hss.Bind(d)
	if err != nil {
		t.Fatal(err)
	}
	var guest [32]byte
	var rnd [16]byte
	_, _ = rand.Read(guest[:])
	_, _ = rand.Read(rnd[:])
	bound := kb.KASME(guest, rnd)
	proof := kb.Proof()

	// 1. Knowing KASME_guest (from the public K/OPc) and every public value of
	//    the exchange, the attacker lacks Z. Its best guesses all miss.
	attacker, _ := ecdh.P256().GenerateKey(rand.Reader)
	hssEph, _ := DecodeEphemeralKey(proof.HSSEphemeral)
	z1, _ := attacker.ECDH(hssEph)
	z2, _ := attacker.ECDH(d.Ephemeral)
	for i, z := range [][]byte{nil, make([]byte, 32), z1, z2, proof.HSSEphemeral[1:33], captured.DeviceEphemeral[1:33]} {
		if BindKASME(guest, z, d.TranscriptHash, rnd) == bound {
			t.Fatalf("guess %d yields KASME_bound", i)
		}
	}
	if guest == bound {
		t.Fatal("KASME_bound == KASME_guest")
	}

	// 2. Replaying the captured AIR to the same HSS (shared replay cache) is
	//    refused.
	if _, err := f.verifier.Verify(ctx, f.guest, f.visited, captured, testNow.Add(time.Second)); !errors.Is(err, ErrReplay) {
		t.Fatalf("replay err = %v", err)
	}
	// 3. Replaying it to a node that somehow lacks the cache entry gets a fresh
	//    HSS ephemeral, so neither the old AIA nor the old KASME apply, and the
	//    attacker still lacks the device ephemeral private key.
	fresh, err := NewVerifier(f.cfg, f.state, f.revs, newMemState(), newMemState())
	if err != nil {
		t.Fatal(err)
	}
	d2, err := fresh.Verify(ctx, f.guest, f.visited, captured, testNow)
	if err != nil {
		t.Fatal(err)
	}
	kb2, err := f.hss.Bind(d2)
	if err != nil {
		t.Fatal(err)
	}
	if kb2.KASME(guest, rnd) == bound || bytes.Equal(kb2.Proof().HSSEphemeral, proof.HSSEphemeral) {
		t.Fatal("a replayed AIR reproduced the binding")
	}
	// 4. Swapping in the attacker's own ephemeral key breaks the device
	//    signature.
	forged := captured
	forged.DeviceEphemeral = attacker.PublicKey().Bytes()
	if _, err := fresh.Verify(ctx, f.guest, f.visited, forged, testNow); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("substituted ephemeral err = %v", err)
	}
}

func TestDeviceRejectsUnauthenticatedHSS(t *testing.T) {
	f := newFixture(t)
	cred := f.vendor.device(t, testIMEI, leafOpts{})
	sess, b := f.attach(t, cred, testNow)
	d, err := f.verifier.Verify(context.Background(), f.guest, f.visited, b, testNow)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := f.hss.Bind(d)
	if err != nil {
		t.Fatal(err)
	}
	p := kb.Proof()
	var guest [32]byte
	var rnd [16]byte

	// An impostor HSS with its own root.
	rogueRoot := newCA(t, "RCM HSS Root", nil)
	rogueKey := newKey(t)
	rogueCert := rogueRoot.issue(t, "hss.rcmhss.test", &rogueKey.PublicKey, leafOpts{})
	rogue, err := NewHSSIdentity(rogueKey, [][]byte{rogueCert.Raw})
	if err != nil {
		t.Fatal(err)
	}
	rkb, err := rogue.Bind(d)
	if err != nil {
		t.Fatal(err)
	}
	rp := rkb.Proof()

	tampered := bytes.Clone(p.Signature)
	tampered[len(tampered)-1] ^= 1
	otherEph, _ := ecdh.P256().GenerateKey(rand.Reader)
	for name, c := range map[string]struct {
		eph, sig []byte
		chain    [][]byte
	}{
		"rogue root":         {rp.HSSEphemeral, rp.Signature, rp.CertChain},
		"tampered signature": {p.HSSEphemeral, tampered, p.CertChain},
		"swapped ephemeral":  {otherEph.PublicKey().Bytes(), p.Signature, p.CertChain},
		"no chain":           {p.HSSEphemeral, p.Signature, nil},
		"garbage chain":      {p.HSSEphemeral, p.Signature, [][]byte{{1, 2, 3}}},
	} {
		if _, err := sess.Finish(c.eph, c.sig, c.chain, f.pinned(), guest, rnd); !errors.Is(err, ErrHSSUnauthenticated) {
			t.Errorf("%s: Finish err = %v, want ErrHSSUnauthenticated", name, err)
		}
	}
	if _, err := sess.Finish(p.HSSEphemeral, p.Signature, p.CertChain, f.pinned(), guest, rnd); err != nil {
		t.Fatalf("genuine proof: %v", err)
	}
}

func TestNewHSSIdentityChecksCertificate(t *testing.T) {
	f := newFixture(t)
	k := newKey(t)
	c := f.hssRoot.issue(t, "hss", &newKey(t).PublicKey, leafOpts{})
	if _, err := NewHSSIdentity(k, [][]byte{c.Raw}); err == nil {
		t.Fatal("accepted a certificate for another key")
	}
	if _, err := NewHSSIdentity(k, nil); err == nil {
		t.Fatal("accepted an empty chain")
	}
}

func TestTimestampWindowEdges(t *testing.T) {
	w := 2 * time.Minute
	now := time.Unix(1767225600, 0)
	for ts, want := range map[uint64]bool{
		1767225600:       true,
		1767225600 - 120: true,
		1767225600 + 120: true,
		1767225600 - 121: false,
		1767225600 + 121: false,
		0:                false,
		math.MaxInt64:    false,
		math.MaxUint64:   false,
	} {
		if got := withinWindow(ts, now, w); got != want {
			t.Errorf("withinWindow(%d) = %v, want %v", ts, got, want)
		}
	}
}
