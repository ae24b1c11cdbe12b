package s6a

import (
	"bytes"
	"context"
	"encoding/hex"
	"log/slog"
	"net/netip"
	"testing"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/hss/memstore"
)

// TS 35.208 test set 1 key material; the tests play the USIM with it.
var (
	testK   = mustKey("465b5ce8b199b49faa5f0a2ee238a6bc")
	testOPc = mustKey("cd63cb71954a9f4e48a5994e37a02baf")
	// testAMF has the separation bit clear: E-UTRAN vectors must set it
	// (TS 33.401 6.1.2), UTRAN vectors must not.
	testAMF = [2]byte{0x31, 0x5a}
)

const testINDBits = 5

func mustKey(s string) hss.Key {
	k, err := hss.ParseKey(s)
	if err != nil {
		panic(err)
	}
	return k
}

// testSubscriber is a fully provisioned subscriber: MSISDN, two APNs (one
// with a static IPv4 address and its own AMBR), UTRAN and GERAN barred.
func testSubscriber(imsi string) *hss.Subscriber {
	return &hss.Subscriber{
		IMSI: hss.IMSI(imsi), K: testK, OPc: testOPc, AMF: testAMF, SQN: 32,
		MSISDN:            "33612345678",
		Status:            hss.ServiceGranted,
		NetworkAccessMode: hss.OnlyPacket,
		AMBR:              hss.AMBR{UL: 50_000_000, DL: 100_000_000},
		AccessRestriction: hss.UTRANNotAllowed | hss.GERANNotAllowed,
		DefaultContextID:  1,
		APNs: []hss.APNConfiguration{
			{ContextID: 1, Name: "internet", PDNType: hss.PDNIPv4v6, QCI: 9,
				ARP: hss.ARP{PriorityLevel: 8, PreemptionCapability: false, PreemptionVulnerability: true}},
			{ContextID: 2, Name: "ims", PDNType: hss.PDNIPv4, QCI: 5,
				ARP:        hss.ARP{PriorityLevel: 1, PreemptionCapability: true, PreemptionVulnerability: false},
				AMBR:       hss.AMBR{UL: 1_000_000, DL: 2_000_000},
				StaticIPv4: netip.MustParseAddr("10.45.0.7")},
		},
		PeriodicRAUTAUTimer: 3240,
	}
}

// newHSS is the real domain on the embedded store.
func newHSS(t testing.TB) *hss.HSS {
	t.Helper()
	store := memstore.New(hss.NewPlaintextSealer())
	t.Cleanup(func() { _ = store.Close() })
	h, err := hss.New(hss.DefaultConfig(), store)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func provision(t testing.TB, h *hss.HSS, s *hss.Subscriber) {
	t.Helper()
	if err := h.CreateSubscriber(context.Background(), s); err != nil {
		t.Fatalf("create subscriber: %v", err)
	}
}

func testConfig() Config {
	return Config{OriginHost: hssHost, OriginRealm: hssRealm, SupportedFeatures: 0x0800_0001}
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(b, "\n")))
	return len(b), nil
}

// exchange sends a request and returns the answer: directly into the
// plugin's handler, or over a real connection in the component tests.
type exchange func(t *testing.T, req *diam.Message) *diam.Message

// direct calls the plugin's handler with the request as the server would
// decode it, and returns the answer as the peer would decode it.
func direct(p *Plugin) exchange {
	return func(t *testing.T, req *diam.Message) *diam.Message {
		t.Helper()
		in := wire(t, req)
		origin, _ := identity(find(in.AVP, avp.OriginHost, 0))
		h, ok := p.Commands()[in.Header.CommandCode]
		if !ok {
			t.Fatalf("no handler for command %d", in.Header.CommandCode)
		}
		ans := h.ServeDiameter(context.Background(), &diameter.Request{Msg: in, Peer: diameter.PeerInfo{OriginHost: origin, OriginRealm: mmeRealm}})
		return wire(t, ans)
	}
}

// checkHead checks what every S6a answer carries (TS 29.272 7.2.x): the
// request's Session-Id first, Auth-Session-State NO_STATE_MAINTAINED and the
// S6a Vendor-Specific-Application-Id, with the identifiers of the request.
func checkHead(t *testing.T, req, ans *diam.Message) {
	t.Helper()
	if ans.Header.CommandFlags&diam.RequestFlag != 0 || ans.Header.CommandCode != req.Header.CommandCode ||
		ans.Header.HopByHopID != req.Header.HopByHopID || ans.Header.EndToEndID != req.Header.EndToEndID {
		t.Errorf("answer header %+v does not match request %+v", ans.Header, req.Header)
	}
	if len(ans.AVP) == 0 || ans.AVP[0].Code != avp.SessionID {
		t.Fatalf("Session-Id is not the first avp")
	}
	if got, want := mustOctets(t, ans.AVP[0]), mustOctets(t, find(req.AVP, avp.SessionID, 0)); !bytes.Equal(got, want) {
		t.Errorf("Session-Id %q, want %q", got, want)
	}
	if r, _ := diameter.ResultOf(ans); r == (diameter.Result{Code: diameter.CodeMissingAVP}) {
		// The server answers a request that breaks the dictionary's rules
		// itself, with a base answer, before the handler runs.
		return
	}
	if v := mustU32(t, find(ans.AVP, avp.AuthSessionState, 0)); v != 1 {
		t.Errorf("Auth-Session-State %d, want 1", v)
	}
	vsai := members(t, find(ans.AVP, avp.VendorSpecificApplicationID, 0))
	if mustU32(t, find(vsai, avp.VendorID, 0)) != VendorID || mustU32(t, find(vsai, avp.AuthApplicationID, 0)) != AppID {
		t.Errorf("Vendor-Specific-Application-Id %v", vsai)
	}
}

// usimCheckEUTRAN plays the USIM and the MME on every E-UTRAN-Vector of an
// AIA: AUTN must verify (f1 over the SQN it hides, TS 33.102 6.3.3), the AMF
// separation bit must be set (TS 33.401 6.1.2), XRES must be f2 and KASME the
// TS 33.401 A.2 derivation for the serving network. It returns the SQNs.
func usimCheckEUTRAN(t *testing.T, ans *diam.Message, n int, plmn hss.PLMN) []uint64 {
	t.Helper()
	ai := members(t, find(ans.AVP, codeAuthenticationInfo, VendorID))
	vectors := findAll(ai, codeEUTRANVector, VendorID)
	if len(vectors) != n {
		t.Fatalf("%d E-UTRAN vectors, want %d", len(vectors), n)
	}
	m := hss.NewMilenage(testK, testOPc)
	var sqns []uint64
	for i, v := range vectors {
		f := members(t, v)
		if item := mustU32(t, find(f, codeItemNumber, VendorID)); item != uint32(i+1) {
			t.Errorf("vector %d: Item-Number %d", i, item)
		}
		var rand [16]byte
		copy(rand[:], mustOctets(t, find(f, codeRAND, VendorID)))
		autn := mustOctets(t, find(f, codeAUTN, VendorID))
		xres := mustOctets(t, find(f, codeXRES, VendorID))
		kasme := mustOctets(t, find(f, codeKASME, VendorID))
		if len(autn) != 16 || len(kasme) != 32 {
			t.Fatalf("vector %d: AUTN %d octets, KASME %d octets", i, len(autn), len(kasme))
		}
		res, ck, ik, ak := m.F2345(rand)
		var conc, sqn [6]byte
		copy(conc[:], autn[:6])
		for j := range sqn {
			sqn[j] = conc[j] ^ ak[j]
		}
		amf := [2]byte{autn[6], autn[7]}
		if amf != [2]byte{testAMF[0] | 0x80, testAMF[1]} {
			t.Errorf("vector %d: AMF %x, want %x with the separation bit", i, amf, testAMF)
		}
		mac := m.F1(rand, sqn, amf)
		if !bytes.Equal(mac[:], autn[8:]) {
			t.Errorf("vector %d: MAC-A does not verify", i)
		}
		if !bytes.Equal(xres, res[:]) {
			t.Errorf("vector %d: XRES %x, want %x", i, xres, res)
		}
		want := hss.DeriveKASME(ck, ik, plmn, conc)
		if !bytes.Equal(kasme, want[:]) {
			t.Errorf("vector %d: KASME does not match TS 33.401 A.2", i)
		}
		s := hss.SQNFromBytes(sqn)
		for _, prev := range sqns {
			if prev >= s {
				t.Errorf("vector %d: SQN %d not above earlier %d", i, s, prev)
			}
		}
		sqns = append(sqns, s)
	}
	return sqns
}

// auts builds AUTS = SQN_MS xor AK* || MAC-S as the USIM does on a
// synchronisation failure (TS 33.102 6.3.3, AMF 0x0000 in f1*).
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

func hexBytes(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}
