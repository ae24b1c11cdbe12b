package rcm

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/rcmhss/rcmhss/hss"
)

func TestGuestULR(t *testing.T) {
	d := &Device{IMEI: testIMEI, ProfileID: "p", ProviderID: "v", CertFingerprint: Fingerprint{1}}
	b := NewBinding("001019990000001", d, "mme1.epc", "epc", testNow, 10*time.Minute)
	if b.ExpiresAt != testNow.Add(10*time.Minute) || b.MMEHost != "mme1.epc" || b.CertFingerprint != d.CertFingerprint {
		t.Fatalf("binding = %+v", b)
	}
	for _, tc := range []struct {
		name   string
		b      *Binding
		imei   string
		now    time.Time
		compat bool
		want   error
	}{
		{"15 digits", &b, "490154203237518", testNow, false, nil},
		{"14 digits (TS 29.272 7.3.4)", &b, "49015420323751", testNow, false, nil},
		{"other device", &b, "490154203237526", testNow, false, ErrIMEIMismatch},
		{"wrong check digit", &b, "490154203237517", testNow, false, ErrIMEIMismatch},
		{"no terminal-information", &b, "", testNow, false, ErrIMEIMismatch},
		{"expired", &b, "490154203237518", b.ExpiresAt, false, ErrBindingExpired},
		{"no binding", nil, "490154203237518", testNow, false, ErrNoBinding},
		{"no binding, compat", nil, "490154203237518", testNow, true, nil},
		{"compat does not excuse a mismatch", &b, "490154203237526", testNow, true, ErrIMEIMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckGuestULR(tc.b, tc.imei, tc.now, tc.compat)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) || !errors.Is(err, ErrGuestULRRejected) {
				t.Fatalf("err = %v, want %v and ErrGuestULRRejected", err, tc.want)
			}
		})
	}
}

func TestRestrictedSubscriberCannotBeWidened(t *testing.T) {
	want := func(t *testing.T, g GuestRange, s *hss.Subscriber, imsi hss.IMSI) {
		t.Helper()
		if err := s.Validate(); err != nil {
			t.Fatalf("restricted subscriber invalid: %v", err)
		}
		if s.IMSI != imsi || s.MSISDN != "" || len(s.APNs) != 1 || s.DefaultContextID != s.APNs[0].ContextID {
			t.Fatalf("subscriber = %+v", s)
		}
		a := s.APNs[0]
		if a.StaticIPv4.IsValid() || a.StaticIPv6.IsValid() || a.QCI != 9 || a.ARP.PriorityLevel != 15 || a.ARP.PreemptionCapability {
			t.Fatalf("apn = %+v", a)
		}
		for _, v := range []uint32{s.AMBR.UL, s.AMBR.DL, a.AMBR.UL, a.AMBR.DL} {
			if v == 0 || v > MaxProvisioningAMBR {
				t.Fatalf("AMBR %d outside 1..%d", v, MaxProvisioningAMBR)
			}
		}
		if s.Non3GPP.AccessAllowed || s.NetworkAccessMode != hss.OnlyPacket || s.AccessRestriction&hss.EUTRANNotAllowed != 0 ||
			s.AccessRestriction&(hss.UTRANNotAllowed|hss.GERANNotAllowed) != hss.UTRANNotAllowed|hss.GERANNotAllowed {
			t.Fatalf("access = %+v", s)
		}
	}
	g := testConfig().Guest
	s := g.RestrictedSubscriber("001019990000001")
	want(t, g, s, "001019990000001")
	if s.APNs[0].Name != g.APN || s.AMBR != g.AMBR {
		t.Fatalf("configured APN/AMBR not used: %+v", s)
	}

	// An invalid configuration (never validated) still cannot widen it.
	wide := g
	wide.APN = "internet.*"
	wide.AMBR = hss.AMBR{UL: 4_000_000_000, DL: 0}
	s = wide.RestrictedSubscriber("001019990000002")
	want(t, wide, s, "001019990000002")
	if s.APNs[0].Name != DefaultConfig().Guest.APN {
		t.Fatalf("invalid APN %q passed through", s.APNs[0].Name)
	}

	// Two calls share nothing: mutating one result does not touch the next.
	s.APNs[0].Name = "internet"
	s.APNs = append(s.APNs, hss.APNConfiguration{ContextID: 2, Name: "ims"})
	if again := g.RestrictedSubscriber("001019990000001"); len(again.APNs) != 1 || again.APNs[0].Name != g.APN {
		t.Fatalf("results share state: %+v", again.APNs)
	}
	if !reflect.DeepEqual(g.RestrictedSubscriber("001019990000001"), g.RestrictedSubscriber("001019990000001")) {
		t.Fatal("not deterministic")
	}
}

func FuzzRestrictedSubscriber(f *testing.F) {
	f.Add("001019990000001", "rcm.provisioning", uint32(256000), uint32(0))
	f.Add("", "", uint32(0), uint32(1<<32-1))
	f.Fuzz(func(t *testing.T, imsi, apn string, ul, dl uint32) {
		g := testConfig().Guest
		g.APN, g.AMBR = apn, hss.AMBR{UL: ul, DL: dl}
		s := g.RestrictedSubscriber(hss.IMSI(imsi))
		if len(s.APNs) != 1 || s.MSISDN != "" || s.AMBR.UL > MaxProvisioningAMBR || s.AMBR.DL > MaxProvisioningAMBR ||
			s.APNs[0].AMBR != s.AMBR || validateAPN(s.APNs[0].Name) != nil || s.Non3GPP.AccessAllowed {
			t.Fatalf("widened: %+v", s)
		}
	})
}
