package s6a

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

	"github.com/rcmhss/rcmhss/hss"
)

// TestWiresharkDecodes hands the messages the plugin builds to tshark, whose
// 3GPP dictionary is an independent reading of TS 29.272: every AVP must be
// known to it and nothing may be malformed or flagged by its expert checks.
func TestWiresharkDecodes(t *testing.T) {
	text2pcap, err1 := exec.LookPath("text2pcap")
	tshark, err2 := exec.LookPath("tshark")
	if err1 != nil || err2 != nil {
		t.Skip("tshark/text2pcap not installed")
	}
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
	var dump strings.Builder
	for _, m := range msgs {
		b := serialize(t, m)
		for off := 0; off < len(b); off += 16 {
			fmt.Fprintf(&dump, "%06x", off)
			for _, c := range b[off:min(off+16, len(b))] {
				fmt.Fprintf(&dump, " %02x", c)
			}
			dump.WriteByte('\n')
		}
	}
	dir := t.TempDir()
	txt, pcap := filepath.Join(dir, "s6a.txt"), filepath.Join(dir, "s6a.pcap")
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
	// 3868 is tshark's default Diameter port.
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
	for _, want := range []string{"Subscription-Data(1400)", "APN-Configuration(1430)", "E-UTRAN-Vector(1414)", "UTRAN-Vector(1415)",
		"Experimental-Result-Code(298)", "Cancellation-Type(1420) l=16 f=VM- vnd=TGPP val=SUBSCRIPTION_WITHDRAWAL (2)",
		"DSR-Flags(1421)", "Insert-Subscriber-Data (319)", "Delete-Subscriber-Data (320)", "Cancel-Location (317)"} {
		if !strings.Contains(text, want) {
			t.Errorf("tshark output lacks %q", want)
		}
	}
}
