package swx

import (
	"context"
	"strings"
	"testing"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/diameter/diametertest"
	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/hss/memstore"
)

// TestWiresharkDecodes: MAR, MAA (EAP-AKA and EAP-AKA'), SAR, SAA with
// Non-3GPP-User-Data, the answer naming the registered AAA server, PPR and
// RTR as the plugin builds them.
func TestWiresharkDecodes(t *testing.T) {
	store := memstore.New(hss.NewPlaintextSealer())
	h, err := hss.New(hss.DefaultConfig(), store)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.CreateSubscriber(context.Background(), testSubscriber(testIMSI)); err != nil {
		t.Fatal(err)
	}
	p := New(Config{OriginHost: hssHost, OriginRealm: hssRealm}, h, nil, nil)
	do := func(req *diam.Message) *diam.Message {
		in := wire(t, req)
		origin, _ := diameter.AVPOctets(find(in.AVP, avp.OriginHost, 0))
		ans := p.Commands()[in.Header.CommandCode].ServeDiameter(context.Background(),
			&diameter.Request{Msg: in, Peer: diameter.PeerInfo{OriginHost: origin, OriginRealm: aaaRealm}})
		return wire(t, ans)
	}
	mar := marRequest(aaa1, naiAKAPri, SchemeEAPAKAPrime, 2, wlanANID)
	maa := do(mar)
	maaAKA := do(marRequest(aaa1, naiAKA, SchemeEAPAKA, 1, ""))
	sar := sarRequest(aaa1, naiAKA, hss.SARegistration)
	saa := do(sar)
	already := do(marRequest(aaa2, testIMSI, SchemeEAPAKA, 1, ""))
	reg := &hss.AAARegistration{ServerName: aaa1, Realm: aaaRealm}
	d := hss.Non3GPPData(testSubscriber(testIMSI))
	ppr := p.newRequest(cmdPushProfile, testIMSI, reg)
	ppr.AddAVP(non3GPPUserData(&d))
	rtr := p.newRequest(cmdRegistrationTermination, testIMSI, reg)
	rtr.AddAVP(grp(codeDeregistrationReason, enum(codeReasonCode, int32(reasonPermanentTerm))))

	text := diametertest.TsharkDecode(t, mar, maa, maaAKA, sar, saa, already, ppr, rtr)
	for _, want := range []string{
		"Multimedia-Auth (303)", "Server-Assignment (301)", "Push-Profile (305)", "Registration-Termination (304)",
		"SIP-Auth-Data-Item(612)", "SIP-Authentication-Scheme(608)", "SIP-Authenticate(609)", "SIP-Authorization(610)",
		"Confidentiality-Key(625)", "Integrity-Key(626)", "SIP-Number-Auth-Items(607)", "ANID(1504)",
		"EAP-AKA'", "Server-Assignment-Type(614)", "Non-3GPP-User-Data(1500)", "Non-3GPP-IP-Access(1501)",
		"Non-3GPP-IP-Access-APN(1502)", "APN-Configuration(1430)", "Subscription-Id(443)",
		"3GPP-AAA-Server-Name(318)", "Deregistration-Reason(615)", "Reason-Code(616)", "Experimental-Result-Code(298)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("tshark output lacks %q", want)
		}
	}
}
