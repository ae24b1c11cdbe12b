package s6a

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	diamdict "github.com/fiorix/go-diameter/v4/diam/dict"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/hss"
)

// goldenAIR is an AIR as an MME puts it on the wire, annotated field by field
// (RFC 6733 3 and 4; TS 29.272 7.2.5).
var goldenAIR = strings.Join([]string{
	"01 0000e4", "c0 00013e", "01000023", "00001234", "00005678", // version, length 228, flags R|P, cmd 318, app S6a, hbh, e2e
	"00000107 40 00000f", "6d6d653b313b31", "00", // Session-Id "mme;1;1"
	"00000104 40 000020", "0000010a 40 00000c 000028af", "00000102 40 00000c 01000023", // Vendor-Specific-Application-Id {10415, 16777251}
	"00000115 40 00000c 00000001",    // Auth-Session-State NO_STATE_MAINTAINED
	"00000108 40 00000b", "6d6d6500", // Origin-Host "mme"
	"00000128 40 00000b", "65706300", // Origin-Realm "epc"
	"0000011b 40 00000b", "65706300", // Destination-Realm "epc"
	"00000001 40 000017", "303031303130303030303030303031", "00", // User-Name "001010000000001"
	"00000580 c0 000048 000028af",                                      // Requested-EUTRAN-Authentication-Info
	"00000582 c0 000010 000028af 00000003",                             //   Number-Of-Requested-Vectors 3
	"00000583 c0 00002a 000028af",                                      //   Re-Synchronization-Info
	"000102030405060708090a0b0c0d0e0f", "a0a1a2a3a4a5a6a7a8a9aaabacad", //     RAND || AUTS
	"0000",
	"0000057f c0 00000f 000028af 00f110", "00", // Visited-PLMN-Id 001/01
}, "")

func TestDecodeAIRGolden(t *testing.T) {
	b, err := hex.DecodeString(strings.ReplaceAll(goldenAIR, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	m, err := diameter.DecodeMessage(b, diamdict.Default)
	if err != nil {
		t.Fatalf("decode message: %v", err)
	}
	r, err := DecodeAIR(m)
	if err != nil {
		t.Fatalf("DecodeAIR: %v\n%s", err, m)
	}
	if r.IMSI != testIMSI || r.ServingNode != "mme" || r.EUTRAN != 3 || r.UTRAN != 0 || r.GERAN != 0 {
		t.Errorf("got %+v", r)
	}
	if r.VisitedPLMN.String() != "00101" {
		t.Errorf("visited plmn %s, want 00101", r.VisitedPLMN)
	}
	if r.Resync == nil {
		t.Fatal("resync missing")
	}
	if hex.EncodeToString(r.Resync.RAND[:]) != "000102030405060708090a0b0c0d0e0f" ||
		hex.EncodeToString(r.Resync.AUTS[:]) != "a0a1a2a3a4a5a6a7a8a9aaabacad" {
		t.Errorf("resync %x %x", r.Resync.RAND, r.Resync.AUTS)
	}
}

func TestDecodeAIR(t *testing.T) {
	resync := strings.Repeat("\x01", 16) + strings.Repeat("\x02", 14)
	tests := []struct {
		name     string
		msg      *diam.Message
		want     hss.AuthInfoRequest
		wantCode uint32 // 5004 / 5005 with Failed-AVP of wantAVP
		wantAVP  uint32
	}{
		{
			name: "one eutran vector",
			msg:  airRequest(testIMSI, 1),
			want: hss.AuthInfoRequest{IMSI: testIMSI, ServingNode: mme1, EUTRAN: 1, ImmediateResponsePreferred: true},
		},
		{
			name: "s6d utran geran request",
			msg: request(cmdAuthenticationInfo, mme1, userName(testIMSI), oct(codeVisitedPLMNID, homePLMN),
				grp(codeRequestedUTRANGERANInfo, u32(codeNumberOfRequestedVecs, 4))),
			want: hss.AuthInfoRequest{IMSI: testIMSI, ServingNode: mme1, UTRAN: 4},
		},
		{
			name: "number of vectors absent means one",
			msg:  request(cmdAuthenticationInfo, mme1, userName(testIMSI), oct(codeVisitedPLMNID, homePLMN), grp(codeRequestedEUTRANAuthInfo)),
			want: hss.AuthInfoRequest{IMSI: testIMSI, ServingNode: mme1, EUTRAN: 1},
		},
		{
			name: "resync",
			msg: request(cmdAuthenticationInfo, mme1, userName(testIMSI), oct(codeVisitedPLMNID, homePLMN),
				grp(codeRequestedEUTRANAuthInfo, u32(codeNumberOfRequestedVecs, 2), oct(codeResyncInfo, resync))),
			want: hss.AuthInfoRequest{IMSI: testIMSI, ServingNode: mme1, EUTRAN: 2,
				Resync: &hss.Resync{RAND: [16]byte{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, AUTS: [14]byte{2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2}}},
		},
		{
			name:     "missing user-name",
			msg:      request(cmdAuthenticationInfo, mme1, oct(codeVisitedPLMNID, homePLMN), grp(codeRequestedEUTRANAuthInfo)),
			wantCode: diameter.CodeMissingAVP, wantAVP: avp.UserName,
		},
		{
			name:     "user-name not an imsi",
			msg:      airRequest("alice@example.org", 1),
			wantCode: diameter.CodeInvalidAVPValue, wantAVP: avp.UserName,
		},
		{
			name:     "missing visited-plmn-id",
			msg:      request(cmdAuthenticationInfo, mme1, userName(testIMSI), grp(codeRequestedEUTRANAuthInfo)),
			wantCode: diameter.CodeMissingAVP, wantAVP: codeVisitedPLMNID,
		},
		{
			name: "visited-plmn-id of 4 octets",
			msg: request(cmdAuthenticationInfo, mme1, userName(testIMSI), oct(codeVisitedPLMNID, homePLMN+"\x00"),
				grp(codeRequestedEUTRANAuthInfo)),
			wantCode: diameter.CodeInvalidAVPValue, wantAVP: codeVisitedPLMNID,
		},
		{
			name: "visited-plmn-id with a hex digit",
			msg: request(cmdAuthenticationInfo, mme1, userName(testIMSI), oct(codeVisitedPLMNID, "\x0a\xf1\x10"),
				grp(codeRequestedEUTRANAuthInfo)),
			wantCode: diameter.CodeInvalidAVPValue, wantAVP: codeVisitedPLMNID,
		},
		{
			name: "resync info of 29 octets",
			msg: request(cmdAuthenticationInfo, mme1, userName(testIMSI), oct(codeVisitedPLMNID, homePLMN),
				grp(codeRequestedEUTRANAuthInfo, oct(codeResyncInfo, resync[:29]))),
			wantCode: diameter.CodeInvalidAVPValue, wantAVP: codeResyncInfo,
		},
		{
			name: "zero vectors requested",
			msg: request(cmdAuthenticationInfo, mme1, userName(testIMSI), oct(codeVisitedPLMNID, homePLMN),
				grp(codeRequestedEUTRANAuthInfo, u32(codeNumberOfRequestedVecs, 0))),
			wantCode: diameter.CodeInvalidAVPValue, wantAVP: codeNumberOfRequestedVecs,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeAIR(wire(t, tt.msg))
			checkDecodeErr(t, err, tt.wantCode, tt.wantAVP)
			if tt.wantCode != 0 {
				return
			}
			want := tt.want
			if want.VisitedPLMN == (hss.PLMN{}) {
				want.VisitedPLMN = hss.PLMN([]byte(homePLMN))
			}
			if (got.Resync == nil) != (want.Resync == nil) || (got.Resync != nil && *got.Resync != *want.Resync) {
				t.Errorf("resync %+v, want %+v", got.Resync, want.Resync)
			}
			got.Resync, want.Resync = nil, nil
			if got != want {
				t.Errorf("got %+v\nwant %+v", got, want)
			}
		})
	}
}

// checkDecodeErr checks that err is the *diameter.AVPError with code for the
// AVP avpCode, or nil when code is 0.
func checkDecodeErr(t *testing.T, err error, code, avpCode uint32) {
	t.Helper()
	if code == 0 {
		if err != nil {
			t.Fatalf("unexpected error %v", err)
		}
		return
	}
	var ae *diameter.AVPError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not an *diameter.AVPError", err)
	}
	got := ae.AVPCode
	if ae.AVP != nil {
		got = ae.AVP.Code
	}
	if ae.Code != code || got != avpCode {
		t.Fatalf("error %v: code %d for avp %d, want %d for avp %d", err, ae.Code, got, code, avpCode)
	}
}

func TestDecodeULR(t *testing.T) {
	flags := hss.ULRS6aS6dIndicator | hss.ULRInitialAttach
	offer := grp(codeSupportedFeatures, diam.NewAVP(avp.VendorID, flagsM, 0, u32(0, 0).Data),
		diam.NewAVP(codeFeatureListID, flagsV, VendorID, u32(0, 1).Data),
		diam.NewAVP(codeFeatureList, flagsV, VendorID, u32(0, 0x0c000001).Data))
	offer.Data.(*diam.GroupedAVP).AVP[0] = diam.NewAVP(avp.VendorID, flagsM, 0, u32(0, VendorID).Data)
	tests := []struct {
		name     string
		msg      *diam.Message
		want     ULR
		wantCode uint32
		wantAVP  uint32
	}{
		{
			name: "initial attach with terminal information and features",
			msg:  ulrRequest(testIMSI, mme1, flags, offer),
			want: ULR{Location: hss.UpdateLocationRequest{IMSI: testIMSI, Host: mme1, Realm: mmeRealm,
				VisitedPLMN: hss.PLMN([]byte(homePLMN)), RATType: hss.RATEUTRAN, Flags: flags,
				IMEI: "35609204079301", SoftwareVersion: "12"}, Features: 0x0c000001, FeaturesOffered: true},
		},
		{
			name:     "missing rat-type",
			msg:      request(cmdUpdateLocation, mme1, userName(testIMSI), u32(codeULRFlags, 2), oct(codeVisitedPLMNID, homePLMN)),
			wantCode: diameter.CodeMissingAVP, wantAVP: codeRATType,
		},
		{
			name:     "missing ulr-flags",
			msg:      request(cmdUpdateLocation, mme1, userName(testIMSI), enum(codeRATType, 1004), oct(codeVisitedPLMNID, homePLMN)),
			wantCode: diameter.CodeMissingAVP, wantAVP: codeULRFlags,
		},
		{
			name:     "missing user-name",
			msg:      request(cmdUpdateLocation, mme1, enum(codeRATType, 1004), u32(codeULRFlags, 2), oct(codeVisitedPLMNID, homePLMN)),
			wantCode: diameter.CodeMissingAVP, wantAVP: avp.UserName,
		},
		{
			name: "bad imei",
			msg: request(cmdUpdateLocation, mme1, userName(testIMSI), enum(codeRATType, 1004), u32(codeULRFlags, 2),
				oct(codeVisitedPLMNID, homePLMN), grp(codeTerminalInformation, utf8(codeIMEI, "35609A04079301"))),
			wantCode: diameter.CodeInvalidAVPValue, wantAVP: codeIMEI,
		},
		{
			name: "visited-plmn-id of 2 octets",
			msg: request(cmdUpdateLocation, mme1, userName(testIMSI), enum(codeRATType, 1004), u32(codeULRFlags, 2),
				oct(codeVisitedPLMNID, homePLMN[:2])),
			wantCode: diameter.CodeInvalidAVPValue, wantAVP: codeVisitedPLMNID,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeULR(wire(t, tt.msg))
			checkDecodeErr(t, err, tt.wantCode, tt.wantAVP)
			if tt.wantCode == 0 && got != tt.want {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestDecodePUR(t *testing.T) {
	r, err := DecodePUR(wire(t, request(cmdPurgeUE, mme1, userName(testIMSI))))
	if err != nil {
		t.Fatal(err)
	}
	// 7.3.149: a PUR without PUR-Flags comes from an MME.
	if r != (PUR{IMSI: testIMSI, Host: mme1, Flags: purUEPurgedInMME}) {
		t.Errorf("got %+v", r)
	}
	r, err = DecodePUR(wire(t, request(cmdPurgeUE, mme1, userName(testIMSI), u32(codePURFlags, 2))))
	if err != nil || r.Flags != 2 {
		t.Errorf("got %+v, %v; want flags 2", r, err)
	}
	_, err = DecodePUR(wire(t, request(cmdPurgeUE, mme1)))
	checkDecodeErr(t, err, diameter.CodeMissingAVP, avp.UserName)
}

func TestDecodeNOR(t *testing.T) {
	r, err := DecodeNOR(wire(t, request(cmdNotify, mme1, userName(testIMSI), u32(codeNORFlags, 1<<3),
		grp(codeTerminalInformation, utf8(codeIMEI, "356092040793011"), utf8(codeSoftwareVersion, "07")))))
	if err != nil {
		t.Fatal(err)
	}
	want := hss.NotifyRequest{IMSI: testIMSI, Host: mme1, Flags: 1 << 3, IMEI: "356092040793011", SoftwareVersion: "07"}
	if r != want {
		t.Errorf("got %+v\nwant %+v", r, want)
	}
	_, err = DecodeNOR(wire(t, request(cmdNotify, mme1, userName(testIMSI),
		grp(codeTerminalInformation, utf8(codeSoftwareVersion, "7")))))
	checkDecodeErr(t, err, diameter.CodeInvalidAVPValue, codeSoftwareVersion)
}
