package swx

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/hss"
)

func TestDecodeMARIdentities(t *testing.T) {
	cases := []struct {
		user string
		imsi hss.IMSI
		ok   bool
	}{
		{testIMSI, testIMSI, true},
		{naiAKA, testIMSI, true},    // TS 23.003 19.3.2 EAP-AKA root NAI
		{naiAKAPri, testIMSI, true}, // EAP-AKA' root NAI
		{"1" + testIMSI + nai, testIMSI, true},
		{"2" + testIMSI + nai, "", false}, // EAP-AKA pseudonym
		{"4" + testIMSI + nai, "", false}, // re-authentication identity
		{"@" + nai, "", false},
		{"0" + nai, "", false},
		{"0abc" + nai, "", false},
		{"0" + testIMSI, "", false}, // 16 digits without a realm is no IMSI
		{"", "", false},
	}
	for _, c := range cases {
		r, err := DecodeMAR(wire(t, marRequest(aaa1, c.user, SchemeEAPAKA, 1, "")))
		if c.ok != (err == nil) || r.Auth.IMSI != c.imsi {
			t.Errorf("%q: imsi %q, err %v; want %q ok=%v", c.user, r.Auth.IMSI, err, c.imsi, c.ok)
		}
		var ae *diameter.AVPError
		if err != nil && (!errors.As(err, &ae) || ae.Code != diameter.CodeInvalidAVPValue) {
			t.Errorf("%q: error %v is not a 5004 AVPError", c.user, err)
		}
	}
}

func TestDecodeMAR(t *testing.T) {
	rand := strings.Repeat("\x11", 16)
	auts := strings.Repeat("\x22", 14)
	r, err := DecodeMAR(wire(t, marRequest(aaa1, naiAKAPri, SchemeEAPAKAPrime, 4, wlanANID, oct(codeSIPAuthorization, rand+auts))))
	if err != nil {
		t.Fatal(err)
	}
	want := hss.Non3GPPAuthRequest{IMSI: testIMSI, AAAServer: aaa1, AAARealm: aaaRealm, N: 4, Prime: true, AccessNetworkID: wlanANID, RATType: hss.RATWLAN}
	rs := r.Auth.Resync
	r.Auth.Resync = nil
	if r.Auth != want || r.Scheme != SchemeEAPAKAPrime || r.UserName != naiAKAPri {
		t.Errorf("got %+v", r)
	}
	if rs == nil || string(rs.RAND[:]) != rand || string(rs.AUTS[:]) != auts {
		t.Errorf("resync %+v", rs)
	}
	// Without SIP-Number-Auth-Items one vector is asked for.
	m := request(cmdMultimediaAuth, aaa1, userName(testIMSI), grp(codeSIPAuthDataItem, utf8(codeSIPAuthScheme, SchemeEAPAKA)))
	if r, err := DecodeMAR(wire(t, m)); err != nil || r.Auth.N != 1 || r.Auth.Prime {
		t.Errorf("default: %+v, %v", r, err)
	}
	// A scheme other than EAP-AKA/EAP-AKA' is 5006.
	m = marRequest(aaa1, testIMSI, "SIP Digest", 1, "")
	if _, err := DecodeMAR(wire(t, m)); !errors.Is(err, hss.ErrAuthSchemeNotSupported) {
		t.Errorf("digest: %v", err)
	}
	m = request(cmdMultimediaAuth, aaa1, userName(testIMSI), grp(codeSIPAuthDataItem))
	var ae *diameter.AVPError
	if _, err := DecodeMAR(wire(t, m)); !errors.As(err, &ae) || ae.Code != diameter.CodeMissingAVP || ae.AVPCode != codeSIPAuthScheme {
		t.Errorf("no scheme: %v", err)
	}
}

func TestDecodeSAR(t *testing.T) {
	r, err := DecodeSAR(wire(t, sarRequest(aaa1, naiAKA, hss.SAPGWUpdate)))
	if err != nil {
		t.Fatal(err)
	}
	want := hss.ServerAssignmentRequest{IMSI: testIMSI, AAAServer: aaa1, AAARealm: aaaRealm, Type: hss.SAPGWUpdate}
	if r.Assignment != want || r.UserName != naiAKA {
		t.Errorf("got %+v", r)
	}
	var ae *diameter.AVPError
	m := request(cmdServerAssignment, aaa1, userName(testIMSI))
	if _, err := DecodeSAR(wire(t, m)); !errors.As(err, &ae) || ae.Code != diameter.CodeMissingAVP || ae.AVPCode != codeServerAssignmentType {
		t.Errorf("no type: %v", err)
	}
	m = request(cmdServerAssignment, aaa1, enum(codeServerAssignmentType, 1))
	if _, err := DecodeSAR(wire(t, m)); !errors.As(err, &ae) || ae.Code != diameter.CodeMissingAVP || ae.AVPCode != avp.UserName {
		t.Errorf("no user: %v", err)
	}
}

// TestSIPAuthDataItemGolden pins the bytes of one MAA SIP-Auth-Data-Item
// (TS 29.273 8.2.3.9, TS 29.229 6.3.13): every member a 3GPP AVP with the M
// and V flags (0xc0) and Vendor-Id 10415 (0x28af).
func TestSIPAuthDataItemGolden(t *testing.T) {
	v := hss.EAPVector{XRES: []byte{0xa5, 0x42, 0x11, 0xd5, 0xe3, 0xba, 0x50, 0xbf}}
	for i := range 16 {
		v.RAND[i], v.AUTN[i], v.CK[i], v.IK[i] = 0x10+byte(i), 0x20+byte(i), 0x30+byte(i), 0x40+byte(i)
	}
	b, err := sipAuthDataItem(1, SchemeEAPAKA, &v).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"00000264 c0 0000a8 000028af",                                  // SIP-Auth-Data-Item (612), length 168
		"00000265 c0 000010 000028af 00000001",                         // SIP-Item-Number (613) = 1
		"00000260 c0 000013 000028af 4541502d414b4100",                 // SIP-Authentication-Scheme (608) "EAP-AKA" + pad
		"00000261 c0 00002c 000028af",                                  // SIP-Authenticate (609), RAND || AUTN
		"101112131415161718191a1b1c1d1e1f",                             //   RAND
		"202122232425262728292a2b2c2d2e2f",                             //   AUTN
		"00000262 c0 000014 000028af a54211d5e3ba50bf",                 // SIP-Authorization (610) = XRES
		"00000271 c0 00001c 000028af 303132333435363738393a3b3c3d3e3f", // Confidentiality-Key (625)
		"00000272 c0 00001c 000028af 404142434445464748494a4b4c4d4e4f", // Integrity-Key (626)
	}, "")
	want = strings.ReplaceAll(want, " ", "")
	if got := hex.EncodeToString(b); got != want {
		t.Errorf("SIP-Auth-Data-Item\n got %s\nwant %s", got, want)
	}
}

var _ = diam.Success
