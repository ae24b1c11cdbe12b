package swx

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	diamdict "github.com/fiorix/go-diameter/v4/diam/dict"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/diameter/diametertest"
	"github.com/rcmhss/rcmhss/dict"
	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/hss/memstore"
)

// Test identities: an IMSI of PLMN 001/01, two 3GPP AAA servers and the HSS.
const (
	testIMSI  = "001010000000001"
	aaa1      = "aaa1.epc.mnc001.mcc001.3gppnetwork.org"
	aaa2      = "aaa2.epc.mnc001.mcc001.3gppnetwork.org"
	aaaRealm  = "epc.mnc001.mcc001.3gppnetwork.org"
	hssHost   = "hss.epc.mnc001.mcc001.3gppnetwork.org"
	hssRealm  = "epc.mnc001.mcc001.3gppnetwork.org"
	deadline  = 10 * time.Second
	indBits   = 5
	nai       = "@nai.epc.mnc001.mcc001.3gppnetwork.org"
	wlanANID  = "WLAN" // TS 24.302 8.1.1.1 access network identity of untrusted WLAN
	naiAKA    = "0" + testIMSI + nai
	naiAKAPri = "6" + testIMSI + nai
)

// TS 35.208 test set 1 K and OPc; the tests play the USIM with them. The
// AMF has the separation bit clear, so that the tests see EAP-AKA' set it
// (TS 33.402 6.2) and EAP-AKA leave it alone.
var (
	testK   = mustKey("465b5ce8b199b49faa5f0a2ee238a6bc")
	testOPc = mustKey("cd63cb71954a9f4e48a5994e37a02baf")
	testAMF = [2]byte{0x39, 0xb9}
)

func init() {
	if err := dict.Default(); err != nil {
		panic(err)
	}
}

func mustKey(s string) hss.Key {
	k, err := hss.ParseKey(s)
	if err != nil {
		panic(err)
	}
	return k
}

// testSubscriber has non-3GPP access limited to its "ims" APN (context 2).
func testSubscriber(imsi string) *hss.Subscriber {
	return &hss.Subscriber{
		IMSI: hss.IMSI(imsi), K: testK, OPc: testOPc, AMF: testAMF, SQN: 32,
		MSISDN:           "33612345678",
		AMBR:             hss.AMBR{UL: 50_000_000, DL: 100_000_000},
		DefaultContextID: 1,
		APNs: []hss.APNConfiguration{
			{ContextID: 1, Name: "internet", PDNType: hss.PDNIPv4v6, QCI: 9, ARP: hss.ARP{PriorityLevel: 8}},
			{ContextID: 2, Name: "ims", PDNType: hss.PDNIPv4, QCI: 5,
				ARP:        hss.ARP{PriorityLevel: 1, PreemptionCapability: true},
				AMBR:       hss.AMBR{UL: 1_000_000, DL: 2_000_000},
				StaticIPv4: netip.MustParseAddr("10.45.0.7")},
		},
		Non3GPP: hss.Non3GPPProfile{AccessAllowed: true, APNContextIDs: []uint32{2}},
	}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(b, "\n")))
	return len(b), nil
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// cluster is a real diameter.Server with the SWx plugin on the real domain
// and embedded store, on 127.0.0.1:0, and the AAA servers connected to it.
type cluster struct {
	hss     *hss.HSS
	addr    string
	network string
	peers   map[string]*diametertest.Peer
}

func newCluster(t *testing.T, network string) *cluster {
	t.Helper()
	store := memstore.New(hss.NewPlaintextSealer())
	t.Cleanup(func() { _ = store.Close() })
	c := newNode(t, network, store)
	if err := c.hss.CreateSubscriber(context.Background(), testSubscriber(testIMSI)); err != nil {
		t.Fatal(err)
	}
	return c
}

// newNode is one HSS node with its own Diameter server on store, which
// other nodes may share.
func newNode(t *testing.T, network string, store hss.Store) *cluster {
	t.Helper()
	if network == "sctp" {
		diametertest.SkipWithoutSCTP(t)
	}
	h, err := hss.New(hss.DefaultConfig(), store, hss.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := diameter.NewServer(diameter.Config{
		Listen:        []string{network + "://127.0.0.1:0"},
		OriginHost:    hssHost,
		OriginRealm:   hssRealm,
		AllowLoopback: true,
	}, diameter.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	p := New(Config{OriginHost: hssHost, OriginRealm: hssRealm}, h, srv, testLogger(t))
	h.AddObserver(p)
	if err := srv.Register(p); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("server shutdown: %v", err)
		}
	})
	return &cluster{hss: h, addr: srv.Addrs()[0].String(), network: network, peers: map[string]*diametertest.Peer{}}
}

// aaa returns the connected AAA server named host, connecting it first.
func (c *cluster) aaa(t *testing.T, host string) *diametertest.Peer {
	t.Helper()
	if p, ok := c.peers[host]; ok {
		return p
	}
	p := diametertest.NewPeer(t, c.addr, c.network, diametertest.PeerOptions{
		OriginHost: host, OriginRealm: aaaRealm,
		Apps: []diametertest.AppSpec{{ID: AppID, Vendor: VendorID}},
	})
	c.peers[host] = p
	return p
}

// do sends req from the AAA server named by its Origin-Host.
func (c *cluster) do(t *testing.T, req *diam.Message) *diam.Message {
	t.Helper()
	origin, _ := diameter.AVPOctets(find(req.AVP, avp.OriginHost, 0))
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	ans, err := c.aaa(t, origin).Do(ctx, req)
	if err != nil {
		t.Fatalf("%s: %v", origin, err)
	}
	return ans
}

// waitRequest returns the next SWx request with command cmd the server sent
// to peer, failing after the deadline.
func waitRequest(t *testing.T, peer *diametertest.Peer, cmd uint32) *diam.Message {
	t.Helper()
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	for {
		select {
		case m := <-peer.Received():
			if m.Header.CommandCode == cmd && m.Header.ApplicationID == AppID {
				return m
			}
		case <-timer.C:
			t.Fatalf("no request %d received", cmd)
		}
	}
}

// noRequest fails if peer has received an SWx request (observers are
// synchronous, so whatever was sent has been received).
func noRequest(t *testing.T, peer *diametertest.Peer) {
	t.Helper()
	for {
		select {
		case m := <-peer.Received():
			if m.Header.ApplicationID == AppID {
				t.Fatalf("unexpected request %d:\n%s", m.Header.CommandCode, m)
			}
		default:
			return
		}
	}
}

func u32(code uint32, v uint32) *diam.AVP {
	return diam.NewAVP(code, flagsMV, VendorID, datatype.Unsigned32(v))
}

func enum(code uint32, v int32) *diam.AVP {
	return diam.NewAVP(code, flagsMV, VendorID, datatype.Enumerated(v))
}

func oct(code uint32, b string) *diam.AVP {
	return diam.NewAVP(code, flagsMV, VendorID, datatype.OctetString(b))
}

func utf8(code uint32, s string) *diam.AVP {
	return diam.NewAVP(code, flagsMV, VendorID, datatype.UTF8String(s))
}

func grp(code uint32, members ...*diam.AVP) *diam.AVP {
	return diam.NewAVP(code, flagsMV, VendorID, &diam.GroupedAVP{AVP: members})
}

func userName(s string) *diam.AVP {
	return diam.NewAVP(avp.UserName, flagsM, 0, datatype.UTF8String(s))
}

// request builds an SWx request from origin as a 3GPP AAA server sends it
// (TS 29.273 8.2.2 heads) followed by body.
func request(cmd uint32, origin string, body ...*diam.AVP) *diam.Message {
	m := diam.NewRequest(cmd, AppID, diamdict.Default)
	m.Header.CommandFlags |= diam.ProxiableFlag
	m.Header.HopByHopID, m.Header.EndToEndID = 0x1234, 0x5678
	m.NewAVP(avp.SessionID, flagsM, 0, datatype.UTF8String(origin+";1;1"))
	m.AddAVP(vendorSpecificAppID())
	m.NewAVP(avp.AuthSessionState, flagsM, 0, datatype.Enumerated(1))
	m.NewAVP(avp.OriginHost, flagsM, 0, datatype.DiameterIdentity(origin))
	m.NewAVP(avp.OriginRealm, flagsM, 0, datatype.DiameterIdentity(aaaRealm))
	m.NewAVP(avp.DestinationRealm, flagsM, 0, datatype.DiameterIdentity(hssRealm))
	for _, a := range body {
		m.AddAVP(a)
	}
	return m
}

// marRequest asks for n vectors of scheme; extra goes in the
// SIP-Auth-Data-Item after the scheme (a resync's SIP-Authorization) or, for
// ANID, at top level.
func marRequest(origin, user, scheme string, n uint32, anid string, item ...*diam.AVP) *diam.Message {
	body := []*diam.AVP{
		userName(user),
		enum(codeRATType, int32(hss.RATWLAN)),
		u32(codeSIPNumberAuthItems, n),
		grp(codeSIPAuthDataItem, append([]*diam.AVP{utf8(codeSIPAuthScheme, scheme)}, item...)...),
	}
	if anid != "" {
		body = append(body, utf8(codeANID, anid))
	}
	return request(cmdMultimediaAuth, origin, body...)
}

func sarRequest(origin, user string, t hss.ServerAssignmentType) *diam.Message {
	return request(cmdServerAssignment, origin, userName(user), enum(codeServerAssignmentType, int32(t)))
}

// wire serializes m and decodes it as the server does.
func wire(t testing.TB, m *diam.Message) *diam.Message {
	t.Helper()
	b, err := m.Serialize()
	if err != nil {
		t.Fatalf("serialize: %v", err)
	}
	out, err := diameter.DecodeMessage(b, diamdict.Default)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return out
}

func find(avps []*diam.AVP, code, vendor uint32) *diam.AVP {
	for _, a := range avps {
		if a.Code == code && a.VendorID == vendor {
			return a
		}
	}
	return nil
}

func findAll(avps []*diam.AVP, code, vendor uint32) []*diam.AVP {
	var out []*diam.AVP
	for _, a := range avps {
		if a.Code == code && a.VendorID == vendor {
			out = append(out, a)
		}
	}
	return out
}

func members(t testing.TB, a *diam.AVP) []*diam.AVP {
	t.Helper()
	if a == nil {
		t.Fatalf("grouped avp missing")
	}
	g, ok := a.Data.(*diam.GroupedAVP)
	if !ok {
		t.Fatalf("avp %d is %T, not grouped", a.Code, a.Data)
	}
	return g.AVP
}

func mustU32(t testing.TB, a *diam.AVP) uint32 {
	t.Helper()
	if a == nil {
		t.Fatalf("avp missing")
	}
	v, ok := diameter.AVPUnsigned(a)
	if !ok {
		t.Fatalf("avp %d is %T, not an integer", a.Code, a.Data)
	}
	return v
}

func mustOctets(t testing.TB, a *diam.AVP) []byte {
	t.Helper()
	if a == nil {
		t.Fatalf("avp missing")
	}
	s, ok := diameter.AVPOctets(a)
	if !ok {
		t.Fatalf("avp %d is %T, not an octet string", a.Code, a.Data)
	}
	return []byte(s)
}

func wantResult(t *testing.T, ans *diam.Message, want diameter.Result) {
	t.Helper()
	got, ok := diameter.ResultOf(ans)
	if !ok || got != want {
		t.Fatalf("result %s, want %s\n%s", got, want, ans)
	}
}

func experimental(code uint32) diameter.Result {
	return diameter.Result{Code: code, Experimental: true, VendorID: VendorID}
}

// failedAVPCode returns the code of the AVP inside Failed-AVP (0 if none).
func failedAVPCode(t testing.TB, m *diam.Message) uint32 {
	t.Helper()
	f := find(m.AVP, avp.FailedAVP, 0)
	if f == nil {
		return 0
	}
	in := members(t, f)
	if len(in) != 1 {
		t.Fatalf("failed-avp holds %d avps", len(in))
	}
	return in[0].Code
}
