package swx

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/hss/memstore"
)

// tsharkDecode hands msgs to tshark, an independent reading of TS 29.273
// and TS 29.229, and returns its verbose text after checking that every
// message was seen and nothing was malformed, unknown or flagged.
func tsharkDecode(t *testing.T, msgs []*diam.Message) string {
	t.Helper()
	text2pcap, err1 := exec.LookPath("text2pcap")
	tshark, err2 := exec.LookPath("tshark")
	if err1 != nil || err2 != nil {
		t.Skip("tshark/text2pcap not installed")
	}
	var dump strings.Builder
	for _, m := range msgs {
		b, err := m.Serialize()
		if err != nil {
			t.Fatal(err)
		}
		for off := 0; off < len(b); off += 16 {
			fmt.Fprintf(&dump, "%06x", off)
			for _, c := range b[off:min(off+16, len(b))] {
				fmt.Fprintf(&dump, " %02x", c)
			}
			dump.WriteByte('\n')
		}
	}
	dir := t.TempDir()
	txt, pcap := filepath.Join(dir, "msgs.txt"), filepath.Join(dir, "msgs.pcap")
	if err := os.WriteFile(txt, []byte(dump.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	// tshark loads every dissector before it reads a byte: seconds on a
	// busy machine, so it gets its own bound rather than a request's.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, text2pcap, "-q", "-T", "3868,3868", txt, pcap).CombinedOutput(); err != nil {
		t.Fatalf("text2pcap: %v\n%s", err, out)
	}
	cmd := exec.CommandContext(ctx, tshark, "-n", "-r", pcap, "-V")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, stderr.String())
	}
	text := string(out)
	if n := strings.Count(text, "Diameter Protocol"); n != len(msgs) {
		t.Fatalf("tshark saw %d Diameter messages, want %d", n, len(msgs))
	}
	bad := regexp.MustCompile(`(?i)malformed|expert info|AVP: Unknown|bogus`)
	for _, line := range strings.Split(text, "\n") {
		if bad.MatchString(line) {
			t.Errorf("tshark: %s", strings.TrimSpace(line))
		}
	}
	return text
}

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

	text := tsharkDecode(t, []*diam.Message{mar, maa, maaAKA, sar, saa, already, ppr, rtr})
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
