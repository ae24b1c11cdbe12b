package diametertest

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
)

// wiresharkProblem matches what tshark says of an AVP or message it cannot
// read as its dictionary (an independent reading of the 3GPP specifications)
// defines it.
var wiresharkProblem = regexp.MustCompile(`(?i)malformed|expert info|AVP: Unknown|bogus`)

// TsharkDecode hands msgs, as they serialize, to tshark (through text2pcap on
// TCP port 3868, tshark's Diameter port) and returns its verbose decoding.
// The test fails when tshark does not see exactly len(msgs) Diameter
// messages or reports anything malformed, unknown or flagged by its expert
// checks. Without tshark the test is skipped, except under CI (env CI set),
// where the binaries are installed and a skip would hide the check.
func TsharkDecode(t testing.TB, msgs ...*diam.Message) string {
	t.Helper()
	text2pcap, err1 := exec.LookPath("text2pcap")
	tshark, err2 := exec.LookPath("tshark")
	if err1 != nil || err2 != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tshark/text2pcap not installed, and CI is set: .ci/run installs them (Debian package tshark)")
		}
		t.Skip("tshark/text2pcap not installed (Debian package tshark)")
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
	for _, line := range strings.Split(text, "\n") {
		if wiresharkProblem.MatchString(line) {
			t.Errorf("tshark: %s", strings.TrimSpace(line))
		}
	}
	return text
}
