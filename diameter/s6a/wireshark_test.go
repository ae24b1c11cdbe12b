package s6a

import (
	"strings"
	"testing"

	"github.com/fiorix/go-diameter/v4/diam"

	"github.com/rcmhss/rcmhss/diameter/diametertest"
	"github.com/rcmhss/rcmhss/hss"
)

// TestWiresharkDecodes hands the messages the plugin builds to tshark, whose
// 3GPP dictionary is an independent reading of TS 29.272: every AVP must be
// known to it and nothing may be malformed or flagged by its expert checks.
func TestWiresharkDecodes(t *testing.T) {
	h := newHSS(t)
	provision(t, h, testSubscriber(testIMSI))
	p := New(testConfig(), h, nil, nil)
	do := direct(p)
	ula := do(t, ulrRequest(testIMSI, mme1, hss.ULRS6aS6dIndicator|hss.ULRInitialAttach, supportedFeatures(3)))
	aia := do(t, airRequest(testIMSI, 2))
	quintets := do(t, request(cmdAuthenticationInfo, mme1, userName(testIMSI), oct(codeVisitedPLMNID, homePLMN),
		grp(codeRequestedUTRANGERANInfo, u32(codeNumberOfRequestedVecs, 1))))
	failed := do(t, airRequest("001010000009999", 1))
	reg := &hss.MMERegistration{Host: mme1, Realm: mmeRealm}
	clr := p.newRequest(cmdCancelLocation, testIMSI, reg)
	clr.NewAVP(codeCancellationType, flagsMV, VendorID, enum(0, 2).Data)
	clr.NewAVP(codeCLRFlags, flagsMV, VendorID, u32(0, 1).Data)
	after := testSubscriber(testIMSI)
	after.APNs = after.APNs[:1]
	after.APNs[0].QCI = 7
	after.Status = hss.OperatorDeterminedBarring
	d := subscriptionDelta(testSubscriber(testIMSI), after)
	idr := p.newRequest(cmdInsertSubscriberData, testIMSI, reg)
	idr.AddAVP(d.idr)
	dsr := p.newRequest(cmdDeleteSubscriberData, testIMSI, reg)
	dsr.NewAVP(codeDSRFlags, flagsMV, VendorID, u32(0, d.dsrFlags).Data)
	dsr.NewAVP(codeContextIdentifier, flagsMV, VendorID, u32(0, d.removed[0]).Data)

	msgs := []*diam.Message{ula, aia, quintets, failed, clr, idr, dsr}
	text := diametertest.TsharkDecode(t, msgs...)
	for _, want := range []string{"Subscription-Data(1400)", "APN-Configuration(1430)", "E-UTRAN-Vector(1414)", "UTRAN-Vector(1415)",
		"Experimental-Result-Code(298)", "Cancellation-Type(1420) l=16 f=VM- vnd=TGPP val=SUBSCRIPTION_WITHDRAWAL (2)",
		"DSR-Flags(1421)", "Insert-Subscriber-Data (319)", "Delete-Subscriber-Data (320)", "Cancel-Location (317)"} {
		if !strings.Contains(text, want) {
			t.Errorf("tshark output lacks %q", want)
		}
	}
}
