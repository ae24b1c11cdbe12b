package s13

import (
	"context"
	"strings"
	"testing"

	"github.com/fiorix/go-diameter/v4/diam"
	diamdict "github.com/fiorix/go-diameter/v4/diam/dict"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/diameter/diametertest"
	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/hss/memstore"
)

// TestWiresharkDecodes hands ECRs and the ECAs the plugin builds (listed,
// unknown, malformed) to tshark, an independent reading of TS 29.272.
func TestWiresharkDecodes(t *testing.T) {
	store := memstore.NewEIR()
	if err := store.PutEIREntry(context.Background(), lists[0]); err != nil {
		t.Fatal(err)
	}
	eir, err := hss.NewEIR(hss.EIRConfig{UnknownEquipment: hss.UnknownIsError}, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := New(eir, nil)
	do := func(req *diam.Message) *diam.Message {
		b, err := req.Serialize()
		if err != nil {
			t.Fatal(err)
		}
		in, err := diameter.DecodeMessage(b, diamdict.Default)
		if err != nil {
			t.Fatal(err)
		}
		return p.serveECR(context.Background(), &diameter.Request{Msg: in})
	}
	ecr := ecrIMEI("35123456789012")
	msgs := []*diam.Message{ecr, do(ecr), do(ecrIMEI("99000000000000")), do(ecrIMEI("123"))}
	text := diametertest.TsharkDecode(t, msgs...)
	for _, want := range []string{"ME-Identity-Check (324)", "Terminal-Information(1401)", "IMEI(1402)", "Software-Version(1403)",
		"Equipment-Status(1445)", "BLACKLISTED (1)", "Experimental-Result-Code(298)", "Failed-AVP(279)"} {
		if !strings.Contains(text, want) {
			t.Errorf("tshark output lacks %q", want)
		}
	}
}
