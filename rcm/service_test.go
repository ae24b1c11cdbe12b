package rcm_test

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/rcm"
	"github.com/rcmhss/rcmhss/rcm/memstore"
)

type svcEnv struct {
	pki     *rcm.TestPKI
	st      *memstore.Store
	svc     *rcm.Service
	now     time.Time
	visited hss.PLMN
}

func newSvcEnv(t *testing.T, compat bool) *svcEnv {
	t.Helper()
	e := &svcEnv{pki: rcm.NewTestPKI(t), st: memstore.New()}
	e.now = e.pki.Now
	cfg := e.pki.Config
	cfg.Compat = compat
	if err := e.st.CreateProfile(context.Background(), e.pki.Profile); err != nil {
		t.Fatal(err)
	}
	var err error
	e.svc, err = rcm.NewService(cfg, e.st, e.pki.Identity, slog.New(slog.NewTextHandler(io.Discard, nil)),
		rcm.WithClock(func() time.Time { return e.now }))
	if err != nil {
		t.Fatal(err)
	}
	if e.visited, err = hss.PLMNFromString("00101"); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *svcEnv) lastAudit(t *testing.T) rcm.AuditEntry {
	t.Helper()
	all, err := e.st.ListAudit(context.Background(), 0, 1000)
	if err != nil || len(all) == 0 {
		t.Fatalf("audit log: %d entries, %v", len(all), err)
	}
	if err := rcm.VerifyChain(all); err != nil {
		t.Fatal(err)
	}
	return all[len(all)-1]
}

// guestVectors makes E-UTRAN vectors with the guest K/OPc (TS 33.401 6.1.2)
// as the HSS does for a guest AIR.
func guestVectors(t *testing.T, cfg rcm.Config, sn hss.PLMN, n int) []hss.EUTRANVector {
	t.Helper()
	m := hss.NewMilenage(cfg.Guest.K, cfg.Guest.OPc)
	vs := make([]hss.EUTRANVector, n)
	for i := range vs {
		var r [16]byte
		if _, err := rand.Read(r[:]); err != nil {
			t.Fatal(err)
		}
		vs[i] = m.EUTRANVector(r, uint64(32+i), cfg.Guest.AMF, sn)
	}
	return vs
}

// TestProvisioningAttach runs a whole guest attach: AIR with bootstrap,
// vectors bound, the device recomputing KASME from guest Milenage plus its
// ephemeral key, ULR restricted, expiry, and the audit trail.
func TestProvisioningAttach(t *testing.T) {
	ctx := context.Background()
	e := newSvcEnv(t, false)
	const guest hss.IMSI = "001019990000001"
	const imei rcm.IMEI = "490154203237518"
	if !e.svc.IsGuest(guest) || e.svc.IsGuest("001010000000001") {
		t.Fatal("IsGuest disagrees with the configured range")
	}
	sess, err := rcm.NewDeviceSession(e.pki.Device(t, imei))
	if err != nil {
		t.Fatal(err)
	}
	b, err := sess.Bootstrap(guest, e.visited, e.now)
	if err != nil {
		t.Fatal(err)
	}
	ga, err := e.svc.AuthenticateGuest(ctx, rcm.GuestAIR{IMSI: guest, VisitedPLMN: e.visited, MMEHost: "mme1.epc", MMERealm: "epc", Bootstrap: &b})
	if err != nil {
		t.Fatalf("AuthenticateGuest: %v", err)
	}
	if ga.Device == nil || ga.Binding == nil || ga.Proof() == nil || ga.Replaced != nil {
		t.Fatalf("guest auth = %+v", ga)
	}
	if e.lastAudit(t).Event != rcm.AuditBound {
		t.Fatal("no bound audit entry")
	}

	vs := guestVectors(t, e.svc.Config(), e.visited, 3)
	ga.BindVectors(vs)
	p := ga.Proof()
	cfg := e.svc.Config()
	m := hss.NewMilenage(cfg.Guest.K, cfg.Guest.OPc)
	for i, v := range vs {
		// Device side: USIM AKA with the guest credential, then the binding.
		_, ck, ik, _ := m.F2345(v.RAND)
		kasmeGuest := hss.DeriveKASME(ck, ik, e.visited, [6]byte(v.AUTN[:6]))
		got, err := sess.Finish(p.HSSEphemeral, p.Signature, p.CertChain, e.pki.Pinned, kasmeGuest, v.RAND)
		if err != nil {
			t.Fatalf("Finish: %v", err)
		}
		if got != v.KASME {
			t.Fatalf("vector %d: device KASME %x, MME gets %x", i, got, v.KASME)
		}
		if got == kasmeGuest {
			t.Fatalf("vector %d: KASME_bound equals KASME_guest", i)
		}
	}

	// ULR from the MME: the same device gets only the restricted subscription.
	sub, err := e.svc.UpdateLocation(ctx, rcm.GuestULR{IMSI: guest, Host: "mme2.epc", Realm: "epc", IMEI: "49015420323751"})
	if err != nil {
		t.Fatalf("UpdateLocation: %v", err)
	}
	if len(sub.APNs) != 1 || sub.APNs[0].Name != cfg.Guest.APN || sub.MSISDN != "" {
		t.Fatalf("guest subscription = %+v", sub)
	}
	if bnd, _ := e.st.GetBinding(ctx, guest); bnd.MMEHost != "mme2.epc" {
		t.Fatalf("binding did not follow the MME: %+v", bnd)
	}
	_, err = e.svc.UpdateLocation(ctx, rcm.GuestULR{IMSI: guest, Host: "mme2.epc", Realm: "epc", IMEI: "356938035643809"})
	if !errors.Is(err, rcm.ErrIMEIMismatch) || !errors.Is(err, rcm.ErrGuestULRRejected) {
		t.Fatalf("ULR with another IMEI: %v", err)
	}
	if a := e.lastAudit(t); a.Event != rcm.AuditULRRejected || !strings.Contains(a.Reason, "imei mismatch") {
		t.Fatalf("audit = %+v", a)
	}

	// Expiry: the binding goes, the caller gets it for the CLR, ULRs stop.
	if exp, err := e.svc.ExpireBindings(ctx, 10); err != nil || len(exp) != 0 {
		t.Fatalf("early expiry: %v, %v", exp, err)
	}
	e.now = e.now.Add(cfg.BindingLifetime)
	exp, err := e.svc.ExpireBindings(ctx, 10)
	if err != nil || len(exp) != 1 || exp[0].MMEHost != "mme2.epc" || exp[0].GuestIMSI != guest {
		t.Fatalf("ExpireBindings = %+v, %v", exp, err)
	}
	if a := e.lastAudit(t); a.Event != rcm.AuditExpired {
		t.Fatalf("audit = %+v", a)
	}
	if _, err := e.svc.UpdateLocation(ctx, rcm.GuestULR{IMSI: guest, Host: "mme2.epc", IMEI: string(imei)}); !errors.Is(err, rcm.ErrNoBinding) {
		t.Fatalf("ULR after expiry: %v", err)
	}
}

func TestGuestRejectionsAreAudited(t *testing.T) {
	ctx := context.Background()
	e := newSvcEnv(t, false)
	const guest hss.IMSI = "001019990000001"
	if _, err := e.svc.AuthenticateGuest(ctx, rcm.GuestAIR{IMSI: guest, VisitedPLMN: e.visited}); !errors.Is(err, rcm.ErrNoBootstrap) {
		t.Fatalf("no bootstrap: %v", err)
	}
	if a := e.lastAudit(t); a.Event != rcm.AuditRejected || !strings.Contains(a.Reason, "no bootstrap") {
		t.Fatalf("audit = %+v", a)
	}
	sess, _ := rcm.NewDeviceSession(e.pki.Device(t, "490154203237518"))
	b, _ := sess.Bootstrap(guest, e.visited, e.now)
	b.Signature[len(b.Signature)-1] ^= 1
	if _, err := e.svc.AuthenticateGuest(ctx, rcm.GuestAIR{IMSI: guest, VisitedPLMN: e.visited, Bootstrap: &b}); !errors.Is(err, rcm.ErrBadSignature) {
		t.Fatalf("bad signature: %v", err)
	}
	a := e.lastAudit(t)
	if a.Event != rcm.AuditRejected || a.IMEI != "490154203237518" || !strings.Contains(a.Reason, "bad bootstrap signature") {
		t.Fatalf("audit = %+v", a)
	}
	if _, err := e.st.GetBinding(ctx, guest); !errors.Is(err, rcm.ErrNoBinding) {
		t.Fatal("a rejected attach left a binding")
	}
	// A ULR without a binding is refused (compat off).
	if _, err := e.svc.UpdateLocation(ctx, rcm.GuestULR{IMSI: guest, IMEI: "490154203237518"}); !errors.Is(err, rcm.ErrNoBinding) {
		t.Fatalf("ULR without binding: %v", err)
	}
}

func TestCompatMode(t *testing.T) {
	ctx := context.Background()
	e := newSvcEnv(t, true)
	const guest hss.IMSI = "001019990000001"
	ga, err := e.svc.AuthenticateGuest(ctx, rcm.GuestAIR{IMSI: guest, VisitedPLMN: e.visited})
	if err != nil {
		t.Fatalf("compat guest: %v", err)
	}
	if ga.Proof() != nil || ga.Binding != nil {
		t.Fatalf("compat guest got a binding: %+v", ga)
	}
	vs := guestVectors(t, e.svc.Config(), e.visited, 1)
	before := vs[0].KASME
	ga.BindVectors(vs)
	if vs[0].KASME != before {
		t.Fatal("compat vectors were changed")
	}
	if e.lastAudit(t).Event != rcm.AuditCompatGuest {
		t.Fatal("compat attach not audited as such")
	}
	if sub, err := e.svc.UpdateLocation(ctx, rcm.GuestULR{IMSI: guest, IMEI: "490154203237518"}); err != nil || len(sub.APNs) != 1 {
		t.Fatalf("compat ULR: %+v, %v", sub, err)
	}
	// A bootstrap that fails verification is never downgraded to compat.
	sess, _ := rcm.NewDeviceSession(e.pki.Device(t, "490154203237518"))
	b, _ := sess.Bootstrap(guest, e.visited, e.now.Add(-time.Hour))
	if _, err := e.svc.AuthenticateGuest(ctx, rcm.GuestAIR{IMSI: guest, VisitedPLMN: e.visited, Bootstrap: &b}); !errors.Is(err, rcm.ErrStaleTimestamp) {
		t.Fatalf("stale bootstrap in compat mode: %v", err)
	}
}

func TestSecondDeviceReplacesBinding(t *testing.T) {
	ctx := context.Background()
	e := newSvcEnv(t, false)
	const guest hss.IMSI = "001019990000001"
	attach := func(imei rcm.IMEI, mme string) *rcm.GuestAuth {
		t.Helper()
		sess, _ := rcm.NewDeviceSession(e.pki.Device(t, imei))
		b, _ := sess.Bootstrap(guest, e.visited, e.now)
		ga, err := e.svc.AuthenticateGuest(ctx, rcm.GuestAIR{IMSI: guest, VisitedPLMN: e.visited, MMEHost: mme, Bootstrap: &b})
		if err != nil {
			t.Fatal(err)
		}
		return ga
	}
	attach("490154203237518", "mme1.epc")
	ga := attach("490154203237526", "mme2.epc")
	if ga.Replaced == nil || ga.Replaced.IMEI != "490154203237518" || ga.Replaced.MMEHost != "mme1.epc" {
		t.Fatalf("Replaced = %+v", ga.Replaced)
	}
	if _, err := e.svc.UpdateLocation(ctx, rcm.GuestULR{IMSI: guest, Host: "mme1.epc", IMEI: "490154203237518"}); !errors.Is(err, rcm.ErrIMEIMismatch) {
		t.Fatalf("the displaced device's ULR: %v", err)
	}
}

func TestGuestVectorRequestIsEUTRANOnly(t *testing.T) {
	r := rcm.GuestVectorRequest(hss.AuthInfoRequest{IMSI: "001019990000001", EUTRAN: 2, UTRAN: 3, GERAN: 4})
	if r.EUTRAN != 2 || r.UTRAN != 0 || r.GERAN != 0 || r.IMSI != "001019990000001" {
		t.Fatalf("request = %+v", r)
	}
}

func TestAuthenticateGuestRefusesNonGuest(t *testing.T) {
	e := newSvcEnv(t, true)
	if _, err := e.svc.AuthenticateGuest(context.Background(), rcm.GuestAIR{IMSI: "001010000000001"}); !errors.Is(err, hss.ErrInvalidInput) {
		t.Fatalf("err = %v", err)
	}
}

// TestEachRejectionLeavesAuditEntry: every refused guest AIR leaves a
// "rejected" entry naming its cause, and no binding.
func TestEachRejectionLeavesAuditEntry(t *testing.T) {
	ctx := context.Background()
	const guest hss.IMSI = "001019990000003"
	for _, tc := range []struct {
		name string
		want error
		air  func(t *testing.T, e *svcEnv) rcm.GuestAIR
	}{
		{"stale", rcm.ErrStaleTimestamp, func(t *testing.T, e *svcEnv) rcm.GuestAIR {
			sess, _ := rcm.NewDeviceSession(e.pki.Device(t, "490154203237518"))
			b, _ := sess.Bootstrap(guest, e.visited, e.now.Add(-time.Hour))
			return rcm.GuestAIR{IMSI: guest, VisitedPLMN: e.visited, Bootstrap: &b}
		}},
		{"not covered", rcm.ErrIMEINotCovered, func(t *testing.T, e *svcEnv) rcm.GuestAIR {
			sess, _ := rcm.NewDeviceSession(e.pki.Device(t, "356938035643809"))
			b, _ := sess.Bootstrap(guest, e.visited, e.now)
			return rcm.GuestAIR{IMSI: guest, VisitedPLMN: e.visited, Bootstrap: &b}
		}},
		{"replay", rcm.ErrReplay, func(t *testing.T, e *svcEnv) rcm.GuestAIR {
			sess, _ := rcm.NewDeviceSession(e.pki.Device(t, "490154203237518"))
			b, _ := sess.Bootstrap(guest, e.visited, e.now)
			air := rcm.GuestAIR{IMSI: guest, VisitedPLMN: e.visited, Bootstrap: &b}
			if _, err := e.svc.AuthenticateGuest(ctx, air); err != nil {
				t.Fatal(err)
			}
			if err := e.st.DeleteBinding(ctx, guest); err != nil {
				t.Fatal(err)
			}
			return air
		}},
		{"revoked", rcm.ErrIMEIRevoked, func(t *testing.T, e *svcEnv) rcm.GuestAIR {
			if err := e.st.RevokeIMEI(ctx, "490154203237518"); err != nil {
				t.Fatal(err)
			}
			sess, _ := rcm.NewDeviceSession(e.pki.Device(t, "490154203237518"))
			b, _ := sess.Bootstrap(guest, e.visited, e.now)
			return rcm.GuestAIR{IMSI: guest, VisitedPLMN: e.visited, Bootstrap: &b}
		}},
		{"malformed", rcm.ErrMalformedBootstrap, func(t *testing.T, e *svcEnv) rcm.GuestAIR {
			b := rcm.Bootstrap{ConnectionType: rcm.ConnectionProvisioning, IMEI: "123"}
			return rcm.GuestAIR{IMSI: guest, VisitedPLMN: e.visited, Bootstrap: &b}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newSvcEnv(t, false)
			air := tc.air(t, e)
			ga, err := e.svc.AuthenticateGuest(ctx, air)
			if !errors.Is(err, tc.want) || ga != nil {
				t.Fatalf("AuthenticateGuest = %v, %v; want %v", ga, err, tc.want)
			}
			a := e.lastAudit(t)
			if a.Event != rcm.AuditRejected || !strings.Contains(a.Reason, tc.want.Error()) {
				t.Fatalf("last audit entry = %+v", a)
			}
			if _, err := e.st.GetBinding(ctx, guest); !errors.Is(err, rcm.ErrNoBinding) {
				t.Fatal("a rejected attach left a binding")
			}
		})
	}
}
