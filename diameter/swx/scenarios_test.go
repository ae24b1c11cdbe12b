package swx

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/hss"
)

func TestSWxTCP(t *testing.T)  { runScenarios(t, "tcp") }
func TestSWxSCTP(t *testing.T) { runScenarios(t, "sctp") }

func runScenarios(t *testing.T, network string) {
	scenarios := []struct {
		name string
		run  func(t *testing.T, c *cluster)
	}{
		{"MAR/EAP-AKA", marEAPAKA},
		{"MAR/EAP-AKA'", marEAPAKAPrime},
		{"MAR/resync", marResync},
		{"MAR/errors", marErrors},
		{"second AAA server", secondAAAServer},
		{"SAR/every type", sarEveryType},
		{"SAR/errors", sarErrors},
		{"PPR on profile change", pprOnChange},
		{"RTR on barring", rtrOnBarring},
		{"RTR on delete", rtrOnDelete},
	}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) { s.run(t, newCluster(t, network)) })
	}
}

// usimVector is what the USIM (and, for the keys, the AAA server) makes of
// one SIP-Auth-Data-Item.
type usimVector struct {
	sqn      uint64
	conc     [6]byte
	ck, ik   [16]byte
	gotCK    []byte
	gotIK    []byte
	gotXRES  []byte
	wantXRES [8]byte
}

// usimCheck plays the USIM on every SIP-Auth-Data-Item of an MAA: items
// numbered 1..n with the scheme asked for, AUTN verifying (f1 over the SQN it
// hides, TS 33.102 6.3.3) with the AMF separation bit set exactly for
// EAP-AKA' (TS 33.402 6.2), SIP-Authorization = XRES = f2, SQNs increasing.
// It returns the vectors for the caller to check CK/IK.
func usimCheck(t *testing.T, ans *diam.Message, n int, scheme string) []usimVector {
	t.Helper()
	if got := mustU32(t, find(ans.AVP, codeSIPNumberAuthItems, VendorID)); got != uint32(n) {
		t.Errorf("SIP-Number-Auth-Items %d, want %d", got, n)
	}
	items := findAll(ans.AVP, codeSIPAuthDataItem, VendorID)
	if len(items) != n {
		t.Fatalf("%d SIP-Auth-Data-Items, want %d", len(items), n)
	}
	m := hss.NewMilenage(testK, testOPc)
	var out []usimVector
	for i, it := range items {
		f := members(t, it)
		if v := mustU32(t, find(f, codeSIPItemNumber, VendorID)); v != uint32(i+1) {
			t.Errorf("item %d: SIP-Item-Number %d", i, v)
		}
		if s := string(mustOctets(t, find(f, codeSIPAuthScheme, VendorID))); s != scheme {
			t.Errorf("item %d: scheme %q, want %q", i, s, scheme)
		}
		challenge := mustOctets(t, find(f, codeSIPAuthenticate, VendorID))
		if len(challenge) != 32 {
			t.Fatalf("item %d: SIP-Authenticate %d octets, want RAND||AUTN (32)", i, len(challenge))
		}
		var rand [16]byte
		copy(rand[:], challenge[:16])
		autn := challenge[16:]
		res, ck, ik, ak := m.F2345(rand)
		var v usimVector
		copy(v.conc[:], autn[:6])
		var sqn [6]byte
		for j := range sqn {
			sqn[j] = v.conc[j] ^ ak[j]
		}
		amf := [2]byte{autn[6], autn[7]}
		wantAMF := testAMF
		if scheme == SchemeEAPAKAPrime {
			wantAMF[0] |= 0x80
		}
		if amf != wantAMF {
			t.Errorf("item %d: AMF %x, want %x", i, amf, wantAMF)
		}
		if mac := m.F1(rand, sqn, amf); !bytes.Equal(mac[:], autn[8:]) {
			t.Errorf("item %d: MAC-A does not verify", i)
		}
		v.sqn, v.ck, v.ik, v.wantXRES = hss.SQNFromBytes(sqn), ck, ik, res
		v.gotXRES = mustOctets(t, find(f, codeSIPAuthorization, VendorID))
		v.gotCK = mustOctets(t, find(f, codeConfidentialityKey, VendorID))
		v.gotIK = mustOctets(t, find(f, codeIntegrityKey, VendorID))
		if !bytes.Equal(v.gotXRES, res[:]) {
			t.Errorf("item %d: XRES %x, want f2 %x", i, v.gotXRES, res)
		}
		if len(out) > 0 && out[len(out)-1].sqn >= v.sqn {
			t.Errorf("item %d: SQN %d not above %d", i, v.sqn, out[len(out)-1].sqn)
		}
		out = append(out, v)
	}
	return out
}

func registeredAAA(t *testing.T, c *cluster) string {
	t.Helper()
	r, err := c.hss.Registrations(context.Background(), testIMSI)
	if err != nil {
		t.Fatal(err)
	}
	if r.AAA == nil {
		return ""
	}
	return r.AAA.ServerName
}

// marEAPAKA: three EAP-AKA vectors for a root NAI with the EAP-AKA prefix;
// CK and IK are f3 and f4; the AAA server is recorded.
func marEAPAKA(t *testing.T, c *cluster) {
	req := marRequest(aaa1, naiAKA, SchemeEAPAKA, 3, "")
	ans := c.do(t, req)
	wantResult(t, ans, diameter.Success)
	if u := string(mustOctets(t, find(ans.AVP, avp.UserName, 0))); u != naiAKA {
		t.Errorf("User-Name %q, want the request's %q", u, naiAKA)
	}
	if len(ans.AVP) == 0 || ans.AVP[0].Code != avp.SessionID {
		t.Error("Session-Id is not the first avp")
	}
	for i, v := range usimCheck(t, ans, 3, SchemeEAPAKA) {
		if !bytes.Equal(v.gotCK, v.ck[:]) || !bytes.Equal(v.gotIK, v.ik[:]) {
			t.Errorf("item %d: CK/IK are not f3/f4", i)
		}
	}
	if got := registeredAAA(t, c); got != aaa1 {
		t.Errorf("registered AAA server %q, want %q", got, aaa1)
	}
}

// hmacSHA256 is RFC 2104 written out with SHA-256 (64-octet blocks), so
// that the CK'/IK' check does not rest on the code under test.
func hmacSHA256(key, msg []byte) []byte {
	var k [64]byte
	copy(k[:], key) // keys here are 32 octets, shorter than a block
	ipad, opad := make([]byte, 64), make([]byte, 64)
	for i := range k {
		ipad[i], opad[i] = k[i]^0x36, k[i]^0x5c
	}
	inner := sha256.Sum256(append(ipad, msg...))
	outer := sha256.Sum256(append(opad, inner[:]...))
	return outer[:]
}

// marEAPAKAPrime: CK'/IK' = KDF(CK||IK, 0x20 || ANID || L0 || SQN^AK || L1)
// (TS 33.402 A.2, RFC 9048 3.3), checked against hss.DeriveCKIKPrime and a
// hand-written HMAC-SHA-256; a missing ANID is 5005 naming ANID.
func marEAPAKAPrime(t *testing.T, c *cluster) {
	ans := c.do(t, marRequest(aaa1, naiAKAPri, SchemeEAPAKAPrime, 2, wlanANID))
	wantResult(t, ans, diameter.Success)
	for i, v := range usimCheck(t, ans, 2, SchemeEAPAKAPrime) {
		s := []byte{0x20}
		s = append(s, wlanANID...)
		s = append(s, 0, byte(len(wlanANID)))
		s = append(s, v.conc[:]...)
		s = append(s, 0, 6)
		want := hmacSHA256(append(v.ck[:], v.ik[:]...), s)
		if !bytes.Equal(v.gotCK, want[:16]) || !bytes.Equal(v.gotIK, want[16:]) {
			t.Errorf("item %d: CK'/IK' differ from the hand-computed KDF", i)
		}
		ckp, ikp, err := hss.DeriveCKIKPrime(v.ck, v.ik, wlanANID, v.conc)
		if err != nil || !bytes.Equal(v.gotCK, ckp[:]) || !bytes.Equal(v.gotIK, ikp[:]) {
			t.Errorf("item %d: CK'/IK' differ from hss.DeriveCKIKPrime (%v)", i, err)
		}
		if bytes.Equal(v.gotCK, v.ck[:]) {
			t.Errorf("item %d: CK' equals CK", i)
		}
	}
	ans = c.do(t, marRequest(aaa1, naiAKAPri, SchemeEAPAKAPrime, 1, ""))
	wantResult(t, ans, diameter.Result{Code: diameter.CodeMissingAVP})
	if f := failedAVPCode(t, ans); f != codeANID {
		t.Errorf("Failed-AVP %d, want ANID (%d)", f, codeANID)
	}
}

// auts builds AUTS = SQN_MS xor AK* || MAC-S as the USIM does (TS 33.102
// 6.3.3, AMF 0x0000 in f1*).
func auts(rand [16]byte, sqnMS uint64) [14]byte {
	m := hss.NewMilenage(testK, testOPc)
	sqn := hss.SQNBytes(sqnMS)
	akStar := m.F5Star(rand)
	var out [14]byte
	for i := range 6 {
		out[i] = sqn[i] ^ akStar[i]
	}
	mac := m.F1Star(rand, sqn, [2]byte{})
	copy(out[6:], mac[:])
	return out
}

// marResync: the USIM has seen SEQ 1000; the RAND||AUTS it sends in
// SIP-Authorization brings SEQ_HE past it (TS 33.102 6.3.5, TS 29.273
// 8.1.2.1.1). A bad MAC-S is 4181 and moves nothing.
func marResync(t *testing.T, c *cluster) {
	ans := c.do(t, marRequest(aaa1, testIMSI, SchemeEAPAKA, 1, ""))
	wantResult(t, ans, diameter.Success)
	before := usimCheck(t, ans, 1, SchemeEAPAKA)[0].sqn

	rand := [16]byte{0xde, 0xad, 0xbe, 0xef, 1, 2, 3}
	bad := auts(rand, hss.ComposeSQN(5000, 1, indBits))
	bad[13] ^= 1
	ans = c.do(t, marRequest(aaa1, testIMSI, SchemeEAPAKA, 1, "", oct(codeSIPAuthorization, string(rand[:])+string(bad[:]))))
	wantResult(t, ans, diameter.Result{Code: diameter.CodeAuthenticationDataUnavailable, Experimental: true, VendorID: diameter.VendorID3GPP})

	const seqMS = 1000
	a := auts(rand, hss.ComposeSQN(seqMS, 1, indBits))
	ans = c.do(t, marRequest(aaa1, testIMSI, SchemeEAPAKA, 2, "", oct(codeSIPAuthorization, string(rand[:])+string(a[:]))))
	wantResult(t, ans, diameter.Success)
	for _, v := range usimCheck(t, ans, 2, SchemeEAPAKA) {
		seq, _ := hss.SplitSQN(v.sqn, indBits)
		if seq <= seqMS || seq >= 5000 {
			t.Errorf("SEQ %d after resync to %d (before: SQN %d)", seq, seqMS, before)
		}
	}
	ans = c.do(t, marRequest(aaa1, testIMSI, SchemeEAPAKA, 1, "", oct(codeSIPAuthorization, string(rand[:10]))))
	wantResult(t, ans, diameter.Result{Code: diameter.CodeInvalidAVPValue})
	if f := failedAVPCode(t, ans); f != codeSIPAuthorization {
		t.Errorf("Failed-AVP %d, want SIP-Authorization", f)
	}
}

func marErrors(t *testing.T, c *cluster) {
	c.aaa(t, aaa1) // connected for the whole scenario, not one subtest
	cases := []struct {
		name   string
		req    *diam.Message
		want   diameter.Result
		failed uint32
	}{
		{"unknown user", marRequest(aaa1, "001019999999999", SchemeEAPAKA, 1, ""), experimental(diameter.CodeUserUnknown), 0},
		{"unsupported scheme", marRequest(aaa1, testIMSI, "Digest-AKAv1-MD5", 1, ""), experimental(diameter.CodeAuthSchemeNotSupported), 0},
		{"pseudonym", marRequest(aaa1, "2abcdef"+nai, SchemeEAPAKA, 1, ""), diameter.Result{Code: diameter.CodeInvalidAVPValue}, avp.UserName},
		{"zero items", marRequest(aaa1, testIMSI, SchemeEAPAKA, 0, ""), diameter.Result{Code: diameter.CodeInvalidAVPValue}, codeSIPNumberAuthItems},
		{"no auth data item", request(cmdMultimediaAuth, aaa1, userName(testIMSI)), diameter.Result{Code: diameter.CodeMissingAVP}, codeSIPAuthDataItem},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ans := c.do(t, tc.req)
			wantResult(t, ans, tc.want)
			if f := failedAVPCode(t, ans); f != tc.failed {
				t.Errorf("Failed-AVP %d, want %d", f, tc.failed)
			}
			if find(ans.AVP, codeSIPAuthDataItem, VendorID) != nil {
				t.Error("failed MAA carries vectors")
			}
		})
	}
	if got := registeredAAA(t, c); got != "" {
		t.Errorf("failed MARs registered %q", got)
	}
	// Barred non-3GPP access: 5450 (TS 29.273 8.1.2.1.1).
	if _, err := c.hss.UpdateSubscriber(context.Background(), testIMSI, func(s *hss.Subscriber) error {
		s.Non3GPP.AccessAllowed = false
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	wantResult(t, c.do(t, marRequest(aaa1, testIMSI, SchemeEAPAKA, 1, "")), experimental(diameter.CodeUserNoNon3GPPSubscription))
}

// secondAAAServer: while aaa1 holds the user, aaa2's MAR and SAR
// REGISTRATION are answered DIAMETER_ERROR_IDENTITY_ALREADY_REGISTERED
// naming aaa1 (TS 29.273 8.1.2.1.1, 8.1.2.2.1) and change nothing; after
// aaa1 deregisters, aaa2 gets in.
func secondAAAServer(t *testing.T, c *cluster) {
	wantResult(t, c.do(t, marRequest(aaa1, testIMSI, SchemeEAPAKA, 1, "")), diameter.Success)
	for _, req := range []*diam.Message{
		marRequest(aaa2, testIMSI, SchemeEAPAKA, 1, ""),
		sarRequest(aaa2, testIMSI, hss.SARegistration),
	} {
		ans := c.do(t, req)
		wantResult(t, ans, experimental(diameter.CodeIdentityAlreadyRegistered))
		if u := string(mustOctets(t, find(ans.AVP, avp.UserName, 0))); u != testIMSI {
			t.Errorf("failed answer User-Name %q", u)
		}
		if got := string(mustOctets(t, find(ans.AVP, codeAAAServerName, VendorID))); got != aaa1 {
			t.Errorf("3GPP-AAA-Server-Name %q, want %q", got, aaa1)
		}
		if find(ans.AVP, codeSIPAuthDataItem, VendorID) != nil || find(ans.AVP, codeNon3GPPUserData, VendorID) != nil {
			t.Error("refused answer carries data")
		}
	}
	if got := registeredAAA(t, c); got != aaa1 {
		t.Errorf("registration %q, want %q kept", got, aaa1)
	}
	wantResult(t, c.do(t, sarRequest(aaa1, testIMSI, hss.SAUserDeregistration)), diameter.Success)
	wantResult(t, c.do(t, marRequest(aaa2, testIMSI, SchemeEAPAKA, 1, "")), diameter.Success)
	if got := registeredAAA(t, c); got != aaa2 {
		t.Errorf("registration %q, want %q", got, aaa2)
	}
}

// checkUserData checks Non-3GPP-User-Data of the test subscriber: MSISDN as
// Subscription-Id E.164, access allowed, APNs enabled, the subscriber AMBR,
// and only the "ims" APN (context 2), which is then the default.
func checkUserData(t *testing.T, ans *diam.Message) {
	t.Helper()
	d := members(t, find(ans.AVP, codeNon3GPPUserData, VendorID))
	sid := members(t, find(d, codeSubscriptionID, 0))
	if mustU32(t, find(sid, codeSubscriptionIDType, 0)) != endUserE164 || string(mustOctets(t, find(sid, codeSubscriptionIDData, 0))) != "33612345678" {
		t.Errorf("Subscription-Id %v", sid)
	}
	if v := mustU32(t, find(d, codeNon3GPPIPAccess, VendorID)); v != non3GPPAllowed {
		t.Errorf("Non-3GPP-IP-Access %d", v)
	}
	if v := mustU32(t, find(d, codeNon3GPPIPAccessAPN, VendorID)); v != non3GPPAPNsEnable {
		t.Errorf("Non-3GPP-IP-Access-APN %d", v)
	}
	ambr := members(t, find(d, codeAMBR, VendorID))
	if mustU32(t, find(ambr, codeMaxRequestedBandwidthUL, VendorID)) != 50_000_000 || mustU32(t, find(ambr, codeMaxRequestedBandwidthDL, VendorID)) != 100_000_000 {
		t.Errorf("AMBR %v", ambr)
	}
	if v := mustU32(t, find(d, codeContextIdentifier, VendorID)); v != 2 {
		t.Errorf("default Context-Identifier %d, want 2", v)
	}
	apns := findAll(d, codeAPNConfiguration, VendorID)
	if len(apns) != 1 {
		t.Fatalf("%d APN-Configurations, want 1", len(apns))
	}
	a := members(t, apns[0])
	if mustU32(t, find(a, codeContextIdentifier, VendorID)) != 2 || string(mustOctets(t, find(a, codeServiceSelection, 0))) != "ims" {
		t.Errorf("APN-Configuration %v", a)
	}
	if ip := find(a, codeServedPartyIPAddress, VendorID); ip == nil {
		t.Error("static address missing")
	}
}

// sarEveryType drives every Server-Assignment-Type through one registration
// life cycle and checks the answer and the stored registration after each.
func sarEveryType(t *testing.T, c *cluster) {
	steps := []struct {
		typ      hss.ServerAssignmentType
		want     diameter.Result
		data     bool
		register string // AAA server registered afterwards
	}{
		{hss.SAAAAUserDataRequest, experimental(diameter.CodeIdentityNotRegistered), false, ""},
		{hss.SAPGWUpdate, experimental(diameter.CodeIdentityNotRegistered), false, ""},
		{hss.SANoAssignment, diameter.Success, true, ""},
		{hss.SARegistration, diameter.Success, true, aaa1},
		{hss.SAReRegistration, diameter.Success, true, aaa1},
		{hss.SAAAAUserDataRequest, diameter.Success, true, aaa1},
		{hss.SAPGWUpdate, diameter.Success, true, aaa1},
		{hss.SAUnregisteredUser, experimental(diameter.CodeInAssignmentType), false, aaa1},
		{hss.SATimeoutDeregistrationStore, experimental(diameter.CodeInAssignmentType), false, aaa1},
		{hss.SAUserDeregistrationStore, experimental(diameter.CodeInAssignmentType), false, aaa1},
		{hss.SADeregistrationTooMuchData, experimental(diameter.CodeInAssignmentType), false, aaa1},
		{hss.SAUserDeregistration, diameter.Success, false, ""},
		{hss.SAUserDeregistration, diameter.Success, false, ""}, // idempotent
		{hss.SARestoration, diameter.Success, true, aaa1},
		{hss.SATimeoutDeregistration, diameter.Success, false, ""},
		{hss.SARegistration, diameter.Success, true, aaa1},
		{hss.SAAdministrativeDeregistration, diameter.Success, false, ""},
		{hss.SARegistration, diameter.Success, true, aaa1},
		{hss.SAAuthenticationFailure, diameter.Success, false, ""},
		{hss.SARegistration, diameter.Success, true, aaa1},
		{hss.SAAuthenticationTimeout, diameter.Success, false, ""},
		{hss.ServerAssignmentType(99), experimental(diameter.CodeInAssignmentType), false, ""},
	}
	for i, s := range steps {
		ans := c.do(t, sarRequest(aaa1, naiAKA, s.typ))
		wantResult(t, ans, s.want)
		if s.data {
			checkUserData(t, ans)
		} else if find(ans.AVP, codeNon3GPPUserData, VendorID) != nil {
			t.Errorf("step %d (type %d): unexpected Non-3GPP-User-Data", i, s.typ)
		}
		if s.want == diameter.Success && string(mustOctets(t, find(ans.AVP, avp.UserName, 0))) != naiAKA {
			t.Errorf("step %d: User-Name not echoed", i)
		}
		if got := registeredAAA(t, c); got != s.register {
			t.Fatalf("step %d (type %d): registered %q, want %q", i, s.typ, got, s.register)
		}
	}
}

func sarErrors(t *testing.T, c *cluster) {
	wantResult(t, c.do(t, sarRequest(aaa1, "001019999999999", hss.SARegistration)), experimental(diameter.CodeUserUnknown))
	ans := c.do(t, sarRequest(aaa1, "abc", hss.SARegistration))
	wantResult(t, ans, diameter.Result{Code: diameter.CodeInvalidAVPValue})
	if f := failedAVPCode(t, ans); f != avp.UserName {
		t.Errorf("Failed-AVP %d, want User-Name", f)
	}
	if _, err := c.hss.UpdateSubscriber(context.Background(), testIMSI, func(s *hss.Subscriber) error {
		s.Non3GPP.AccessAllowed = false
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	wantResult(t, c.do(t, sarRequest(aaa1, testIMSI, hss.SARegistration)), experimental(diameter.CodeUserNoNon3GPPSubscription))
	// A deregistration always succeeds, so that an AAA server can clean up.
	wantResult(t, c.do(t, sarRequest(aaa1, testIMSI, hss.SAUserDeregistration)), diameter.Success)
}

// checkOriginated checks the head of a request the HSS sent to aaa1.
func checkOriginated(t *testing.T, m *diam.Message) {
	t.Helper()
	if m.Header.CommandFlags&diam.RequestFlag == 0 || m.Header.CommandFlags&diam.ProxiableFlag == 0 {
		t.Errorf("flags %#x, want R and P", m.Header.CommandFlags)
	}
	if len(m.AVP) == 0 || m.AVP[0].Code != avp.SessionID {
		t.Fatal("Session-Id is not the first avp")
	}
	if h := string(mustOctets(t, find(m.AVP, avp.DestinationHost, 0))); h != aaa1 {
		t.Errorf("Destination-Host %q", h)
	}
	if u := string(mustOctets(t, find(m.AVP, avp.UserName, 0))); u != testIMSI {
		t.Errorf("User-Name %q", u)
	}
	if mustU32(t, find(m.AVP, avp.AuthSessionState, 0)) != noStateMaintained {
		t.Error("Auth-Session-State")
	}
}

// pprOnChange: an operator change of what aaa1 holds (the AMBR) reaches it
// in a PPR with the new Non-3GPP-User-Data; a change it does not hold sends
// nothing.
func pprOnChange(t *testing.T, c *cluster) {
	ctx := context.Background()
	wantResult(t, c.do(t, marRequest(aaa1, testIMSI, SchemeEAPAKA, 1, "")), diameter.Success)
	peer := c.aaa(t, aaa1)
	if _, err := c.hss.UpdateSubscriber(ctx, testIMSI, func(s *hss.Subscriber) error {
		s.PeriodicRAUTAUTimer = 600 // S6a only
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	noRequest(t, peer)
	if _, err := c.hss.UpdateSubscriber(ctx, testIMSI, func(s *hss.Subscriber) error {
		s.AMBR = hss.AMBR{UL: 7_000_000, DL: 9_000_000}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	ppr := waitRequest(t, peer, cmdPushProfile)
	checkOriginated(t, ppr)
	d := members(t, find(ppr.AVP, codeNon3GPPUserData, VendorID))
	ambr := members(t, find(d, codeAMBR, VendorID))
	if mustU32(t, find(ambr, codeMaxRequestedBandwidthUL, VendorID)) != 7_000_000 || mustU32(t, find(ambr, codeMaxRequestedBandwidthDL, VendorID)) != 9_000_000 {
		t.Errorf("PPR AMBR %v", ambr)
	}
	if got := registeredAAA(t, c); got != aaa1 {
		t.Errorf("PPR changed the registration to %q", got)
	}
}

// rtrOnBarring: barring non-3GPP access ends aaa1's registration with an
// RTR (PERMANENT_TERMINATION) and clears it once aaa1 answered.
func rtrOnBarring(t *testing.T, c *cluster) {
	wantResult(t, c.do(t, sarRequest(aaa1, testIMSI, hss.SARegistration)), diameter.Success)
	if _, err := c.hss.UpdateSubscriber(context.Background(), testIMSI, func(s *hss.Subscriber) error {
		s.Non3GPP.AccessAllowed = false
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	rtr := waitRequest(t, c.aaa(t, aaa1), cmdRegistrationTermination)
	checkOriginated(t, rtr)
	checkReason(t, rtr)
	if got := registeredAAA(t, c); got != "" {
		t.Errorf("registration %q kept after RTR", got)
	}
}

func checkReason(t *testing.T, rtr *diam.Message) {
	t.Helper()
	r := members(t, find(rtr.AVP, codeDeregistrationReason, VendorID))
	if v := mustU32(t, find(r, codeReasonCode, VendorID)); v != reasonPermanentTerm {
		t.Errorf("Reason-Code %d, want PERMANENT_TERMINATION", v)
	}
}

// rtrOnDelete: deleting the subscriber sends aaa1 an RTR.
func rtrOnDelete(t *testing.T, c *cluster) {
	wantResult(t, c.do(t, marRequest(aaa1, testIMSI, SchemeEAPAKA, 1, "")), diameter.Success)
	if err := c.hss.DeleteSubscriber(context.Background(), testIMSI); err != nil {
		t.Fatal(err)
	}
	rtr := waitRequest(t, c.aaa(t, aaa1), cmdRegistrationTermination)
	checkOriginated(t, rtr)
	checkReason(t, rtr)
	if _, err := c.hss.Registrations(context.Background(), testIMSI); err != nil && !errors.Is(err, hss.ErrUnknownSubscriber) {
		t.Errorf("registrations after delete: %v", err)
	}
}
