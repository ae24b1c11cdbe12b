package s6a

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"

	"github.com/fiorix/go-diameter/v4/diam"
	diamdict "github.com/fiorix/go-diameter/v4/diam/dict"

	"github.com/rcmhss/rcmhss/hss"
)

func seq(n int, start byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

// TestAuthenticationInfoGolden pins the bytes of Authentication-Info with one
// E-UTRAN vector and one GERAN triplet (TS 29.272 7.3.17, 7.3.18, 7.3.20).
func TestAuthenticationInfoGolden(t *testing.T) {
	var ev hss.EUTRANVector
	copy(ev.RAND[:], seq(16, 0x10))
	ev.XRES = seq(8, 0x20)
	copy(ev.AUTN[:], seq(16, 0x30))
	copy(ev.KASME[:], seq(32, 0x40))
	var gv hss.GERANVector
	copy(gv.RAND[:], seq(16, 0x70))
	copy(gv.SRES[:], seq(4, 0x80))
	copy(gv.Kc[:], seq(8, 0x90))

	m := diam.NewMessage(cmdAuthenticationInfo, 0, AppID, 0, 0, diamdict.Default)
	m.Header.HopByHopID, m.Header.EndToEndID = 0, 0
	appendAuthenticationInfo(m, &hss.AuthInfo{EUTRAN: []hss.EUTRANVector{ev}, GERAN: []hss.GERANVector{gv}})
	got, err := m.Serialize()
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"01 000110 00 00013e 01000023 00000000 00000000",                 // answer header, length 272
		"00000585 c0 0000fc 000028af",                                    // Authentication-Info, 252
		"00000586 c0 000094 000028af",                                    //   E-UTRAN-Vector, 148
		"0000058b c0 000010 000028af 00000001",                           //     Item-Number 1
		"000005a7 c0 00001c 000028af", hex.EncodeToString(seq(16, 0x10)), //     RAND
		"000005a8 c0 000014 000028af", hex.EncodeToString(seq(8, 0x20)), //     XRES
		"000005a9 c0 00001c 000028af", hex.EncodeToString(seq(16, 0x30)), //     AUTN
		"000005aa c0 00002c 000028af", hex.EncodeToString(seq(32, 0x40)), //     KASME
		"00000588 c0 00005c 000028af",                                    //   GERAN-Vector, 92
		"0000058b c0 000010 000028af 00000001",                           //     Item-Number 1
		"000005a7 c0 00001c 000028af", hex.EncodeToString(seq(16, 0x70)), //     RAND
		"000005ae c0 000010 000028af", hex.EncodeToString(seq(4, 0x80)), //     SRES
		"000005ad c0 000014 000028af", hex.EncodeToString(seq(8, 0x90)), //     Kc
	}, "")
	if w := hexBytes(strings.ReplaceAll(want, " ", "")); !bytes.Equal(got, w) {
		t.Fatalf("got\n%x\nwant\n%x", got, w)
	}
}

func TestSubscriptionDelta(t *testing.T) {
	base := testSubscriber(testIMSI)
	clone := func(f func(s *hss.Subscriber)) *hss.Subscriber {
		s := *base
		s.APNs = append([]hss.APNConfiguration(nil), base.APNs...)
		f(&s)
		return &s
	}
	t.Run("no change the MME holds", func(t *testing.T) {
		d := subscriptionDelta(base, clone(func(s *hss.Subscriber) { s.K = mustKey("00112233445566778899aabbccddeeff") }))
		if d.idr != nil || d.dsrFlags != 0 {
			t.Errorf("delta %+v for a key change", d)
		}
	})
	t.Run("status and ambr", func(t *testing.T) {
		d := subscriptionDelta(base, clone(func(s *hss.Subscriber) {
			s.Status = hss.OperatorDeterminedBarring
			s.AMBR = hss.AMBR{UL: 1, DL: 2}
		}))
		if d.dsrFlags != 0 {
			t.Errorf("DSR-Flags %d", d.dsrFlags)
		}
		sd := members(t, wireAVP(t, d.idr))
		if len(sd) != 2 || mustU32(t, find(sd, codeSubscriberStatus, VendorID)) != 1 {
			t.Errorf("Subscription-Data %v", sd)
		}
		checkAMBR(t, find(sd, codeAMBR, VendorID), 1, 2)
	})
	t.Run("apn modified added and removed", func(t *testing.T) {
		d := subscriptionDelta(base, clone(func(s *hss.Subscriber) {
			s.APNs[0].QCI = 8
			s.APNs = s.APNs[:1]
			s.APNs = append(s.APNs, hss.APNConfiguration{ContextID: 7, Name: "iot", QCI: 9, ARP: hss.ARP{PriorityLevel: 9},
				StaticIPv6: netip.MustParseAddr("2001:db8::7")})
		}))
		if d.dsrFlags != dsrPDNSubscriptionContextsWithdrawal || len(d.removed) != 1 || d.removed[0] != 2 {
			t.Errorf("DSR %b %v, want PDN subscription contexts withdrawal of 2", d.dsrFlags, d.removed)
		}
		sd := members(t, wireAVP(t, d.idr))
		prof := members(t, find(sd, codeAPNConfigurationProfile, VendorID))
		if mustU32(t, find(prof, codeAllAPNConfigsIncluded, VendorID)) != modifiedAddedAPNConfigurationsIncluded {
			t.Error("All-APN-Configurations-Included-Indicator is not MODIFIED_ADDED")
		}
		apns := findAll(prof, codeAPNConfiguration, VendorID)
		if len(apns) != 2 || mustU32(t, find(members(t, apns[0]), codeContextIdentifier, VendorID)) != 1 ||
			mustU32(t, find(members(t, apns[1]), codeContextIdentifier, VendorID)) != 7 {
			t.Errorf("APN-Configuration %v", apns)
		}
	})
	t.Run("every apn removed", func(t *testing.T) {
		d := subscriptionDelta(base, clone(func(s *hss.Subscriber) { s.APNs, s.DefaultContextID = nil, 0 }))
		if d.dsrFlags != dsrCompleteAPNConfigurationProfileWithdrawal || d.removed != nil || d.idr != nil {
			t.Errorf("delta %+v, want complete APN configuration profile withdrawal only", d)
		}
	})
}

// wireAVP round-trips a locally built AVP through the wire encoding.
func wireAVP(t *testing.T, a *diam.AVP) *diam.AVP {
	t.Helper()
	if a == nil {
		t.Fatal("avp is nil")
	}
	m := request(cmdInsertSubscriberData, hssHost, a)
	return find(wire(t, m).AVP, a.Code, a.VendorID)
}
