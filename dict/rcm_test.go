package dict_test

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	diamdict "github.com/fiorix/go-diameter/v4/diam/dict"

	"github.com/rcmhss/rcmhss/dict"
	"github.com/rcmhss/rcmhss/rcm"
)

// RCM AVP codes and vendor of docs/rcm-crypto.md section 1.
const (
	rcmVendor            = 32473
	rcmBootstrapInfo     = 32401
	rcmConnectionType    = 32402
	rcmIMEI              = 32403
	rcmCertificateChain  = 32404
	rcmDeviceEphemeral   = 32405
	rcmTimestamp         = 32406
	rcmDeviceSignature   = 32407
	rcmBindingInfo       = 32408
	rcmHSSEphemeral      = 32409
	rcmHSSSignature      = 32410
	rcmHSSCertificateChn = 32411
	s6aAppID             = 16777251
	cmdAIR               = 318
)

func loadedParser(t *testing.T) *diamdict.Parser {
	t.Helper()
	if err := dict.Default(); err != nil {
		t.Fatalf("dict.Default: %v", err)
	}
	return diamdict.Default
}

// rcmAIR builds an S6a AIR for a guest IMSI carrying RCM-Bootstrap-Info.
func rcmAIR(t *testing.T, p *diamdict.Parser) (*diam.Message, []byte) {
	t.Helper()
	chain, err := rcm.EncodeCertChain([][]byte{[]byte("device certificate"), []byte("intermediate")})
	if err != nil {
		t.Fatal(err)
	}
	eph := append([]byte{4}, bytes.Repeat([]byte{0xab}, 64)...)
	m := diam.NewRequest(cmdAIR, s6aAppID, p)
	m.NewAVP(avp.SessionID, avp.Mbit, 0, datatype.UTF8String("mme.epc;1;rcm"))
	m.NewAVP(avp.UserName, avp.Mbit, 0, datatype.UTF8String("001019990000001"))
	m.NewAVP(rcmBootstrapInfo, avp.Vbit, rcmVendor, &diam.GroupedAVP{AVP: []*diam.AVP{
		diam.NewAVP(rcmConnectionType, avp.Vbit, rcmVendor, datatype.Enumerated(rcm.ConnectionProvisioning)),
		diam.NewAVP(rcmIMEI, avp.Vbit, rcmVendor, datatype.UTF8String("490154203237518")),
		diam.NewAVP(rcmCertificateChain, avp.Vbit, rcmVendor, datatype.OctetString(chain)),
		diam.NewAVP(rcmDeviceEphemeral, avp.Vbit, rcmVendor, datatype.OctetString(eph)),
		diam.NewAVP(rcmTimestamp, avp.Vbit, rcmVendor, datatype.Unsigned64(1767225600)),
		diam.NewAVP(rcmDeviceSignature, avp.Vbit, rcmVendor, datatype.OctetString([]byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01})),
	}})
	m.NewAVP(rcmBindingInfo, avp.Vbit, rcmVendor, &diam.GroupedAVP{AVP: []*diam.AVP{
		diam.NewAVP(rcmHSSEphemeral, avp.Vbit, rcmVendor, datatype.OctetString(eph)),
		diam.NewAVP(rcmHSSSignature, avp.Vbit, rcmVendor, datatype.OctetString([]byte{0x30, 0x00})),
		diam.NewAVP(rcmHSSCertificateChn, avp.Vbit, rcmVendor, datatype.OctetString(chain)),
	}})
	b, err := m.Serialize()
	if err != nil {
		t.Fatalf("serialize: %v", err)
	}
	return m, b
}

func TestRCMDictionaryDecodes(t *testing.T) {
	p := loadedParser(t)
	_, wire := rcmAIR(t, p)
	m, err := diam.ReadMessage(bytes.NewReader(wire), p)
	if err != nil {
		t.Fatalf("ReadMessage: %v", err)
	}
	// User-Name (code 1, no vendor) still resolves to the base AVP in S6a.
	un, err := m.FindAVP(avp.UserName, 0)
	if err != nil || un.Data.(datatype.UTF8String) != "001019990000001" {
		t.Fatalf("User-Name = %v, %v", un, err)
	}
	bi, err := m.FindAVP(rcmBootstrapInfo, rcmVendor)
	if err != nil {
		t.Fatalf("RCM-Bootstrap-Info: %v", err)
	}
	g, ok := bi.Data.(*diam.GroupedAVP)
	if !ok {
		t.Fatalf("RCM-Bootstrap-Info decoded as %T, want grouped", bi.Data)
	}
	want := map[uint32]string{
		rcmConnectionType: "Enumerated", rcmIMEI: "UTF8String", rcmCertificateChain: "OctetString",
		rcmDeviceEphemeral: "OctetString", rcmTimestamp: "Unsigned64", rcmDeviceSignature: "OctetString",
	}
	for _, a := range g.AVP {
		if a.VendorID != rcmVendor || a.Flags&avp.Vbit == 0 || a.Flags&avp.Mbit != 0 {
			t.Errorf("AVP %d: vendor %d flags %#x", a.Code, a.VendorID, a.Flags)
		}
		d, err := p.FindAVPWithVendor(s6aAppID, a.Code, rcmVendor)
		if err != nil {
			t.Fatalf("AVP %d not in the dictionary: %v", a.Code, err)
		}
		if d.Data.TypeName != want[a.Code] {
			t.Errorf("%s: type %s, want %s", d.Name, d.Data.TypeName, want[a.Code])
		}
		delete(want, a.Code)
	}
	if len(want) != 0 {
		t.Fatalf("missing from the grouped AVP: %v", want)
	}
	for _, name := range []string{"RCM-Bootstrap-Info", "RCM-Binding-Info", "RCM-HSS-Certificate-Chain", "RCM-Timestamp"} {
		if _, err := p.FindAVP(s6aAppID, name); err != nil {
			t.Errorf("FindAVP(S6a, %s): %v", name, err)
		}
	}
}

// TestWiresharkDictionaryDecodesRCM writes the AIR above into a pcap and has
// tshark, with dict/wireshark/rcmhss.xml as its Custom.xml, decode it.
func TestWiresharkDictionaryDecodesRCM(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tshark not installed, and CI is set: .ci/run installs it (Debian package tshark)")
		}
		t.Skip("tshark not installed: the Wireshark dictionary is not checked (CI installs it)")
	}
	sys := "/usr/share/wireshark/diameter"
	if _, err := os.Stat(filepath.Join(sys, "dictionary.xml")); err != nil {
		t.Fatalf("tshark is installed but its diameter dictionary is not in %s: %v", sys, err)
	}
	// tshark reads the Diameter dictionary only from its data directory,
	// which WIRESHARK_DATA_DIR overrides (ignored when running as root, so the
	// test drops to nobody then). The directory mirrors the system one with
	// our dictionary as diameter/Custom.xml, which dictionary.xml includes.
	data, err := os.MkdirTemp("", "rcm-wireshark-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(data) })
	root := filepath.Dir(sys)
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "diameter" {
			if err := os.Symlink(filepath.Join(root, e.Name()), filepath.Join(data, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	dd := filepath.Join(data, "diameter")
	if err := os.Mkdir(dd, 0o755); err != nil {
		t.Fatal(err)
	}
	if entries, err = os.ReadDir(sys); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(sys, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dd, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ours, err := os.ReadFile("wireshark/rcmhss.xml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dd, "Custom.xml"), ours, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(data, 0o755); err != nil {
		t.Fatal(err)
	}

	_, wire := rcmAIR(t, loadedParser(t))
	pcap := filepath.Join(data, "air.pcap")
	if err := os.WriteFile(pcap, pcapOf(wire), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tshark, "-n", "-r", pcap, "-V", "-Y", "diameter")
	cmd.Env = append(os.Environ(), "WIRESHARK_DATA_DIR="+data, "HOME="+data)
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{
		"RCM-Bootstrap-Info",
		"RCM-Connection-Type: PROVISIONING (1)",
		"RCM-IMEI: 490154203237518",
		"RCM-Certificate-Chain: 00000012",
		"RCM-Timestamp: 1767225600",
		"RCM-Device-Ephemeral-Key: 04abab",
		"RCM-Device-Signature",
		"RCM-Binding-Info",
		"RCM-HSS-Ephemeral-Key",
		"RCM-HSS-Signature",
		"RCM-HSS-Certificate-Chain",
		"f=V-- vnd=rcmhss",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("tshark output lacks %q", want)
		}
	}
	if strings.Contains(text, "Unknown AVP") {
		t.Error("tshark reports an unknown AVP")
	}
	if t.Failed() {
		t.Logf("tshark output:\n%s", text)
	}
}

// pcapOf wraps one Diameter message in a raw-IPv4 (LINKTYPE_RAW 101) pcap
// record: 10.0.0.1:40000 -> 10.0.0.2:3868, TCP PSH|ACK.
func pcapOf(diameter []byte) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	hdr := make([]byte, 24)
	le.PutUint32(hdr[0:], 0xa1b2c3d4)
	le.PutUint16(hdr[4:], 2)
	le.PutUint16(hdr[6:], 4)
	le.PutUint32(hdr[16:], 65535)
	le.PutUint32(hdr[20:], 101)
	b.Write(hdr)

	tcp := make([]byte, 20)
	binary.BigEndian.PutUint16(tcp[0:], 40000)
	binary.BigEndian.PutUint16(tcp[2:], 3868)
	binary.BigEndian.PutUint32(tcp[4:], 1)
	binary.BigEndian.PutUint32(tcp[8:], 1)
	tcp[12] = 5 << 4
	tcp[13] = 0x18 // PSH, ACK
	binary.BigEndian.PutUint16(tcp[14:], 65535)
	ip := make([]byte, 20)
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+20+len(diameter)))
	ip[8] = 64
	ip[9] = 6
	copy(ip[12:], []byte{10, 0, 0, 1})
	copy(ip[16:], []byte{10, 0, 0, 2})
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))

	pkt := append(append(ip, tcp...), diameter...)
	rec := make([]byte, 16)
	le.PutUint32(rec[0:], 1767225600)
	le.PutUint32(rec[8:], uint32(len(pkt)))
	le.PutUint32(rec[12:], uint32(len(pkt)))
	b.Write(rec)
	b.Write(pkt)
	return b.Bytes()
}

// TestRCMDictionaryMatchesDoc checks the AVP table of docs/rcm-crypto.md
// against the loaded dictionary: same names, codes, types and vendor.
func TestRCMDictionaryMatchesDoc(t *testing.T) {
	p := loadedParser(t)
	doc, err := os.ReadFile("../docs/rcm-crypto.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(doc), "\n") {
		cols := strings.Split(line, "|")
		if len(cols) < 5 || !strings.HasPrefix(strings.TrimSpace(cols[1]), "RCM-") {
			continue
		}
		name, code, typ := strings.TrimSpace(cols[1]), strings.TrimSpace(cols[2]), strings.TrimSpace(cols[3])
		d, err := p.FindAVPWithVendor(0, name, rcmVendor)
		if err != nil {
			t.Errorf("%s: not in dict/rcm.xml: %v", name, err)
			continue
		}
		if got := strconv.FormatUint(uint64(d.Code), 10); got != code || d.Data.TypeName != typ || d.VendorID != rcmVendor {
			t.Errorf("%s: dictionary has code %s type %s vendor %d, doc says %s %s", name, got, d.Data.TypeName, d.VendorID, code, typ)
		}
		n++
	}
	if n != 11 {
		t.Fatalf("found %d RCM AVP rows in the doc, want 11", n)
	}
}
