package diametertest_test

import (
	"fmt"
	"testing"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	diamdict "github.com/fiorix/go-diameter/v4/diam/dict"

	"github.com/rcmhss/rcmhss/diameter/diametertest"
)

// recorder keeps the errors TsharkDecode reports instead of failing the test.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// An AVP that tshark's dictionary does not know must be reported, and a
// well-formed DWR must not: the check the application tests rely on can fail.
func TestTsharkDecodeReportsUnknownAVP(t *testing.T) {
	dwr := diam.NewRequest(280, 0, diamdict.Default)
	dwr.NewAVP(avp.OriginHost, avp.Mbit, 0, datatype.DiameterIdentity("mme.test"))
	dwr.NewAVP(avp.OriginRealm, avp.Mbit, 0, datatype.DiameterIdentity("test"))
	r := &recorder{TB: t}
	diametertest.TsharkDecode(r, dwr)
	if len(r.errs) != 0 {
		t.Fatalf("a plain DWR was reported: %q", r.errs)
	}
	// Vendor 32473 (RFC 5612, documentation) is in no stock dictionary.
	dwr.AddAVP(diam.NewAVP(1, avp.Vbit, 32473, datatype.OctetString("x")))
	r = &recorder{TB: t}
	diametertest.TsharkDecode(r, dwr)
	if len(r.errs) == 0 {
		t.Fatal("an AVP unknown to tshark was not reported")
	}
}
