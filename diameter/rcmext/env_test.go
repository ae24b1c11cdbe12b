package rcmext_test

import (
	"bytes"
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	diamdict "github.com/fiorix/go-diameter/v4/diam/dict"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/diameter/diametertest"
	"github.com/rcmhss/rcmhss/diameter/rcmext"
	"github.com/rcmhss/rcmhss/diameter/s6a"
	"github.com/rcmhss/rcmhss/dict"
	"github.com/rcmhss/rcmhss/hss"
	hssmem "github.com/rcmhss/rcmhss/hss/memstore"
	"github.com/rcmhss/rcmhss/rcm"
	rcmmem "github.com/rcmhss/rcmhss/rcm/memstore"
)

func init() {
	if err := dict.Default(); err != nil {
		panic(err)
	}
}

const (
	deadline  = 10 * time.Second
	mme1      = "mme1.epc.mnc001.mcc001.3gppnetwork.org"
	mme2      = "mme2.epc.mnc001.mcc001.3gppnetwork.org"
	mmeRealm  = "epc.mnc001.mcc001.3gppnetwork.org"
	hssHost   = "hss.epc.mnc001.mcc001.3gppnetwork.org"
	hssRealm  = "epc.mnc001.mcc001.3gppnetwork.org"
	guestIMSI = hss.IMSI("001019990000001")
)

var homePLMN = hss.PLMN{0x00, 0xf1, 0x10} // 001/01

// S6a codes (TS 29.272 7.3) the MME side of the tests reads and writes.
const (
	cmdULR, cmdAIR, cmdCLR      = 316, 318, 317
	codeSubscriptionData        = 1400
	codeTerminalInformation     = 1401
	codeIMEI                    = 1402
	codeULRFlags                = 1405
	codeVisitedPLMNID           = 1407
	codeRequestedEUTRANAuthInfo = 1408
	codeRequestedUTRANAuthInfo  = 1409
	codeNumberOfRequestedVecs   = 1410
	codeAuthenticationInfo      = 1413
	codeEUTRANVector            = 1414
	codeUTRANVector             = 1415
	codeAPNConfigurationProfile = 1429
	codeAPNConfiguration        = 1430
	codeAMBR                    = 1435
	codeRAND, codeXRES          = 1447, 1448
	codeAUTN, codeKASME         = 1449, 1450
	codeRATType                 = 1032
	codeMSISDN                  = 701
	codeServiceSelection        = 493
	codeMaxBandwidthUL          = 516
	codeCancellationType        = 1420
)

// TS 35.208 test set 1 as the well-known guest credential.
var (
	guestK   = mustKey("465b5ce8b199b49faa5f0a2ee238a6bc")
	guestOPc = mustKey("cd63cb71954a9f4e48a5994e37a02baf")
	guestAMF = [2]byte{0xb9, 0xb9}
)

func mustKey(s string) hss.Key {
	k, err := hss.ParseKey(s)
	if err != nil {
		panic(err)
	}
	return k
}

func rcmConfig() rcm.Config {
	c := rcm.DefaultConfig()
	c.Guest.Ranges = []rcm.IMSIRange{{Prefix: "00101999"}}
	c.Guest.K, c.Guest.OPc, c.Guest.AMF = guestK, guestOPc, guestAMF
	return c
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(b, "\n")))
	return len(b), nil
}

func testLogger(t testing.TB) *slog.Logger {
	switch t.(type) {
	case *testing.B, *testing.F:
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// env is a real diameter.Server with the S6a plugin and the RCM extension on
// the real domains (hss and rcm on their embedded stores), over TCP.
type env struct {
	t      testing.TB
	hss    *hss.HSS
	store  rcm.Store
	svc    *rcm.Service
	ext    *rcmext.Extension
	addr   string
	peers  map[string]*diametertest.Peer
	vendor *ca
	root   *ca
	clock  atomic.Int64 // offset added to time.Now for rcm.Service, in ns
}

type envOpts struct {
	cfg      func(*rcm.Config)
	vendorID uint32
	// store replaces the embedded rcm store (e.g. Redis shared by two nodes).
	store rcm.Store
}

func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	e := &env{t: t, peers: map[string]*diametertest.Peer{}, vendor: newCA(t, "vendor"), root: newCA(t, "hss root")}
	cfg := rcmConfig()
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	hstore := hssmem.New(hss.NewPlaintextSealer())
	t.Cleanup(func() { _ = hstore.Close() })
	h, err := hss.New(hss.DefaultConfig(), hstore)
	if err != nil {
		t.Fatal(err)
	}
	e.hss = h
	e.store = o.store
	if e.store == nil {
		e.store = rcmmem.New()
	}
	now := func() time.Time { return time.Now().Add(time.Duration(e.clock.Load())) }
	e.svc, err = rcm.NewService(cfg, e.store, hssIdentity(t, e.root), testLogger(t), rcm.WithClock(now))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := diameter.NewServer(diameter.Config{
		Listen: []string{"tcp://127.0.0.1:0"}, OriginHost: hssHost, OriginRealm: hssRealm, AllowLoopback: true,
	}, diameter.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	e.ext, err = rcmext.New(rcmext.Config{VendorID: o.vendorID, OriginHost: hssHost, OriginRealm: hssRealm, ExpiryInterval: 10 * time.Millisecond},
		e.svc, h, e.store, srv, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	p := s6a.New(s6a.Config{OriginHost: hssHost, OriginRealm: hssRealm, Extension: e.ext}, h, srv, testLogger(t))
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
		_ = p.Close(ctx)
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("server shutdown: %v", err)
		}
	})
	e.addr = srv.Addrs()[0].String()
	// The vendor registers its CA and the devices it covers: TAC 35000001.
	if o.store == nil {
		e.addProfile(t, "vendor-a", e.vendor, rcm.Coverage{TACs: []string{"35000001"}})
	}
	return e
}

func (e *env) addProfile(t testing.TB, id string, c *ca, cov rcm.Coverage) {
	t.Helper()
	p := rcm.DeviceProfile{ID: id, ProviderID: "provider-" + id, VendorCAs: [][]byte{c.cert.Raw}, Coverage: cov}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := e.store.CreateProfile(context.Background(), p); err != nil {
		t.Fatal(err)
	}
}

func (e *env) mme(host string) *diametertest.Peer {
	if p, ok := e.peers[host]; ok {
		return p
	}
	p := diametertest.NewPeer(e.t, e.addr, "tcp", diametertest.PeerOptions{
		OriginHost: host, OriginRealm: mmeRealm, Apps: []diametertest.AppSpec{{ID: s6a.AppID, Vendor: s6a.VendorID}},
	})
	e.peers[host] = p
	return p
}

func (e *env) do(t testing.TB, host string, req *diam.Message) *diam.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	ans, err := e.mme(host).Do(ctx, req)
	if err != nil {
		t.Fatalf("%s: %v", host, err)
	}
	return ans
}

// request starts an S6a request from host (TS 29.272 7.2.x heads).
func request(cmd uint32, host string, imsi hss.IMSI, body ...*diam.AVP) *diam.Message {
	m := diam.NewRequest(cmd, s6a.AppID, diamdict.Default)
	m.Header.CommandFlags |= diam.ProxiableFlag
	m.NewAVP(avp.SessionID, avp.Mbit, 0, datatype.UTF8String(host+";1;"+time.Now().Format("150405.000000000")))
	m.NewAVP(avp.VendorSpecificApplicationID, avp.Mbit, 0, &diam.GroupedAVP{AVP: []*diam.AVP{
		diam.NewAVP(avp.VendorID, avp.Mbit, 0, datatype.Unsigned32(s6a.VendorID)),
		diam.NewAVP(avp.AuthApplicationID, avp.Mbit, 0, datatype.Unsigned32(s6a.AppID)),
	}})
	m.NewAVP(avp.AuthSessionState, avp.Mbit, 0, datatype.Enumerated(1))
	m.NewAVP(avp.OriginHost, avp.Mbit, 0, datatype.DiameterIdentity(host))
	m.NewAVP(avp.OriginRealm, avp.Mbit, 0, datatype.DiameterIdentity(mmeRealm))
	m.NewAVP(avp.DestinationRealm, avp.Mbit, 0, datatype.DiameterIdentity(hssRealm))
	m.NewAVP(avp.UserName, avp.Mbit, 0, datatype.UTF8String(imsi))
	for _, a := range body {
		m.AddAVP(a)
	}
	return m
}

const flagsMV = avp.Mbit | avp.Vbit

func v3gpp(code uint32, d datatype.Type) *diam.AVP {
	return diam.NewAVP(code, flagsMV, s6a.VendorID, d)
}

func grouped(code uint32, members ...*diam.AVP) *diam.AVP {
	return v3gpp(code, &diam.GroupedAVP{AVP: members})
}

// air is a guest AIR for n E-UTRAN vectors, with bootstrap AVPs when given.
func air(imsi hss.IMSI, n uint32, extra ...*diam.AVP) *diam.Message {
	body := []*diam.AVP{
		grouped(codeRequestedEUTRANAuthInfo, v3gpp(codeNumberOfRequestedVecs, datatype.Unsigned32(n))),
		v3gpp(codeVisitedPLMNID, datatype.OctetString(homePLMN[:])),
	}
	return request(cmdAIR, mme1, imsi, append(body, extra...)...)
}

// ulr is an initial-attach ULR over S6a with Terminal-Information IMEI
// (14 digits, TS 29.272 7.3.4).
func ulr(host string, imsi hss.IMSI, terminalIMEI string) *diam.Message {
	body := []*diam.AVP{
		v3gpp(codeRATType, datatype.Enumerated(hss.RATEUTRAN)),
		v3gpp(codeULRFlags, datatype.Unsigned32(hss.ULRS6aS6dIndicator|hss.ULRInitialAttach)),
		v3gpp(codeVisitedPLMNID, datatype.OctetString(homePLMN[:])),
	}
	if terminalIMEI != "" {
		body = append(body, grouped(codeTerminalInformation, v3gpp(codeIMEI, datatype.UTF8String(terminalIMEI))))
	}
	return request(cmdULR, host, imsi, body...)
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
		t.Fatal("grouped avp missing")
	}
	g, ok := a.Data.(*diam.GroupedAVP)
	if !ok {
		t.Fatalf("avp %d is %T, not grouped", a.Code, a.Data)
	}
	return g.AVP
}

func octets(t testing.TB, a *diam.AVP) []byte {
	t.Helper()
	if a == nil {
		t.Fatal("avp missing")
	}
	return a.Data.Serialize()
}

// vector is one E-UTRAN vector of an AIA as the MME holds it.
type vector struct {
	rand  [16]byte
	autn  []byte
	kasme [32]byte
}

func vectors(t testing.TB, ans *diam.Message) []vector {
	t.Helper()
	ai := find(ans.AVP, codeAuthenticationInfo, s6a.VendorID)
	if ai == nil {
		return nil
	}
	var out []vector
	for _, v := range findAll(members(t, ai), codeEUTRANVector, s6a.VendorID) {
		f := members(t, v)
		var vec vector
		copy(vec.rand[:], octets(t, find(f, codeRAND, s6a.VendorID)))
		vec.autn = octets(t, find(f, codeAUTN, s6a.VendorID))
		copy(vec.kasme[:], octets(t, find(f, codeKASME, s6a.VendorID)))
		out = append(out, vec)
	}
	return out
}

// guestKASME is what anyone holding the public guest K/OPc computes for a
// vector: Milenage (TS 35.206) and TS 33.401 A.2, checking AUTN first as the
// USIM does (TS 33.102 6.3.3).
func guestKASME(t testing.TB, v vector) [32]byte {
	t.Helper()
	m := hss.NewMilenage(guestK, guestOPc)
	_, ck, ik, ak := m.F2345(v.rand)
	var conc, sqn [6]byte
	copy(conc[:], v.autn[:6])
	for i := range sqn {
		sqn[i] = conc[i] ^ ak[i]
	}
	mac := m.F1(v.rand, sqn, [2]byte{v.autn[6], v.autn[7]})
	if !bytes.Equal(mac[:], v.autn[8:]) {
		t.Fatal("AUTN does not verify with the guest K/OPc")
	}
	return hss.DeriveKASME(ck, ik, homePLMN, conc)
}

func resultOf(t testing.TB, m *diam.Message) diameter.Result {
	t.Helper()
	r, ok := diameter.ResultOf(m)
	if !ok {
		t.Fatal("answer without result")
	}
	return r
}
