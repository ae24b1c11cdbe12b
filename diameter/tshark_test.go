package diameter_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
)

// rawExchange writes b on nc and returns the next frame read from br.
func rawExchange(t *testing.T, nc net.Conn, br *bufio.Reader, b []byte) []byte {
	t.Helper()
	if _, err := nc.Write(b); err != nil {
		t.Fatal(err)
	}
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	hdr := make([]byte, 20)
	if _, err := io.ReadFull(br, hdr); err != nil {
		t.Fatal(err)
	}
	n := int(hdr[1])<<16 | int(hdr[2])<<8 | int(hdr[3])
	frame := make([]byte, n)
	copy(frame, hdr)
	if _, err := io.ReadFull(br, frame[20:]); err != nil {
		t.Fatal(err)
	}
	return frame
}

// TestWireFormatDecodedByTshark has Wireshark's Diameter dissector, an
// independent decoder, read what the server writes: the CEA, an answer
// with Proxy-Info, and a 5014 answer with Failed-AVP.
func TestWireFormatDecodedByTshark(t *testing.T) {
	tshark, err1 := exec.LookPath("tshark")
	text2pcap, err2 := exec.LookPath("text2pcap")
	if err1 != nil || err2 != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tshark or text2pcap not installed, and CI is set: .ci/run installs them (Debian package tshark)")
		}
		t.Skip("tshark or text2pcap not installed (Debian package tshark)")
	}
	f := startServer(t, nil, nil)
	nc, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	br := bufio.NewReader(nc)

	cer := diam.NewRequest(257, 0, nil)
	cer.NewAVP(avp.OriginHost, avp.Mbit, 0, datatype.DiameterIdentity("mme1.test"))
	cer.NewAVP(avp.OriginRealm, avp.Mbit, 0, datatype.DiameterIdentity("mme.realm"))
	cer.NewAVP(avp.HostIPAddress, avp.Mbit, 0, datatype.Address(net.ParseIP("127.0.0.1").To4()))
	cer.NewAVP(avp.VendorID, avp.Mbit, 0, datatype.Unsigned32(0))
	cer.NewAVP(avp.ProductName, 0, 0, datatype.UTF8String("raw"))
	cer.NewAVP(avp.AuthApplicationID, avp.Mbit, 0, datatype.Unsigned32(s6aID))
	cerB, _ := cer.Serialize()
	cea := rawExchange(t, nc, br, cerB)

	req := diam.NewRequest(cmdAIR, s6aID, nil)
	req.Header.CommandFlags |= diam.ProxiableFlag
	req.NewAVP(avp.SessionID, avp.Mbit, 0, datatype.UTF8String("mme1.test;1;1"))
	req.NewAVP(avp.AuthSessionState, avp.Mbit, 0, datatype.Enumerated(1))
	req.NewAVP(avp.OriginHost, avp.Mbit, 0, datatype.DiameterIdentity("mme1.test"))
	req.NewAVP(avp.OriginRealm, avp.Mbit, 0, datatype.DiameterIdentity("mme.realm"))
	req.NewAVP(avp.DestinationRealm, avp.Mbit, 0, datatype.DiameterIdentity(realm))
	req.NewAVP(avp.UserName, avp.Mbit, 0, datatype.UTF8String("001010000000001"))
	req.NewAVP(avp.VisitedPLMNID, avp.Mbit|avp.Vbit, 10415, datatype.OctetString([]byte{0, 0xf1, 0x10}))
	req.AddAVP(proxyInfo("dra.test", "state"))
	reqB, _ := req.Serialize()
	aia := rawExchange(t, nc, br, reqB)

	bad := withAppended(t, req, avpBytes(avp.UserName, avp.Mbit, 100, []byte("0010")))
	bad[15]++ // another Hop-by-Hop id
	bad[19]++
	badAns := rawExchange(t, nc, br, bad)

	// text2pcap: one packet per message, hex dump with offsets.
	var sb strings.Builder
	for _, b := range [][]byte{cea, aia, badAns} {
		for off := 0; off < len(b); off += 16 {
			fmt.Fprintf(&sb, "%06x", off)
			for _, c := range b[off:min(off+16, len(b))] {
				fmt.Fprintf(&sb, " %02x", c)
			}
			sb.WriteByte('\n')
		}
	}
	dir := t.TempDir()
	txt, pcap := filepath.Join(dir, "in.txt"), filepath.Join(dir, "out.pcap")
	if err := os.WriteFile(txt, []byte(sb.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, text2pcap, "-q", "-T", "3868,40000", txt, pcap).CombinedOutput(); err != nil {
		t.Fatalf("text2pcap: %v\n%s", err, out)
	}
	out, err := exec.CommandContext(ctx, tshark, "-r", pcap, "-T", "fields", "-E", "separator=|",
		"-e", "diameter.cmd.code", "-e", "diameter.flags.error", "-e", "diameter.Result-Code",
		"-e", "diameter.Auth-Application-Id", "-e", "diameter.Supported-Vendor-Id",
		"-e", "diameter.Proxy-Host", "-e", "diameter.Failed-AVP", "-e", "_ws.expert.message").Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 3 {
		t.Fatalf("tshark decoded %d packets:\n%s", len(lines), out)
	}
	t.Logf("tshark:\n%s", out)
	check := func(i int, field int, want string) {
		t.Helper()
		cols := strings.Split(lines[i], "|")
		if field >= len(cols) || !strings.Contains(cols[field], want) {
			t.Errorf("packet %d field %d = %q, want %q (line %q)", i, field, cols[min(field, len(cols)-1)], want, lines[i])
		}
	}
	check(0, 0, "257")
	check(0, 2, "2001")
	check(0, 3, fmt.Sprint(s6aID))
	check(0, 4, "10415")
	check(1, 0, "318")
	check(1, 2, "2001")
	check(1, 5, "dra.test")
	check(2, 2, "5014")
	for i, l := range lines {
		cols := strings.Split(l, "|")
		if exp := cols[len(cols)-1]; strings.Contains(strings.ToLower(exp), "malformed") || strings.Contains(strings.ToLower(exp), "error") {
			t.Errorf("packet %d: tshark expert info %q", i, exp)
		}
	}
	if cols := strings.Split(lines[2], "|"); cols[6] == "" {
		t.Errorf("5014 answer without Failed-AVP in tshark's view: %q", lines[2])
	}
}
