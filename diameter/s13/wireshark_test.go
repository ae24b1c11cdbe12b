package s13

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
	diamdict "github.com/fiorix/go-diameter/v4/diam/dict"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/hss/memstore"
)

// TestWiresharkDecodes hands ECRs and the ECAs the plugin builds (listed,
// unknown, malformed) to tshark, an independent reading of TS 29.272.
func TestWiresharkDecodes(t *testing.T) {
	text2pcap, err1 := exec.LookPath("text2pcap")
	tshark, err2 := exec.LookPath("tshark")
	if err1 != nil || err2 != nil {
		t.Skip("tshark/text2pcap not installed")
	}
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
	txt, pcap := filepath.Join(dir, "s13.txt"), filepath.Join(dir, "s13.pcap")
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
	out, err := exec.CommandContext(ctx, tshark, "-n", "-r", pcap, "-V").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
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
	for _, want := range []string{"ME-Identity-Check (324)", "Terminal-Information(1401)", "IMEI(1402)", "Software-Version(1403)",
		"Equipment-Status(1445)", "BLACKLISTED (1)", "Experimental-Result-Code(298)", "Failed-AVP(279)"} {
		if !strings.Contains(text, want) {
			t.Errorf("tshark output lacks %q", want)
		}
	}
}
