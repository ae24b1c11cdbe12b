package s6a

import (
	"bytes"
	"context"
	"testing"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/hss"
)

// env is one HSS with the S6a plugin and a way to reach it.
type env struct {
	hss *hss.HSS
	do  exchange
}

// runScenarios runs the request/answer scenarios every transport must pass;
// newEnv builds a fresh environment per scenario.
func runScenarios(t *testing.T, newEnv func(t *testing.T) *env) {
	scenarios := []struct {
		name string
		run  func(t *testing.T, e *env)
	}{
		{"AIR/1 vector", func(t *testing.T, e *env) { airVectors(t, e, 1) }},
		{"AIR/5 vectors", func(t *testing.T, e *env) { airVectors(t, e, 5) }},
		{"AIR/S6d quintets", airQuintets},
		{"AIR/resync", airResync},
		{"AIR/bad resync", airBadResync},
		{"AIR/errors", airErrors},
		{"ULR/initial attach", ulrInitialAttach},
		{"ULR/skip subscriber data", ulrSkipSubscriberData},
		{"ULR/errors", ulrErrors},
		{"PUR", pur},
		{"NOR", nor},
	}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) { s.run(t, newEnv(t)) })
	}
}

func wantResult(t *testing.T, ans *diam.Message, want diameter.Result) {
	t.Helper()
	if got := resultOf(t, ans); got != want {
		t.Fatalf("result %s, want %s\n%s", got, want, ans)
	}
}

func experimental(code uint32) diameter.Result {
	return diameter.Result{Code: code, Experimental: true, VendorID: VendorID}
}

func airVectors(t *testing.T, e *env, n int) {
	provision(t, e.hss, testSubscriber(testIMSI))
	req := airRequest(testIMSI, uint32(n))
	ans := e.do(t, req)
	checkHead(t, req, ans)
	wantResult(t, ans, diameter.Success)
	sqns := usimCheckEUTRAN(t, ans, n, hss.PLMN([]byte(homePLMN)))
	// A second AIR continues the sequence (TS 33.102 C.1.1: SEQ_HE only grows).
	ans = e.do(t, airRequest(testIMSI, 1))
	wantResult(t, ans, diameter.Success)
	next := usimCheckEUTRAN(t, ans, 1, hss.PLMN([]byte(homePLMN)))
	if next[0] <= sqns[len(sqns)-1] {
		t.Errorf("SQN %d after %d", next[0], sqns[len(sqns)-1])
	}
}

// airQuintets: an SGSN asking over S6d gets UMTS quintets (TS 29.272
// 5.2.3.1.3, 7.3.19) that a USIM accepts, with the AMF as provisioned (no
// separation bit, TS 33.102 6.3.2).
func airQuintets(t *testing.T, e *env) {
	provision(t, e.hss, testSubscriber(testIMSI))
	req := request(cmdAuthenticationInfo, mme1, userName(testIMSI), oct(codeVisitedPLMNID, homePLMN),
		grp(codeRequestedUTRANGERANInfo, u32(codeNumberOfRequestedVecs, 2)))
	ans := e.do(t, req)
	checkHead(t, req, ans)
	wantResult(t, ans, diameter.Success)
	ai := members(t, find(ans.AVP, codeAuthenticationInfo, VendorID))
	if find(ai, codeEUTRANVector, VendorID) != nil {
		t.Error("E-UTRAN vectors for an S6d request")
	}
	vectors := findAll(ai, codeUTRANVector, VendorID)
	if len(vectors) != 2 {
		t.Fatalf("%d UTRAN vectors, want 2", len(vectors))
	}
	m := hss.NewMilenage(testK, testOPc)
	for i, v := range vectors {
		f := members(t, v)
		if item := mustU32(t, find(f, codeItemNumber, VendorID)); item != uint32(i+1) {
			t.Errorf("vector %d: Item-Number %d", i, item)
		}
		var rand [16]byte
		copy(rand[:], mustOctets(t, find(f, codeRAND, VendorID)))
		autn := mustOctets(t, find(f, codeAUTN, VendorID))
		res, ck, ik, ak := m.F2345(rand)
		var sqn [6]byte
		for j := range sqn {
			sqn[j] = autn[j] ^ ak[j]
		}
		amf := [2]byte{autn[6], autn[7]}
		if amf != testAMF {
			t.Errorf("vector %d: AMF %x, want %x as provisioned", i, amf, testAMF)
		}
		if mac := m.F1(rand, sqn, amf); !bytes.Equal(mac[:], autn[8:]) {
			t.Errorf("vector %d: MAC-A does not verify", i)
		}
		if !bytes.Equal(mustOctets(t, find(f, codeXRES, VendorID)), res[:]) ||
			!bytes.Equal(mustOctets(t, find(f, codeConfidentialityKey, VendorID)), ck[:]) ||
			!bytes.Equal(mustOctets(t, find(f, codeIntegrityKey, VendorID)), ik[:]) {
			t.Errorf("vector %d: XRES/CK/IK are not f2/f3/f4 of RAND", i)
		}
	}
}

func resyncAVP(rand [16]byte, a [14]byte) *diam.AVP {
	return oct(codeResyncInfo, string(rand[:])+string(a[:]))
}

func airWithResync(rand [16]byte, a [14]byte) *diam.Message {
	return request(cmdAuthenticationInfo, mme1, userName(testIMSI), oct(codeVisitedPLMNID, homePLMN),
		grp(codeRequestedEUTRANAuthInfo, u32(codeNumberOfRequestedVecs, 2), resyncAVP(rand, a)))
}

// airResync: the USIM has seen SEQ 1000 (say, from another HSS) and rejects
// our vector; the AUTS it computes brings SEQ_HE past it (TS 33.102 6.3.5).
func airResync(t *testing.T, e *env) {
	provision(t, e.hss, testSubscriber(testIMSI))
	ans := e.do(t, airRequest(testIMSI, 1))
	wantResult(t, ans, diameter.Success)
	first := usimCheckEUTRAN(t, ans, 1, hss.PLMN([]byte(homePLMN)))
	seqBefore, _ := hss.SplitSQN(first[0], testINDBits)

	const seqMS = 1000
	rand := [16]byte{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	ans = e.do(t, airWithResync(rand, auts(rand, hss.ComposeSQN(seqMS, 3, testINDBits))))
	wantResult(t, ans, diameter.Success)
	for _, sqn := range usimCheckEUTRAN(t, ans, 2, hss.PLMN([]byte(homePLMN))) {
		if seq, _ := hss.SplitSQN(sqn, testINDBits); seq <= seqMS {
			t.Errorf("SEQ %d after resync to %d (was %d)", seq, seqMS, seqBefore)
		}
	}
}

// airBadResync: an AUTS whose MAC-S fails is answered 4181 and leaves SQN
// state alone (TS 33.102 6.3.5, TS 29.272 5.2.3.1.3).
func airBadResync(t *testing.T, e *env) {
	provision(t, e.hss, testSubscriber(testIMSI))
	rand := [16]byte{9, 9, 9}
	a := auts(rand, hss.ComposeSQN(5000, 0, testINDBits))
	a[13] ^= 1
	req := airWithResync(rand, a)
	ans := e.do(t, req)
	checkHead(t, req, ans)
	wantResult(t, ans, diameter.Result{Code: diameter.CodeAuthenticationDataUnavailable, Experimental: true, VendorID: diameter.VendorID3GPP})
	if find(ans.AVP, codeAuthenticationInfo, VendorID) != nil {
		t.Error("failed AIA carries Authentication-Info")
	}
	ans = e.do(t, airRequest(testIMSI, 1))
	wantResult(t, ans, diameter.Success)
	sqn := usimCheckEUTRAN(t, ans, 1, hss.PLMN([]byte(homePLMN)))
	if seq, _ := hss.SplitSQN(sqn[0], testINDBits); seq >= 5000 {
		t.Errorf("SEQ %d: the rejected AUTS moved SQN_HE", seq)
	}
}

func airErrors(t *testing.T, e *env) {
	provision(t, e.hss, testSubscriber(testIMSI))
	tests := []struct {
		name    string
		req     *diam.Message
		want    diameter.Result
		wantAVP uint32
	}{
		{"unknown imsi", airRequest("001010000009999", 1), experimental(diameter.CodeUserUnknown), 0},
		{"roaming not allowed", request(cmdAuthenticationInfo, mme1, userName(testIMSI), oct(codeVisitedPLMNID, otherPLMN),
			grp(codeRequestedEUTRANAuthInfo, u32(codeNumberOfRequestedVecs, 1))), experimental(diameter.CodeRoamingNotAllowed), 0},
		{"missing user-name", request(cmdAuthenticationInfo, mme1, oct(codeVisitedPLMNID, homePLMN),
			grp(codeRequestedEUTRANAuthInfo)), diameter.Result{Code: diameter.CodeMissingAVP}, avp.UserName},
		{"malformed visited-plmn-id", request(cmdAuthenticationInfo, mme1, userName(testIMSI), oct(codeVisitedPLMNID, "\x00\xf1"),
			grp(codeRequestedEUTRANAuthInfo)), diameter.Result{Code: diameter.CodeInvalidAVPValue}, codeVisitedPLMNID},
		{"malformed resync info", request(cmdAuthenticationInfo, mme1, userName(testIMSI), oct(codeVisitedPLMNID, homePLMN),
			grp(codeRequestedEUTRANAuthInfo, oct(codeResyncInfo, "short"))), diameter.Result{Code: diameter.CodeInvalidAVPValue}, codeResyncInfo},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ans := e.do(t, tt.req)
			checkHead(t, tt.req, ans)
			wantResult(t, ans, tt.want)
			if got := failedAVPCode(t, ans); got != tt.wantAVP {
				t.Errorf("Failed-AVP holds %d, want %d", got, tt.wantAVP)
			}
		})
	}
}

// supportedFeaturesOffer is what an MME offers for Feature-List-ID 1.
func supportedFeaturesOffer(list uint32) *diam.AVP {
	return supportedFeatures(list)
}

func ulrInitialAttach(t *testing.T, e *env) {
	sub := testSubscriber(testIMSI)
	provision(t, e.hss, sub)
	req := ulrRequest(testIMSI, mme1, hss.ULRS6aS6dIndicator|hss.ULRInitialAttach, supportedFeaturesOffer(0x0c00_0001))
	ans := e.do(t, req)
	checkHead(t, req, ans)
	wantResult(t, ans, diameter.Success)

	// 7.3.8: Separation Indication.
	if v := mustU32(t, find(ans.AVP, codeULAFlags, VendorID)); v != 1 {
		t.Errorf("ULA-Flags %d, want 1", v)
	}
	// TS 29.229 7.2.1: the answer has the features both sides support.
	sf := members(t, find(ans.AVP, codeSupportedFeatures, VendorID))
	if mustU32(t, find(sf, avp.VendorID, 0)) != VendorID || mustU32(t, find(sf, codeFeatureListID, VendorID)) != 1 ||
		mustU32(t, find(sf, codeFeatureList, VendorID)) != 0x0800_0001 {
		t.Errorf("Supported-Features %v, want list 0x08000001", sf)
	}
	checkFullSubscriptionData(t, members(t, find(ans.AVP, codeSubscriptionData, VendorID)))

	// The registration holds what the ULR said (Terminal-Information, RAT, flags).
	regs, err := e.hss.Registrations(context.Background(), testIMSI)
	if err != nil {
		t.Fatal(err)
	}
	r := regs.MME
	if r == nil || r.Host != mme1 || r.Realm != mmeRealm || r.RATType != hss.RATEUTRAN || r.IMEI != "35609204079301" ||
		r.SoftwareVersion != "12" || r.ULRFlags != hss.ULRS6aS6dIndicator|hss.ULRInitialAttach || r.VisitedPLMN.String() != "00101" {
		t.Errorf("registration %+v", r)
	}
}

// checkFullSubscriptionData checks the Subscription-Data of testSubscriber
// AVP by AVP (TS 29.272 7.3.2).
func checkFullSubscriptionData(t *testing.T, sd []*diam.AVP) {
	t.Helper()
	// TS 29.329 6.3.2: TBCD of 33612345678, odd count padded with F.
	if got := mustOctets(t, find(sd, codeMSISDN, VendorID)); !bytes.Equal(got, hexBytes("3316325476f8")) {
		t.Errorf("MSISDN %x", got)
	}
	if v := mustU32(t, find(sd, codeSubscriberStatus, VendorID)); v != 0 {
		t.Errorf("Subscriber-Status %d, want SERVICE_GRANTED", v)
	}
	if v := mustU32(t, find(sd, codeNetworkAccessMode, VendorID)); v != 2 {
		t.Errorf("Network-Access-Mode %d, want ONLY_PACKET", v)
	}
	if v := mustU32(t, find(sd, codeAccessRestrictionData, VendorID)); v != 3 {
		t.Errorf("Access-Restriction-Data %d, want UTRAN|GERAN not allowed", v)
	}
	checkAMBR(t, find(sd, codeAMBR, VendorID), 50_000_000, 100_000_000)
	if v := mustU32(t, find(sd, codePeriodicRAUTAUTimer, VendorID)); v != 3240 {
		t.Errorf("Subscribed-Periodic-RAU-TAU-Timer %d", v)
	}
	prof := members(t, find(sd, codeAPNConfigurationProfile, VendorID))
	if v := mustU32(t, find(prof, codeContextIdentifier, VendorID)); v != 1 {
		t.Errorf("default Context-Identifier %d", v)
	}
	if v := mustU32(t, find(prof, codeAllAPNConfigsIncluded, VendorID)); v != 0 {
		t.Errorf("All-APN-Configurations-Included-Indicator %d", v)
	}
	apns := findAll(prof, codeAPNConfiguration, VendorID)
	if len(apns) != 2 {
		t.Fatalf("%d APN-Configuration, want 2", len(apns))
	}
	type apnWant struct {
		ctx       uint32
		name      string
		pdn, qci  uint32
		prio      uint32
		cap, vuln uint32
		ambr      *hss.AMBR
		ip        []byte
	}
	for i, w := range []apnWant{
		{1, "internet", 2, 9, 8, 1, 0, nil, nil},
		{2, "ims", 0, 5, 1, 0, 1, &hss.AMBR{UL: 1_000_000, DL: 2_000_000}, []byte{10, 45, 0, 7}},
	} {
		a := members(t, apns[i])
		if v := mustU32(t, find(a, codeContextIdentifier, VendorID)); v != w.ctx {
			t.Errorf("apn %d: Context-Identifier %d", i, v)
		}
		if s := mustOctets(t, find(a, codeServiceSelection, 0)); string(s) != w.name {
			t.Errorf("apn %d: Service-Selection %q", i, s)
		}
		if v := mustU32(t, find(a, codePDNType, VendorID)); v != w.pdn {
			t.Errorf("apn %d: PDN-Type %d", i, v)
		}
		qos := members(t, find(a, codeEPSSubscribedQoSProfile, VendorID))
		if v := mustU32(t, find(qos, codeQoSClassIdentifier, VendorID)); v != w.qci {
			t.Errorf("apn %d: QCI %d", i, v)
		}
		arp := members(t, find(qos, codeARP, VendorID))
		if mustU32(t, find(arp, codePriorityLevel, VendorID)) != w.prio ||
			mustU32(t, find(arp, codePreemptionCapability, VendorID)) != w.cap ||
			mustU32(t, find(arp, codePreemptionVulnerability, VendorID)) != w.vuln {
			t.Errorf("apn %d: ARP %v", i, arp)
		}
		if w.ambr != nil {
			checkAMBR(t, find(a, codeAMBR, VendorID), w.ambr.UL, w.ambr.DL)
		} else if find(a, codeAMBR, VendorID) != nil {
			t.Errorf("apn %d: unexpected AMBR", i)
		}
		ip := find(a, codeServedPartyIPAddress, VendorID)
		switch {
		case w.ip == nil && ip != nil:
			t.Errorf("apn %d: unexpected Served-Party-IP-Address", i)
		case w.ip != nil:
			if ip == nil {
				t.Fatalf("apn %d: Served-Party-IP-Address missing", i)
			}
			if got, ok := ip.Data.(datatype.Address); !ok || !bytes.Equal(got, w.ip) {
				t.Errorf("apn %d: Served-Party-IP-Address %v", i, ip.Data)
			}
		}
	}
}

func checkAMBR(t *testing.T, a *diam.AVP, ul, dl uint32) {
	t.Helper()
	m := members(t, a)
	if mustU32(t, find(m, codeMaxRequestedBandwidthUL, VendorID)) != ul || mustU32(t, find(m, codeMaxRequestedBandwidthDL, VendorID)) != dl {
		t.Errorf("AMBR %v, want UL %d DL %d", m, ul, dl)
	}
}

func ulrSkipSubscriberData(t *testing.T, e *env) {
	provision(t, e.hss, testSubscriber(testIMSI))
	req := ulrRequest(testIMSI, mme1, hss.ULRS6aS6dIndicator|hss.ULRSkipSubscriberData)
	ans := e.do(t, req)
	wantResult(t, ans, diameter.Success)
	if find(ans.AVP, codeSubscriptionData, VendorID) != nil {
		t.Error("Subscription-Data sent despite Skip-Subscriber-Data")
	}
	if find(ans.AVP, codeSupportedFeatures, VendorID) != nil {
		t.Error("Supported-Features answered although the MME offered none")
	}
	if v := mustU32(t, find(ans.AVP, codeULAFlags, VendorID)); v != 1 {
		t.Errorf("ULA-Flags %d", v)
	}
}

func ulrErrors(t *testing.T, e *env) {
	provision(t, e.hss, testSubscriber(testIMSI))
	noAPN := testSubscriber("001010000000002")
	noAPN.APNs, noAPN.DefaultContextID = nil, 0
	provision(t, e.hss, noAPN)
	tests := []struct {
		name    string
		req     *diam.Message
		want    diameter.Result
		wantAVP uint32
	}{
		{"unknown imsi", ulrRequest("001010000009999", mme1, hss.ULRS6aS6dIndicator), experimental(diameter.CodeUserUnknown), 0},
		{"no apn configured", ulrRequest("001010000000002", mme1, hss.ULRS6aS6dIndicator), experimental(diameter.CodeUnknownEPSSubscription), 0},
		{"rat barred", request(cmdUpdateLocation, mme1, userName(testIMSI), enum(codeRATType, int32(hss.RATUTRAN)),
			u32(codeULRFlags, 0), oct(codeVisitedPLMNID, homePLMN)), experimental(diameter.CodeRATNotAllowed), 0},
		{"roaming not allowed", request(cmdUpdateLocation, mme1, userName(testIMSI), enum(codeRATType, int32(hss.RATEUTRAN)),
			u32(codeULRFlags, 2), oct(codeVisitedPLMNID, otherPLMN)), experimental(diameter.CodeRoamingNotAllowed), 0},
		{"missing user-name", request(cmdUpdateLocation, mme1, enum(codeRATType, 1004), u32(codeULRFlags, 2),
			oct(codeVisitedPLMNID, homePLMN)), diameter.Result{Code: diameter.CodeMissingAVP}, avp.UserName},
		{"malformed visited-plmn-id", request(cmdUpdateLocation, mme1, userName(testIMSI), enum(codeRATType, 1004),
			u32(codeULRFlags, 2), oct(codeVisitedPLMNID, "\xff\xff\xff\xff")), diameter.Result{Code: diameter.CodeInvalidAVPValue}, codeVisitedPLMNID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ans := e.do(t, tt.req)
			checkHead(t, tt.req, ans)
			wantResult(t, ans, tt.want)
			if got := failedAVPCode(t, ans); got != tt.wantAVP {
				t.Errorf("Failed-AVP holds %d, want %d", got, tt.wantAVP)
			}
			if find(ans.AVP, codeSubscriptionData, VendorID) != nil {
				t.Error("failed ULA carries Subscription-Data")
			}
		})
	}
	// None of the refused ULRs registered an MME.
	regs, err := e.hss.Registrations(context.Background(), testIMSI)
	if err != nil || regs.MME != nil {
		t.Errorf("registrations after refused ULRs: %+v, %v", regs, err)
	}
}

func pur(t *testing.T, e *env) {
	provision(t, e.hss, testSubscriber(testIMSI))
	wantResult(t, e.do(t, ulrRequest(testIMSI, mme1, hss.ULRS6aS6dIndicator)), diameter.Success)

	// A PUR from an MME that does not hold the registration changes nothing
	// and does not freeze the M-TMSI (5.2.3.1.3).
	ans := e.do(t, request(cmdPurgeUE, mme2, userName(testIMSI)))
	wantResult(t, ans, diameter.Success)
	if find(ans.AVP, codePUAFlags, VendorID) != nil {
		t.Error("PUA-Flags set for a PUR from an unregistered MME")
	}

	req := request(cmdPurgeUE, mme1, userName(testIMSI), u32(codePURFlags, purUEPurgedInMME))
	ans = e.do(t, req)
	checkHead(t, req, ans)
	wantResult(t, ans, diameter.Success)
	if v := mustU32(t, find(ans.AVP, codePUAFlags, VendorID)); v != puaFreezeMTMSI {
		t.Errorf("PUA-Flags %d, want freeze M-TMSI", v)
	}
	regs, err := e.hss.Registrations(context.Background(), testIMSI)
	if err != nil || regs.MME == nil || !regs.MME.Purged {
		t.Errorf("registration after PUR: %+v, %v", regs.MME, err)
	}

	ans = e.do(t, request(cmdPurgeUE, mme1, userName("001010000009999")))
	wantResult(t, ans, experimental(diameter.CodeUserUnknown))
}

func nor(t *testing.T, e *env) {
	provision(t, e.hss, testSubscriber(testIMSI))
	wantResult(t, e.do(t, ulrRequest(testIMSI, mme1, hss.ULRS6aS6dIndicator)), diameter.Success)
	req := request(cmdNotify, mme1, userName(testIMSI), u32(codeNORFlags, 1<<3),
		grp(codeTerminalInformation, utf8(codeIMEI, "490154203237518"), utf8(codeSoftwareVersion, "03")))
	ans := e.do(t, req)
	checkHead(t, req, ans)
	wantResult(t, ans, diameter.Success)
	regs, err := e.hss.Registrations(context.Background(), testIMSI)
	if err != nil || regs.MME == nil {
		t.Fatalf("registrations %+v, %v", regs, err)
	}
	if regs.MME.NORFlags != 1<<3 || regs.MME.IMEI != "490154203237518" || regs.MME.SoftwareVersion != "03" {
		t.Errorf("registration after NOR %+v", regs.MME)
	}
	ans = e.do(t, request(cmdNotify, mme1, userName("001010000009999"), u32(codeNORFlags, 1)))
	wantResult(t, ans, experimental(diameter.CodeUserUnknown))
}

// TestHandlers runs the scenarios straight into the handlers (the component
// tests run them again through the server over TCP and SCTP).
func TestHandlers(t *testing.T) {
	runScenarios(t, func(t *testing.T) *env {
		h := newHSS(t)
		p := New(testConfig(), h, nil, testLogger(t))
		return &env{hss: h, do: direct(p)}
	})
}
