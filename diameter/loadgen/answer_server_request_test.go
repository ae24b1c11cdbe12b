package loadgen

import (
	"bytes"
	"testing"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"github.com/fiorix/go-diameter/v4/diam/dict"
)

// TestAppAnswer decodes, with go-diameter, the answer diamload gives to a
// request the server originates (here a CLR): same command, application and
// identifiers, no R bit, the request's Session-Id first and its
// Vendor-Specific-Application-Id, Result-Code 2001.
func TestAppAnswer(t *testing.T) {
	req := diam.NewRequest(317, appS6a, dict.Default)
	req.Header.HopByHopID, req.Header.EndToEndID = 0x1234, 0x5678
	req.NewAVP(avp.SessionID, avp.Mbit, 0, datatype.UTF8String("hss.test;1;2"))
	req.NewAVP(avp.VendorSpecificApplicationID, avp.Mbit, 0, &diam.GroupedAVP{AVP: []*diam.AVP{
		diam.NewAVP(avp.VendorID, avp.Mbit, 0, datatype.Unsigned32(vendor3GPP)),
		diam.NewAVP(avp.AuthApplicationID, avp.Mbit, 0, datatype.Unsigned32(appS6a)),
	}})
	req.NewAVP(avp.OriginHost, avp.Mbit, 0, datatype.DiameterIdentity("hss.test"))
	b, err := req.Serialize()
	if err != nil {
		t.Fatal(err)
	}
	ans, err := diam.ReadMessage(bytes.NewReader(appAnswer(b, "mme.test", "test")), dict.Default)
	if err != nil {
		t.Fatal(err)
	}
	h := ans.Header
	if h.CommandCode != 317 || h.ApplicationID != appS6a || h.HopByHopID != 0x1234 || h.EndToEndID != 0x5678 || h.CommandFlags&diam.RequestFlag != 0 {
		t.Fatalf("header %+v", h)
	}
	if len(ans.AVP) == 0 || ans.AVP[0].Code != avp.SessionID || ans.AVP[0].Data != datatype.UTF8String("hss.test;1;2") {
		t.Fatalf("first AVP %v, want the request's Session-Id", ans.AVP)
	}
	if _, err := ans.FindAVP(avp.VendorSpecificApplicationID, 0); err != nil {
		t.Error("no Vendor-Specific-Application-Id")
	}
	rc, err := ans.FindAVP(avp.ResultCode, 0)
	if err != nil || rc.Data != datatype.Unsigned32(2001) {
		t.Errorf("Result-Code %v (%v), want 2001", rc, err)
	}
}
