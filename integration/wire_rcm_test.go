package integration

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/diameter/diametertest"
	"github.com/rcmhss/rcmhss/diameter/rcmext"
	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/rcm"
)

// The RCM provisioning attach of the wire test (issue 5, RCM.md steps 1-3):
// a guest IMSI of the configured guest range, the well-known guest
// credential (TS 35.208 test set 1, as the README's demo), and one device of
// the vendor whose CA and TAC the node trusts.
const (
	wireGuestRange = "00101999"
	wireGuestIMSI  = wireGuestRange + "0000042"
	wireRCMTAC     = "35000001"
	wireRCMMME     = "mme-rcm." + wireRealm
	// wireRCMVendor is the Vendor-Id of the RCM AVPs, configs/rcmhss.yaml's
	// rcm.vendor_id, which dict/wireshark/rcmhss.xml names.
	wireRCMVendor = rcmext.DefaultVendorID
)

// The RCM AVP codes (dict/rcm.xml, docs/rcm-crypto.md section 1).
const (
	codeRCMBootstrapInfo = 32401
	codeRCMBindingInfo   = 32408
)

// TestWireDecodesRCM captures a provisioning attach with a real rcmhss on
// loopback (RCM on through RCMHSS_* variables, a PKI made by the test) and
// has Wireshark decode it with the emitted dictionary dict/wireshark: the
// vendor AVPs of the AIR (RCM-Bootstrap-Info) and of the AIA
// (RCM-Binding-Info) must be decoded by name, with no malformed frame, no
// expert error and no unknown AVP; the KASME Wireshark shows in the AIA must
// be the one the device derives (so the capture is of a real, successful
// attach). The same capture decoded without our dictionary must show those
// AVPs as unknown: the check can fail.
func TestWireDecodesRCM(t *testing.T) {
	tshark := lookTool(t, "tshark", "tshark")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// The PKI: vendor CA and device IMEI certificate (RFC 7254 URN), the
	// infrastructure root the device pins and the HSS RCM signing
	// certificate under it.
	pki, err := rcm.NewDemoPKI(time.Now(), 24*time.Hour, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	imei, err := rcm.ParseIMEI(wireRCMTAC + "123456" + string(rcm.LuhnCheckDigit(wireRCMTAC+"123456")))
	if err != nil {
		t.Fatal(err)
	}
	cred, err := pki.IssueDevice(imei)
	if err != nil {
		t.Fatal(err)
	}
	pkiDir := t.TempDir()
	if err := pki.Write(pkiDir, nil); err != nil {
		t.Fatal(err)
	}

	n := StartNode(t, NodeOptions{Env: map[string]string{
		"RCMHSS_RCM_ENABLED":           "true",
		"RCMHSS_RCM_GUEST_RANGES":      wireGuestRange,
		"RCMHSS_RCM_GUEST_K":           wireK,
		"RCMHSS_RCM_GUEST_OPC":         wireOPc,
		"RCMHSS_RCM_VENDOR_ID":         strconv.Itoa(wireRCMVendor),
		"RCMHSS_RCM_SIGNING_KEY_FILE":  filepath.Join(pkiDir, rcm.DemoHSSKeyFile),
		"RCMHSS_RCM_SIGNING_CERT_FILE": filepath.Join(pkiDir, rcm.DemoHSSCertFile),
		"RCMHSS_RCM_VENDOR_CA_FILES":   filepath.Join(pkiDir, rcm.DemoVendorCAFile),
		"RCMHSS_RCM_VENDOR_TACS":       wireRCMTAC,
	}})
	addr, ok := strings.CutPrefix(n.DiameterAddrs[0], "tcp://")
	if !ok {
		t.Fatalf("diameter listeners %v: no TCP", n.DiameterAddrs)
	}
	_, portText, _ := strings.Cut(addr, ":")
	port, err := strconv.Atoi(portText)
	if err != nil {
		t.Fatalf("listener %q: %v", addr, err)
	}

	capt := startCapture(ctx, t, port)
	s := &wireSession{t: t, node: n, addr: addr, peers: map[string]*diametertest.Peer{}}
	p := s.mme(wireRCMMME)
	visited, err := hss.PLMNFromBytes(wireHomePLMN)
	if err != nil {
		t.Fatal(err)
	}

	// Step 1-2: the device signs its bootstrap, the MME relays it in the AIR.
	dev, err := rcm.NewDeviceSession(cred)
	if err != nil {
		t.Fatal(err)
	}
	boot, err := dev.Bootstrap(wireGuestIMSI, visited, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	air := s6aRequest(p, cmdAIR, wireGuestIMSI, append(airBody(2, nil), encodeBootstrap(t, &boot))...)
	attach, err := s.exchange(ctx, p, air)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := diameter.ResultOf(attach.ans); r != diameter.Success {
		t.Fatalf("guest AIR: result %v, want 2001", r)
	}
	// The device side: authenticate the HSS against the pinned root and
	// derive KASME_bound of each vector from the guest AKA and its own
	// ephemeral key.
	proof, err := rcmext.DecodeBindingInfo(attach.ans, wireRCMVendor)
	if err != nil {
		t.Fatalf("AIA: %v", err)
	}
	bound := deviceKASMEs(t, dev, attach.ans, proof, pki, visited)
	if len(bound) != 2 {
		t.Fatalf("AIA carries %d vectors, want 2", len(bound))
	}

	// Step 3: the guest ULR with the certified IMEI gets the restricted
	// subscription.
	ulr := s6aRequest(p, cmdULR, wireGuestIMSI,
		tgppGroup(avp.TerminalInformation, tgpp(avp.IMEI, datatype.UTF8String(imei.TACSNR()))),
		tgpp(avp.RATType, datatype.Enumerated(1004)),
		tgpp(avp.ULRFlags, datatype.Unsigned32(uint32(hss.ULRS6aS6dIndicator|hss.ULRInitialAttach))),
		tgpp(avp.VisitedPLMNID, datatype.OctetString(wireHomePLMN)))
	update, err := s.exchange(ctx, p, ulr)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := diameter.ResultOf(update.ans); r != diameter.Success {
		t.Fatalf("guest ULR: result %v, want 2001", r)
	}

	// A refused guest AIR: the device signature does not verify
	// (docs/rcm-crypto.md section 7: DIAMETER_AUTHENTICATION_REJECTED 4001).
	forger, err := rcm.NewDeviceSession(cred)
	if err != nil {
		t.Fatal(err)
	}
	bad, err := forger.Bootstrap(wireGuestIMSI, visited, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	bad.Signature = bytes.Clone(bad.Signature)
	bad.Signature[len(bad.Signature)-1] ^= 0x01 // still DER, no longer the signature
	refused, err := s.exchange(ctx, p, s6aRequest(p, cmdAIR, wireGuestIMSI, append(airBody(1, nil), encodeBootstrap(t, &bad))...))
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := diameter.ResultOf(refused.ans); r.Code != diameter.CodeAuthenticationRejected {
		t.Fatalf("AIR with a bad signature: result %v, want 4001", r)
	}

	last := refused.ans
	if err := capt.waitFor(ctx, headerBytes(last), nil); err != nil {
		t.Fatal(err)
	}
	if err := capt.stop(ctx); err != nil {
		t.Fatalf("stop capture: %v", err)
	}

	// Decode with the emitted dictionary.
	ours, err := os.ReadFile(filepath.Join(repoRoot(t), "dict", "wireshark", "rcmhss.xml"))
	if err != nil {
		t.Fatal(err)
	}
	with := newWiresharkData(t, tshark, ours, capt.File)
	decodeArgs := []string{"-n", "-r", with.capture, "-d", fmt.Sprintf("tcp.port==%d,diameter", port)}
	pdml, err := with.run(ctx, tshark, append(decodeArgs, "-T", "pdml")...)
	if err != nil {
		t.Fatal(err)
	}
	packets, err := parsePDML(bytes.NewReader(pdml))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range wireProblems(packets) {
		t.Error(p)
	}
	msgs := indexWireMessages(packets)
	boundHex := make([]string, len(bound))
	for i, k := range bound {
		boundHex[i] = colonHex(k[:])
	}
	rows := []struct {
		name string
		x    wireExchange
		req  wireExpect
		ans  wireExpect
	}{
		{
			name: "guest AIR with bootstrap",
			x:    attach,
			req: wireExpect{
				values: map[string]string{
					"User-Name":                                   wireGuestIMSI,
					"RCM-Bootstrap-Info/RCM-Connection-Type":      "1", // PROVISIONING
					"RCM-Bootstrap-Info/RCM-IMEI":                 string(imei),
					"RCM-Bootstrap-Info/RCM-Timestamp":            strconv.FormatUint(boot.Timestamp, 10),
					"RCM-Bootstrap-Info/RCM-Device-Signature":     colonHex(boot.Signature),
					"RCM-Bootstrap-Info/RCM-Device-Ephemeral-Key": colonHex(boot.DeviceEphemeral),
					"RCM-Bootstrap-Info/RCM-Certificate-Chain":    colonHex(encodeChain(t, boot.CertChain)),
				},
				has:    []string{"Requested-EUTRAN-Authentication-Info/Number-Of-Requested-Vectors"},
				counts: map[string]int{"RCM-Bootstrap-Info": 1},
			},
			ans: wireExpect{
				values: map[string]string{
					"Result-Code":                                "2001",
					"RCM-Binding-Info/RCM-HSS-Ephemeral-Key":     colonHex(proof.HSSEphemeral),
					"RCM-Binding-Info/RCM-HSS-Signature":         colonHex(proof.Signature),
					"RCM-Binding-Info/RCM-HSS-Certificate-Chain": colonHex(encodeChain(t, proof.CertChain)),
				},
				has:    []string{"Authentication-Info/E-UTRAN-Vector/RAND", "Authentication-Info/E-UTRAN-Vector/AUTN"},
				counts: map[string]int{"RCM-Binding-Info": 1, "Authentication-Info/E-UTRAN-Vector/KASME": 2},
			},
		},
		{
			name: "guest ULR",
			x:    update,
			req:  wireExpect{values: map[string]string{"Terminal-Information/IMEI": imei.TACSNR()}},
			ans: wireExpect{
				values: map[string]string{"Result-Code": "2001",
					"Subscription-Data/APN-Configuration-Profile/APN-Configuration/Service-Selection": "rcm.provisioning"},
				has:    []string{"Subscription-Data/AMBR/Max-Requested-Bandwidth-UL", "Subscription-Data/AMBR/Max-Requested-Bandwidth-DL"},
				counts: map[string]int{"Subscription-Data/MSISDN": 0, "Subscription-Data/APN-Configuration-Profile/APN-Configuration": 1},
			},
		},
		{
			name: "guest AIR with a bad signature",
			x:    refused,
			req:  wireExpect{values: map[string]string{"RCM-Bootstrap-Info/RCM-Device-Signature": colonHex(bad.Signature)}},
			ans: wireExpect{
				values: map[string]string{"Result-Code": "4001"},
				counts: map[string]int{"Authentication-Info": 0, "RCM-Binding-Info": 0},
			},
		},
	}
	for _, row := range rows {
		for _, side := range []struct {
			what string
			m    *diam.Message
			want wireExpect
		}{{"request", row.x.req, row.req}, {"answer", row.x.ans, row.ans}} {
			key := wireKey{code: side.m.Header.CommandCode, request: side.what == "request", hbh: side.m.Header.HopByHopID, e2e: side.m.Header.EndToEndID}
			got, ok := msgs[key]
			if !ok {
				t.Errorf("%s: the %s (%s, hbh %#x) is not among the Diameter messages Wireshark decoded", row.name, side.what, wireCommandName(side.m), key.hbh)
				continue
			}
			if ps := expectProblems(got, side.want); len(ps) > 0 {
				t.Errorf("%s %s, as Wireshark decoded it:\n\t%s\n%s", row.name, side.what, strings.Join(ps, "\n\t"), got)
			}
		}
	}
	// The KASMEs on the wire are the device's KASME_bound, vector by vector.
	if aia, ok := msgs[wireKey{code: cmdAIR, hbh: attach.ans.Header.HopByHopID, e2e: attach.ans.Header.EndToEndID}]; ok {
		kasmes := aia.find("Authentication-Info/E-UTRAN-Vector/KASME")
		for i := range min(len(kasmes), len(boundHex)) {
			if kasmes[i].Show != boundHex[i] {
				t.Errorf("vector %d: Wireshark shows KASME %s, the device derives KASME_bound %s", i, kasmes[i].Show, boundHex[i])
			}
		}
	}
	expert, err := with.run(ctx, tshark, append(decodeArgs, "-q", "-z", "expert,error")...)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(expert, []byte("Errors (")) {
		t.Errorf("tshark -z expert,error reports errors:\n%s", expert)
	}
	if t.Failed() {
		t.Logf("tshark decoding of every Diameter message:\n%s", wireDump(packets))
	}

	// The control: the same capture, the same tshark, Wireshark's stock
	// dictionary (an empty Custom.xml). The vendor AVPs must be unknown,
	// or the checks above prove nothing about our dictionary.
	without := newWiresharkData(t, tshark, []byte(stockCustomXML), capt.File)
	pdml, err = without.run(ctx, tshark, "-n", "-r", without.capture, "-d", fmt.Sprintf("tcp.port==%d,diameter", port), "-T", "pdml")
	if err != nil {
		t.Fatal(err)
	}
	plain, err := parsePDML(bytes.NewReader(pdml))
	if err != nil {
		t.Fatal(err)
	}
	problems := strings.Join(wireProblems(plain), "\n")
	for _, c := range []struct {
		code uint32
		cmd  int
	}{{codeRCMBootstrapInfo, cmdAIR}, {codeRCMBindingInfo, cmdAIR}} {
		want := fmt.Sprintf("AVP unknown to Wireshark's dictionary: code %d vendor %d in command %d", c.code, wireRCMVendor, c.cmd)
		if !strings.Contains(problems, want) {
			t.Errorf("without dict/wireshark, tshark does not report code %d as unknown; problems:\n%s", c.code, problems)
		}
	}
	for _, p := range plain {
		for _, m := range p.Diameter {
			m.walk(func(path string, a *wireAVP) {
				if strings.HasPrefix(a.Name, "RCM-") {
					t.Errorf("without dict/wireshark, tshark still names %s in frame %d", path, m.Frame)
				}
			})
		}
	}
}

// encodeBootstrap is RCM-Bootstrap-Info as the MME relays it.
func encodeBootstrap(t *testing.T, b *rcm.Bootstrap) *diam.AVP {
	t.Helper()
	a, err := rcmext.EncodeBootstrap(b, wireRCMVendor)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// colonHex is how Wireshark shows an OctetString: hex octets joined by ":".
func colonHex(b []byte) string {
	h := hex.EncodeToString(b)
	var out strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			out.WriteByte(':')
		}
		out.WriteString(h[i : i+2])
	}
	return out.String()
}

// encodeChain is a certificate chain as RCM-*-Certificate-Chain carries it
// (docs/rcm-crypto.md section 1).
func encodeChain(t *testing.T, chain [][]byte) []byte {
	t.Helper()
	b, err := rcm.EncodeCertChain(chain)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// deviceKASMEs plays the device on the AIA: it checks the HSS proof against
// the pinned root, runs the guest USIM on each vector (AUTN must verify with
// the guest K/OPc) and derives KASME_bound, which must be the KASME the AIA
// carries and must differ from KASME_guest.
func deviceKASMEs(t *testing.T, dev *rcm.DeviceSession, aia *diam.Message, proof *rcm.BindingProof, pki *rcm.DemoPKI, serving hss.PLMN) [][32]byte {
	t.Helper()
	k, err := hss.ParseKey(wireK)
	if err != nil {
		t.Fatal(err)
	}
	opc, err := hss.ParseKey(wireOPc)
	if err != nil {
		t.Fatal(err)
	}
	usim := rcm.USIM{K: k, OPc: opc}
	var out [][32]byte
	for i, v := range aiaVectors(t, aia) {
		var rnd [16]byte
		copy(rnd[:], v[avp.RAND])
		_, guest, err := usim.Authenticate(rnd, v[avp.AUTN], serving)
		if err != nil {
			t.Fatalf("vector %d: the guest USIM rejects the network: %v", i, err)
		}
		kb, err := dev.Finish(proof.HSSEphemeral, proof.Signature, proof.CertChain, pki.PinnedRoots(), guest, rnd)
		if err != nil {
			t.Fatalf("vector %d: the device does not accept the HSS: %v", i, err)
		}
		if !bytes.Equal(v[avp.KASME], kb[:]) {
			t.Errorf("vector %d: AIA KASME %x is not the device's KASME_bound %x", i, v[avp.KASME], kb)
		}
		if kb == guest {
			t.Errorf("vector %d: KASME_bound equals KASME_guest", i)
		}
		out = append(out, kb)
	}
	return out
}

// aiaVectors reads the members of each E-UTRAN-Vector of an AIA (TS 29.272
// 7.3.18), by AVP code.
func aiaVectors(t *testing.T, aia *diam.Message) []map[uint32][]byte {
	t.Helper()
	var out []map[uint32][]byte
	for _, ai := range aia.AVP {
		if ai.Code != avp.AuthenticationInfo || ai.VendorID != wire3GPP {
			continue
		}
		g, ok := ai.Data.(*diam.GroupedAVP)
		if !ok {
			t.Fatalf("Authentication-Info is %T, not grouped", ai.Data)
		}
		for _, v := range g.AVP {
			if v.Code != avp.EUTRANVector {
				continue
			}
			vg, ok := v.Data.(*diam.GroupedAVP)
			if !ok {
				t.Fatalf("E-UTRAN-Vector is %T, not grouped", v.Data)
			}
			m := map[uint32][]byte{}
			for _, f := range vg.AVP {
				if b, ok := f.Data.(datatype.OctetString); ok {
					m[f.Code] = []byte(b)
				}
			}
			out = append(out, m)
		}
	}
	return out
}

// stockCustomXML is Wireshark's own diameter/Custom.xml: it defines nothing.
const stockCustomXML = `<?xml version="1.0" encoding="utf-8"?>
<!-- no custom AVPs -->
`

// wiresharkData is a Wireshark data directory whose diameter/Custom.xml is
// chosen by the test, with a copy of the capture that tshark may read.
type wiresharkData struct {
	dir, capture string
}

// newWiresharkData mirrors the system data directory with custom as
// diameter/Custom.xml (which diameter/dictionary.xml includes) and copies
// the capture into it. tshark 4.0 reads the Diameter dictionary only from
// its data directory, which WIRESHARK_DATA_DIR overrides for unprivileged
// users only; run drops to nobody when the test runs as root, so the
// directory is world-readable and outside t.TempDir() (whose 0700 parent
// nobody cannot enter).
func newWiresharkData(t *testing.T, tshark string, custom []byte, capture string) *wiresharkData {
	t.Helper()
	sys := "/usr/share/wireshark"
	if b, err := exec.Command(tshark, "-G", "folders").Output(); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "Global configuration" {
				sys = strings.TrimSpace(v)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(sys, "diameter", "dictionary.xml")); err != nil {
		t.Fatalf("no Wireshark Diameter dictionary in %s: %v", sys, err)
	}
	data, err := os.MkdirTemp("", "rcmhss-wireshark-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(data) })
	entries, err := os.ReadDir(sys)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "diameter" {
			if err := os.Symlink(filepath.Join(sys, e.Name()), filepath.Join(data, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	dd := filepath.Join(data, "diameter")
	if err := os.Mkdir(dd, 0o755); err != nil {
		t.Fatal(err)
	}
	if entries, err = os.ReadDir(filepath.Join(sys, "diameter")); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(sys, "diameter", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() == "Custom.xml" {
			b = custom
		}
		if err := os.WriteFile(filepath.Join(dd, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// An empty personal configuration, so that a developer's preferences
	// cannot change the outcome.
	if err := os.Mkdir(filepath.Join(data, "config"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(capture)
	if err != nil {
		t.Fatal(err)
	}
	w := &wiresharkData{dir: data, capture: filepath.Join(data, "capture.pcapng")}
	if err := os.WriteFile(w.capture, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(data, 0o755); err != nil {
		t.Fatal(err)
	}
	return w
}

// run runs tshark with this data directory within ctx and returns its
// stdout; stderr is in the error.
func (w *wiresharkData) run(ctx context.Context, tshark string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, tshark, args...)
	cmd.Env = append(os.Environ(), "WIRESHARK_DATA_DIR="+w.dir, "WIRESHARK_CONFIG_DIR="+filepath.Join(w.dir, "config"), "HOME="+w.dir)
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w\n%s", filepath.Base(tshark), strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}
