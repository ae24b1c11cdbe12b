package s13

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
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

const (
	mme      = "mme1.epc.mnc001.mcc001.3gppnetwork.org"
	mmeRealm = "epc.mnc001.mcc001.3gppnetwork.org"
	eirHost  = "eir.epc.mnc001.mcc001.3gppnetwork.org"
	eirRealm = "epc.mnc001.mcc001.3gppnetwork.org"
	testIMSI = "001010000000001"
	deadline = 10 * time.Second
)

func init() {
	if err := dict.Default(); err != nil {
		panic(err)
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

// lists is the EIR content of the component tests: each kind, and more
// specific entries inside less specific ones of another colour.
var lists = []hss.EIREntry{
	{Kind: hss.EIRByIMEI, Value: "35123456789012", Status: hss.Blacklisted},
	{Kind: hss.EIRByRange, First: "35000000000100", Last: "35000000000199", Status: hss.Greylisted},
	{Kind: hss.EIRByTAC, Value: "49015420", Status: hss.Blacklisted},
	{Kind: hss.EIRByRange, First: "49015420000000", Last: "49015420000099", Status: hss.Whitelisted},
	{Kind: hss.EIRByTAC, Value: "86000000", Status: hss.Greylisted},
	{Kind: hss.EIRByIMEI, Value: "86000000000001", Status: hss.Whitelisted},
}

// newMME starts a real diameter.Server with the S13 plugin on an EIR with
// policy for unknown IMEIs, and connects an MME to it.
func newMME(t *testing.T, network string, policy hss.UnknownEquipmentPolicy) *diametertest.Peer {
	t.Helper()
	if network == "sctp" {
		diametertest.SkipWithoutSCTP(t)
	}
	store := memstore.NewEIR()
	for _, e := range lists {
		if err := store.PutEIREntry(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	eir, err := hss.NewEIR(hss.EIRConfig{UnknownEquipment: policy}, store, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := diameter.NewServer(diameter.Config{
		Listen: []string{network + "://127.0.0.1:0"}, OriginHost: eirHost, OriginRealm: eirRealm, AllowLoopback: true,
	}, diameter.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Register(New(eir, testLogger(t))); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return diametertest.NewPeer(t, srv.Addrs()[0].String(), network, diametertest.PeerOptions{
		OriginHost: mme, OriginRealm: mmeRealm, Apps: []diametertest.AppSpec{{ID: AppID, Vendor: VendorID}},
	})
}

func utf8(code uint32, s string) *diam.AVP {
	return diam.NewAVP(code, flagsMV, VendorID, datatype.UTF8String(s))
}

// ecr is an ECR as an MME sends it (TS 29.272 7.2.19); ti are the members of
// Terminal-Information.
func ecr(ti ...*diam.AVP) *diam.Message {
	m := diam.NewRequest(cmdMEIdentityCheck, AppID, diamdict.Default)
	m.Header.CommandFlags |= diam.ProxiableFlag
	m.Header.HopByHopID, m.Header.EndToEndID = 7, 8
	m.NewAVP(avp.SessionID, flagsM, 0, datatype.UTF8String(mme+";1;1"))
	addAppAVPs(m)
	m.NewAVP(avp.OriginHost, flagsM, 0, datatype.DiameterIdentity(mme))
	m.NewAVP(avp.OriginRealm, flagsM, 0, datatype.DiameterIdentity(mmeRealm))
	m.NewAVP(avp.DestinationRealm, flagsM, 0, datatype.DiameterIdentity(eirRealm))
	m.NewAVP(codeTerminalInformation, flagsMV, VendorID, &diam.GroupedAVP{AVP: ti})
	m.NewAVP(avp.UserName, flagsM, 0, datatype.UTF8String(testIMSI))
	return m
}

func ecrIMEI(imei string) *diam.Message {
	return ecr(utf8(codeIMEI, imei), utf8(codeSoftwareVersion, "01"))
}

func do(t *testing.T, p *diametertest.Peer, req *diam.Message) *diam.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	ans, err := p.Do(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	return ans
}

func find(avps []*diam.AVP, code, vendor uint32) *diam.AVP {
	for _, a := range avps {
		if a.Code == code && a.VendorID == vendor {
			return a
		}
	}
	return nil
}

func status(t *testing.T, ans *diam.Message) (diameter.Result, *hss.EquipmentStatus) {
	t.Helper()
	r, ok := diameter.ResultOf(ans)
	if !ok {
		t.Fatalf("no result in\n%s", ans)
	}
	a := find(ans.AVP, codeEquipmentStatus, VendorID)
	if a == nil {
		return r, nil
	}
	v, ok := a.Data.(datatype.Enumerated)
	if !ok {
		t.Fatalf("Equipment-Status is %T", a.Data)
	}
	st := hss.EquipmentStatus(v)
	return r, &st
}

func failedAVP(t *testing.T, ans *diam.Message) uint32 {
	t.Helper()
	f := find(ans.AVP, avp.FailedAVP, 0)
	if f == nil {
		return 0
	}
	g := f.Data.(*diam.GroupedAVP)
	if len(g.AVP) != 1 {
		t.Fatalf("Failed-AVP holds %d avps", len(g.AVP))
	}
	if g.AVP[0].Code == codeTerminalInformation {
		// RFC 6733 7.5: an AVP inside a grouped one may come with its parent.
		if in, ok := g.AVP[0].Data.(*diam.GroupedAVP); ok && len(in.AVP) == 1 {
			return in.AVP[0].Code
		}
	}
	return g.AVP[0].Code
}

func TestECRTCP(t *testing.T)  { runECR(t, "tcp") }
func TestECRSCTP(t *testing.T) { runECR(t, "sctp") }

func runECR(t *testing.T, network string) {
	unknown := diameter.Result{Code: diameter.CodeEquipmentUnknown, Experimental: true, VendorID: VendorID}
	for _, policy := range []hss.UnknownEquipmentPolicy{hss.UnknownIsWhitelisted, hss.UnknownIsError} {
		t.Run(string(policy), func(t *testing.T) {
			peer := newMME(t, network, policy)
			white, grey, black := hss.Whitelisted, hss.Greylisted, hss.Blacklisted
			cases := []struct {
				name string
				imei string
				want *hss.EquipmentStatus
			}{
				{"black by imei", "35123456789012", &black},
				{"black by imei with check digit", "351234567890125", &black},
				{"black by imeisv", "3512345678901201", &black},
				{"grey by range, first", "35000000000100", &grey},
				{"grey by range, last", "35000000000199", &grey},
				{"black by tac", "49015420323751", &black},
				{"white range inside black tac", "49015420000042", &white},
				{"grey by tac", "86000000000002", &grey},
				{"white imei inside grey tac", "86000000000001", &white},
				{"just past the range", "35000000000200", nil},
				{"unknown", "99000000000000", nil},
			}
			for _, c := range cases {
				ans := do(t, peer, ecrIMEI(c.imei))
				r, st := status(t, ans)
				want := c.want
				if want == nil && policy == hss.UnknownIsWhitelisted {
					want = &white
				}
				switch {
				case want == nil:
					if r != unknown || st != nil {
						t.Errorf("%s: result %s status %v, want 5422 and no Equipment-Status", c.name, r, st)
					}
				case r != diameter.Success || st == nil || *st != *want:
					t.Errorf("%s: result %s status %v, want 2001 %s", c.name, r, st, want)
				}
				if len(ans.AVP) == 0 || ans.AVP[0].Code != avp.SessionID {
					t.Errorf("%s: Session-Id not first", c.name)
				}
			}
			// TS 29.272 7.2.19: User-Name is optional in the ECR although
			// go-diameter's dictionary marks it required.
			noUser := ecrIMEI("35123456789012")
			noUser.DeleteAVP(avp.UserName, 0)
			if r, st := status(t, do(t, peer, noUser)); r != diameter.Success || st == nil || *st != black {
				t.Errorf("ECR without User-Name: result %s status %v, want 2001 BLACKLISTED", r, st)
			}
			malformed := []struct {
				name   string
				req    *diam.Message
				code   uint32
				failed uint32
			}{
				{"short imei", ecrIMEI("35123456789"), diameter.CodeInvalidAVPValue, codeIMEI},
				{"letters", ecrIMEI("3512345678901A"), diameter.CodeInvalidAVPValue, codeIMEI},
				{"17 digits", ecrIMEI("35123456789012345"), diameter.CodeInvalidAVPValue, codeIMEI},
				{"empty", ecrIMEI(""), diameter.CodeInvalidAVPValue, codeIMEI},
				{"no imei", ecr(utf8(codeSoftwareVersion, "01")), diameter.CodeMissingAVP, codeIMEI},
				{"bad software version", ecr(utf8(codeIMEI, "35123456789012"), utf8(codeSoftwareVersion, "1")), diameter.CodeInvalidAVPValue, codeSoftwareVersion},
			}
			for _, c := range malformed {
				ans := do(t, peer, c.req)
				r, st := status(t, ans)
				if r != (diameter.Result{Code: c.code}) || st != nil {
					t.Errorf("%s: result %s status %v, want %d", c.name, r, st, c.code)
				}
				if f := failedAVP(t, ans); f != c.failed {
					t.Errorf("%s: Failed-AVP %d, want %d", c.name, f, c.failed)
				}
			}
		})
	}
}

func TestDecodeECR(t *testing.T) {
	r, err := DecodeECR(ecr(utf8(codeIMEI, "3512345678901207")))
	if err != nil || r.IMEI != "3512345678901207" || r.SoftwareVersion != "07" || r.IMSI != testIMSI {
		t.Errorf("imeisv: %+v, %v", r, err)
	}
	m := diam.NewRequest(cmdMEIdentityCheck, AppID, diamdict.Default)
	var ae *diameter.AVPError
	if _, err := DecodeECR(m); !errors.As(err, &ae) || ae.Code != diameter.CodeMissingAVP || ae.AVPCode != codeTerminalInformation {
		t.Errorf("no terminal-information: %v", err)
	}
}

func FuzzDecodeECR(f *testing.F) {
	for _, m := range []*diam.Message{ecrIMEI("35123456789012"), ecrIMEI("3512345678901201"), ecr()} {
		b, err := m.Serialize()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := diameter.DecodeMessage(b, diamdict.Default)
		if err != nil {
			return
		}
		r, err := DecodeECR(m)
		if err != nil {
			var ae *diameter.AVPError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v is not an AVPError", err)
			}
			return
		}
		if _, err := hss.ParseIMEI(r.IMEI); err != nil {
			t.Fatalf("accepted imei %q", r.IMEI)
		}
		if r.SoftwareVersion != "" && (len(r.SoftwareVersion) != 2 || !digits(r.SoftwareVersion)) {
			t.Fatalf("accepted software version %q", r.SoftwareVersion)
		}
	})
}
