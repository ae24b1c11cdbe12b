package diameter_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	diamdict "github.com/fiorix/go-diameter/v4/diam/dict"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/hss"
)

func TestResultFor(t *testing.T) {
	exp := func(c uint32) diameter.Result { return diameter.Result{Code: c, Experimental: true, VendorID: 10415} }
	base := func(c uint32) diameter.Result { return diameter.Result{Code: c} }
	cases := []struct {
		err  error
		want diameter.Result
	}{
		{nil, base(2001)},
		{hss.ErrUnknownSubscriber, exp(5001)},
		{fmt.Errorf("hss: air: %w", hss.ErrUnknownSubscriber), exp(5001)},
		{hss.ErrUnknownEPSSubscription, exp(5420)},
		{hss.ErrRATNotAllowed, exp(5421)},
		{hss.ErrRoamingNotAllowed, exp(5004)},
		{hss.ErrAuthDataUnavailable, exp(4181)},
		{hss.ErrResyncFailed, exp(4181)},
		{hss.ErrStoreUnavailable, base(3004)},
		{&hss.ValidationError{Field: "imsi", Reason: "too short"}, base(5004)},
		{diameter.MissingAVP(avp.UserName, 0), base(5005)},
		{fmt.Errorf("s6a: air: %w", &diameter.AVPError{Code: 5014}), base(5014)},
		{errors.New("something else"), base(5012)},
	}
	for _, tc := range cases {
		if got := diameter.ResultFor(tc.err); got != tc.want {
			t.Errorf("ResultFor(%v) = %+v, want %+v", tc.err, got, tc.want)
		}
	}
}

func TestSetResultAndResultOf(t *testing.T) {
	req := diam.NewRequest(318, 16777251, nil)
	req.Header.CommandFlags |= diam.ProxiableFlag | diam.RetransmittedFlag
	req.NewAVP(avp.SessionID, avp.Mbit, 0, datatype.UTF8String("mme;1;2"))
	for _, r := range []diameter.Result{
		{Code: 2001},
		{Code: 5420, Experimental: true, VendorID: 10415},
		{Code: 3003},
	} {
		a := diameter.NewAnswer(req, r)
		b, err := a.Serialize()
		if err != nil {
			t.Fatal(err)
		}
		back, err := diam.ReadMessage(bytes.NewReader(b), diamdict.Default)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := diameter.ResultOf(back)
		if !ok || got != r {
			t.Fatalf("ResultOf = %+v %v, want %+v", got, ok, r)
		}
		if back.Header.CommandFlags&diam.RequestFlag != 0 || back.Header.CommandFlags&diam.RetransmittedFlag != 0 {
			t.Fatalf("answer flags %x keep R or T", back.Header.CommandFlags)
		}
		if back.Header.CommandFlags&diam.ProxiableFlag == 0 {
			t.Fatal("answer lost the P bit")
		}
		if e := back.Header.CommandFlags&diam.ErrorFlag != 0; e != r.IsProtocolError() {
			t.Fatalf("E bit %v for %+v", e, r)
		}
		if back.AVP[0].Code != avp.SessionID {
			t.Fatal("Session-Id is not the first AVP")
		}
		if r.Experimental {
			if _, err := back.FindAVP(avp.ResultCode, 0); err == nil {
				t.Fatal("experimental result also carries Result-Code")
			}
		}
	}
}

func TestErrorAnswerFailedAVP(t *testing.T) {
	req := diam.NewRequest(318, 16777251, nil)
	plmn := diam.NewAVP(avp.VisitedPLMNID, avp.Mbit, 10415, datatype.OctetString([]byte{9}))
	req.AddAVP(plmn)
	for _, tc := range []struct {
		err    error
		code   uint32
		failed uint32
		vendor uint32
		value  int // payload length in Failed-AVP
	}{
		{diameter.InvalidAVP(plmn, "short"), 5004, avp.VisitedPLMNID, 10415, 1},
		// RFC 6733 7.1.5: a zero-filled example of minimal length for the type.
		{diameter.MissingAVP(avp.AuthSessionState, 0), 5005, avp.AuthSessionState, 0, 4},
		{diameter.MissingAVP(avp.VisitedPLMNID, 10415), 5005, avp.VisitedPLMNID, 10415, 0},
	} {
		a := diameter.ErrorAnswer(req, tc.err)
		b, _ := a.Serialize()
		back, err := diam.ReadMessage(bytes.NewReader(b), diamdict.Default)
		if err != nil {
			t.Fatal(err)
		}
		if r, _ := diameter.ResultOf(back); r.Code != tc.code {
			t.Fatalf("%v: result %d", tc.err, r.Code)
		}
		fa, err := back.FindAVP(avp.FailedAVP, 0)
		if err != nil {
			t.Fatalf("%v: no Failed-AVP", tc.err)
		}
		in := fa.Data.(*diam.GroupedAVP).AVP[0]
		if in.Code != tc.failed || in.VendorID != tc.vendor || in.Data.Len() != tc.value {
			t.Fatalf("%v: Failed-AVP holds %v", tc.err, in)
		}
		if (in.Flags&avp.Vbit != 0) != (tc.vendor != 0) {
			t.Fatalf("%v: V bit %x for vendor %d", tc.err, in.Flags, tc.vendor)
		}
	}
}
