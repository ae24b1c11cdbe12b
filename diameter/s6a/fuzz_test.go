package s6a

import (
	"errors"
	"testing"

	"github.com/fiorix/go-diameter/v4/diam"
	diamdict "github.com/fiorix/go-diameter/v4/diam/dict"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/hss"
)

// decodeFrame turns fuzz input into a message the way the server does;
// inputs the server would refuse before the handler are skipped.
func decodeFrame(b []byte) *diam.Message {
	m, err := diameter.DecodeMessage(b, diamdict.Default)
	if err != nil {
		return nil
	}
	return m
}

// checkFuzzErr: a decoder fails only with the 5004/5005 AVPError.
func checkFuzzErr(t *testing.T, err error) {
	var ae *diameter.AVPError
	if !errors.As(err, &ae) || (ae.Code != diameter.CodeInvalidAVPValue && ae.Code != diameter.CodeMissingAVP) {
		t.Fatalf("decoder error %v is not a 5004/5005 AVPError", err)
	}
	if ae.AVP == nil && ae.Code != diameter.CodeMissingAVP {
		t.Fatalf("invalid-value error without the offending AVP")
	}
}

func fuzzSeeds(f *testing.F, msgs ...*diam.Message) {
	for _, m := range msgs {
		f.Add(serialize(f, m))
	}
}

func FuzzDecodeAIR(f *testing.F) {
	rand := [16]byte{1, 2, 3}
	fuzzSeeds(f, airRequest(testIMSI, 1), airRequest(testIMSI, 5), airWithResync(rand, auts(rand, 99)),
		request(cmdAuthenticationInfo, mme1, userName(testIMSI), oct(codeVisitedPLMNID, homePLMN),
			grp(codeRequestedUTRANGERANInfo, u32(codeNumberOfRequestedVecs, 3))))
	f.Fuzz(func(t *testing.T, b []byte) {
		m := decodeFrame(b)
		if m == nil {
			return
		}
		r, err := DecodeAIR(m)
		if err != nil {
			checkFuzzErr(t, err)
			return
		}
		if _, err := hss.ParseIMSI(string(r.IMSI)); err != nil {
			t.Fatalf("decoded an invalid IMSI %q", r.IMSI)
		}
		if _, _, err := r.VisitedPLMN.Split(); err != nil {
			t.Fatalf("decoded an invalid PLMN %x", r.VisitedPLMN)
		}
		if r.EUTRAN < 0 || r.UTRAN < 0 || r.GERAN != 0 {
			t.Fatalf("vector counts %d/%d/%d", r.EUTRAN, r.UTRAN, r.GERAN)
		}
	})
}

func FuzzDecodeULR(f *testing.F) {
	fuzzSeeds(f, ulrRequest(testIMSI, mme1, hss.ULRS6aS6dIndicator|hss.ULRInitialAttach, supportedFeatures(3)),
		ulrRequest(testIMSI, mme2, hss.ULRSkipSubscriberData))
	f.Fuzz(func(t *testing.T, b []byte) {
		m := decodeFrame(b)
		if m == nil {
			return
		}
		r, err := DecodeULR(m)
		if err != nil {
			checkFuzzErr(t, err)
			return
		}
		if _, err := hss.ParseIMSI(string(r.Location.IMSI)); err != nil {
			t.Fatalf("decoded an invalid IMSI %q", r.Location.IMSI)
		}
		if r.Location.IMEI != "" && !digits(r.Location.IMEI) {
			t.Fatalf("decoded a non-numeric IMEI")
		}
	})
}

func FuzzDecodePUR(f *testing.F) {
	fuzzSeeds(f, request(cmdPurgeUE, mme1, userName(testIMSI)), request(cmdPurgeUE, mme1, userName(testIMSI), u32(codePURFlags, 1)))
	f.Fuzz(func(t *testing.T, b []byte) {
		m := decodeFrame(b)
		if m == nil {
			return
		}
		r, err := DecodePUR(m)
		if err != nil {
			checkFuzzErr(t, err)
			return
		}
		if _, err := hss.ParseIMSI(string(r.IMSI)); err != nil {
			t.Fatalf("decoded an invalid IMSI %q", r.IMSI)
		}
	})
}

func FuzzDecodeNOR(f *testing.F) {
	fuzzSeeds(f, request(cmdNotify, mme1, userName(testIMSI), u32(codeNORFlags, 8),
		grp(codeTerminalInformation, utf8(codeIMEI, "490154203237518"), utf8(codeSoftwareVersion, "03"))))
	f.Fuzz(func(t *testing.T, b []byte) {
		m := decodeFrame(b)
		if m == nil {
			return
		}
		r, err := DecodeNOR(m)
		if err != nil {
			checkFuzzErr(t, err)
			return
		}
		if _, err := hss.ParseIMSI(string(r.IMSI)); err != nil {
			t.Fatalf("decoded an invalid IMSI %q", r.IMSI)
		}
	})
}
