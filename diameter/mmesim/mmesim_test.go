package mmesim_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/diameter/mmesim"
	"github.com/rcmhss/rcmhss/diameter/rcmext"
	"github.com/rcmhss/rcmhss/diameter/s6a"
	"github.com/rcmhss/rcmhss/hss"
	hssmem "github.com/rcmhss/rcmhss/hss/memstore"
	"github.com/rcmhss/rcmhss/rcm"
	rcmmem "github.com/rcmhss/rcmhss/rcm/memstore"
)

const (
	hssHost  = "hss.epc.mnc001.mcc001.3gppnetwork.org"
	realm    = "epc.mnc001.mcc001.3gppnetwork.org"
	mmeHost  = "mme1.epc.mnc001.mcc001.3gppnetwork.org"
	deadline = 20 * time.Second
)

var visited = hss.PLMN{0x00, 0xf1, 0x10} // 001/01

func mustKey(s string) hss.Key {
	k, err := hss.ParseKey(s)
	if err != nil {
		panic(err)
	}
	return k
}

// TS 35.208 test set 1 as the well-known guest credential.
var guest = rcm.USIM{K: mustKey("465b5ce8b199b49faa5f0a2ee238a6bc"), OPc: mustKey("cd63cb71954a9f4e48a5994e37a02baf")}

// stack is a whole rcmhss as far as RCM goes: the Diameter server with the
// S6a plugin and the RCM extension, the HSS, and the provisioning API over
// mutual TLS, all on the embedded stores and port-0 listeners.
type stack struct {
	pki     *rcm.DemoPKI
	diamAdr string
	provURL string
	ps      *rcmmem.Provisioning
	logs    *lockedBuf
}

type lockedBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newStack(t *testing.T) *stack {
	t.Helper()
	st := &stack{logs: &lockedBuf{}}
	log := slog.New(slog.NewJSONHandler(st.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var err error
	if st.pki, err = rcm.NewDemoPKI(time.Now(), 24*time.Hour, []string{"127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	cfg := rcm.DefaultConfig()
	cfg.Guest.Ranges = []rcm.IMSIRange{{Prefix: "00101999"}}
	cfg.Guest.K, cfg.Guest.OPc, cfg.Guest.AMF = guest.K, guest.OPc, [2]byte{0x80, 0x00}
	sealer, err := hss.NewKeySealer([]byte(strings.Repeat("k", hss.KEKSize)))
	if err != nil {
		t.Fatal(err)
	}
	hstore := hssmem.New(sealer)
	h, err := hss.New(hss.DefaultConfig(), hstore)
	if err != nil {
		t.Fatal(err)
	}
	store := rcmmem.New()
	id, err := st.pki.HSSIdentity()
	if err != nil {
		t.Fatal(err)
	}
	svc, err := rcm.NewService(cfg, store, id, log)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := diameter.NewServer(diameter.Config{Listen: []string{"tcp://127.0.0.1:0"}, OriginHost: hssHost, OriginRealm: realm, AllowLoopback: true},
		diameter.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	ext, err := rcmext.New(rcmext.Config{OriginHost: hssHost, OriginRealm: realm}, svc, h, store, srv, log)
	if err != nil {
		t.Fatal(err)
	}
	p := s6a.New(s6a.Config{OriginHost: hssHost, OriginRealm: realm, Extension: ext}, h, srv, log)
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
		_ = srv.Shutdown(ctx)
	})
	st.diamAdr = srv.Addrs()[0].String()

	// The demo out of the box: a profile for TAC 49015420 and the demo
	// operator with its offers "basic" and "plus"; seeding twice is harmless.
	st.ps = rcmmem.NewProvisioning()
	for range 2 {
		if err := rcm.SeedDemo(context.Background(), store, st.ps, st.pki.VendorCA, []string{"49015420"}); err != nil {
			t.Fatal(err)
		}
	}
	prov, err := rcm.NewProvisioner(rcm.DefaultProvisioningConfig(), cfg, store, st.ps, h, rcm.DetacherFunc(ext.CancelBinding), sealer, log)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(rcm.NewProvisioningHandler(prov, log))
	hs.TLS = rcm.ProvisioningTLSConfig(st.pki.ServerTLSCertificate())
	hs.StartTLS()
	t.Cleanup(hs.Close)
	st.provURL = hs.URL
	return st
}

func (st *stack) mme(t *testing.T, host string) *mmesim.MME {
	t.Helper()
	m, err := mmesim.Dial(mmesim.Config{HSSAddr: st.diamAdr, OriginHost: host, OriginRealm: realm, DestinationRealm: realm, VisitedPLMN: visited})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

func imei(n int) rcm.IMEI {
	d14 := fmt.Sprintf("49015420%06d", n)
	return rcm.IMEI(d14 + string(rcm.LuhnCheckDigit(d14)))
}

func (st *stack) device(t *testing.T, n int, decide func(rcm.OfferView) rcm.OfferDecision) mmesim.Device {
	t.Helper()
	cred, err := st.pki.IssueDevice(imei(n))
	if err != nil {
		t.Fatal(err)
	}
	return mmesim.Device{Cred: cred, GuestIMSI: hss.IMSI(fmt.Sprintf("00101999%07d", n)), Guest: guest,
		HSSRoots: st.pki.PinnedRoots(), ServerRoots: st.pki.PinnedRoots(), ProvisioningURL: st.provURL, Decide: decide}
}

// TestFigure6: one device from guest to subscriber, declining the first offer.
func TestFigure6(t *testing.T) {
	st := newStack(t)
	m := st.mme(t, mmeHost)
	d := st.device(t, 1, func(o rcm.OfferView) rcm.OfferDecision { return rcm.OfferDecision{Accept: o.ID == "plus"} })
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	var steps []string
	res, err := mmesim.Run(ctx, m, d, func(s string) { steps = append(steps, s) })
	if err != nil {
		t.Fatalf("%v\nsteps:\n%s", err, strings.Join(steps, "\n"))
	}
	if res.Declined != 1 || res.ProviderID != rcm.DemoProviderID || !strings.HasPrefix(string(res.NewIMSI), "00101000010") {
		t.Fatalf("result %+v", res)
	}
	for _, msg := range []string{"[652]", "[654]", "[656]", "[658]", "[660]", "[662]", "[664]", "[666]", "[668]"} {
		if !strings.Contains(strings.Join(steps, "\n"), msg) {
			t.Errorf("step %s not reported", msg)
		}
	}
	if strings.Contains(st.logs.String(), string(res.NewIMSI)) {
		t.Error("the full new IMSI appears in the server log")
	}
	// Declining everything ends with no provider, and a detach.
	d2 := st.device(t, 2, func(rcm.OfferView) rcm.OfferDecision { return rcm.OfferDecision{} })
	if _, err := mmesim.Run(ctx, m, d2, nil); !errors.Is(err, rcm.ErrNoProviderAvailable) {
		t.Fatalf("decline all: %v", err)
	}
	if _, err := m.WaitCLR(ctx, d2.GuestIMSI); err != nil {
		t.Fatalf("no CLR after no-provider: %v", err)
	}
}

// TestManyDevices: concurrent devices through two MMEs, no failure.
func TestManyDevices(t *testing.T) {
	st := newStack(t)
	mmes := []*mmesim.MME{st.mme(t, mmeHost), st.mme(t, "mme2.epc.mnc001.mcc001.3gppnetwork.org")}
	ctx, cancel := context.WithTimeout(context.Background(), 2*deadline)
	defer cancel()
	const n = 12
	errs := make(chan error, n)
	sem := make(chan struct{}, 4)
	for i := range n {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			d := st.device(t, 100+i, func(o rcm.OfferView) rcm.OfferDecision { return rcm.OfferDecision{Accept: true} })
			_, err := mmesim.Run(ctx, mmes[i%2], d, nil)
			errs <- err
		}()
	}
	seen := 0
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
		seen++
	}
	if seen != n {
		t.Fatalf("%d of %d finished", seen, n)
	}
}
