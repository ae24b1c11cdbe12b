package rcm

import (
	"bufio"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"github.com/rcmhss/rcmhss/hss"
)

var printVectors = flag.Bool("vectors.print", false, "print the computed test vectors of docs/rcm-crypto.md (with fresh signatures)")

const cryptoDoc = "../docs/rcm-crypto.md"

// readVectors parses the block between <!-- vectors:begin --> and <!--
// vectors:end --> of docs/rcm-crypto.md: "name = value" lines, where a line
// starting with spaces continues the previous value.
func readVectors(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(cryptoDoc)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v := map[string]string{}
	in, last := false, ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.Contains(line, "<!-- vectors:begin -->"):
			in = true
		case strings.Contains(line, "<!-- vectors:end -->"):
			in = false
		case !in || strings.HasPrefix(line, "```") || strings.TrimSpace(line) == "":
		case strings.HasPrefix(line, " "):
			v[last] += strings.TrimSpace(line)
		default:
			name, val, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("vector line without '=': %q", line)
			}
			last = strings.TrimSpace(name)
			v[last] = strings.TrimSpace(val)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return v
}

func unhex(t *testing.T, v map[string]string, name string) []byte {
	t.Helper()
	s, ok := v[name]
	if !ok {
		t.Fatalf("docs/rcm-crypto.md: no vector %q", name)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("vector %s: %v", name, err)
	}
	return b
}

// TestVectors recomputes every derived value of the document's test vectors
// from its inputs, and verifies its sample signatures.
func TestVectors(t *testing.T) {
	v := readVectors(t)
	guest := hss.IMSI(v["guest_imsi"])
	visited := hss.PLMN(unhex(t, v, "visited_plmn_id"))
	devSig, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), unhex(t, v, "device_cert_key"))
	if err != nil {
		t.Fatal(err)
	}
	hssSig, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), unhex(t, v, "hss_rcm_key"))
	if err != nil {
		t.Fatal(err)
	}
	devEph, err := ecdh.P256().NewPrivateKey(unhex(t, v, "device_ephemeral_private"))
	if err != nil {
		t.Fatal(err)
	}
	hssEph, err := ecdh.P256().NewPrivateKey(unhex(t, v, "hss_ephemeral_private"))
	if err != nil {
		t.Fatal(err)
	}
	var ts uint64
	if _, err := fmt.Sscan(v["timestamp"], &ts); err != nil {
		t.Fatalf("timestamp: %v", err)
	}
	b := Bootstrap{
		ConnectionType:  ConnectionProvisioning,
		IMEI:            IMEI(v["imei"]),
		CertChain:       [][]byte{unhex(t, v, "device_certificate")},
		DeviceEphemeral: devEph.PublicKey().Bytes(),
		Timestamp:       ts,
	}
	transcript := Transcript(guest, visited, &b)
	th := sha256.Sum256(transcript)
	z, err := hssEph.ECDH(devEph.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	zDev, _ := devEph.ECDH(hssEph.PublicKey())
	if hex.EncodeToString(z) != hex.EncodeToString(zDev) {
		t.Fatal("ECDH is not symmetric")
	}
	kasmeGuest := [32]byte(unhex(t, v, "kasme_guest"))
	rnd := [16]byte(unhex(t, v, "rand"))
	// KASME_guest is the TS 33.401 A.2 KASME of the guest vector (TS 35.208
	// test set 1 material), as the HSS and the device compute it.
	var sqn uint64
	for _, c := range unhex(t, v, "sqn") {
		sqn = sqn<<8 | uint64(c)
	}
	gv := hss.NewMilenage(hss.Key(unhex(t, v, "guest_k")), hss.Key(unhex(t, v, "guest_opc"))).
		EUTRANVector(rnd, sqn, [2]byte(unhex(t, v, "amf")), visited)
	if gv.KASME != kasmeGuest {
		t.Errorf("kasme_guest: doc %x, guest Milenage + TS 33.401 A.2 give %x", kasmeGuest, gv.KASME)
	}
	bound := BindKASME(kasmeGuest, z, th, rnd)
	proofInput := HSSProofInput(th, hssEph.PublicKey().Bytes())
	chain, err := EncodeCertChain(b.CertChain)
	if err != nil {
		t.Fatal(err)
	}

	got := map[string][]byte{
		"device_ephemeral_public": b.DeviceEphemeral,
		"hss_ephemeral_public":    hssEph.PublicKey().Bytes(),
		"transcript":              transcript,
		"transcript_hash":         th[:],
		"z":                       z,
		"kasme_bound":             bound[:],
		"hss_proof_input":         proofInput,
		"certificate_chain_avp":   chain,
		"timestamp_avp":           EncodeTimestamp(ts),
	}
	pub := func(k *ecdsa.PublicKey) []byte {
		b, err := k.Bytes() // SEC 1 2.3.3 uncompressed point
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	got["device_cert_public"] = pub(&devSig.PublicKey)
	got["hss_rcm_public"] = pub(&hssSig.PublicKey)

	if *printVectors {
		d := sha256.Sum256(proofInput)
		s1, _ := ecdsa.SignASN1(rand.Reader, devSig, th[:])
		s2, _ := ecdsa.SignASN1(rand.Reader, hssSig, d[:])
		got["device_signature"], got["hss_signature"] = s1, s2
		var names []string
		for n := range got {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			t.Logf("%s = %s", n, wrapHex(got[n]))
		}
	}

	for name, want := range got {
		if h := hex.EncodeToString(want); v[name] != h {
			t.Errorf("vector %s:\n doc  %s\n code %s", name, v[name], h)
		}
	}
	if bound == kasmeGuest {
		t.Fatal("KASME_bound equals KASME_guest")
	}
	d := sha256.Sum256(proofInput)
	if !ecdsa.VerifyASN1(&devSig.PublicKey, th[:], unhex(t, v, "device_signature")) {
		t.Error("device_signature of the doc does not verify over transcript_hash")
	}
	if !ecdsa.VerifyASN1(&hssSig.PublicKey, d[:], unhex(t, v, "hss_signature")) {
		t.Error("hss_signature of the doc does not verify over SHA-256(hss_proof_input)")
	}
}

func wrapHex(b []byte) string {
	h := hex.EncodeToString(b)
	var sb strings.Builder
	for len(h) > 64 {
		sb.WriteString(h[:64] + "\n    ")
		h = h[64:]
	}
	sb.WriteString(h)
	return sb.String()
}

// TestVectorsIndependentImplementation runs the Python script of the
// document's appendix (pyca/cryptography over OpenSSL, with its own Milenage)
// and compares what it prints with the document's vectors.
func TestVectorsIndependentImplementation(t *testing.T) {
	// The python3 first on PATH (a pyenv one, say) may lack the package
	// that Debian's python3-cryptography gives /usr/bin/python3.
	py := ""
	for _, cand := range []string{"python3", "/usr/bin/python3"} {
		p, err := exec.LookPath(cand)
		if err == nil && exec.Command(p, "-c", "import cryptography").Run() == nil {
			py = p
			break
		}
	}
	if py == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("no python3 with the cryptography package, and CI is set: .ci/run installs python3-cryptography")
		}
		t.Skip("no python3 with the cryptography package: the independent cross-check does not run")
	}
	doc, err := os.ReadFile(cryptoDoc)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```python\n")
	script, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("no python block in docs/rcm-crypto.md")
	}
	out, err := exec.Command(py, "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	v := readVectors(t)
	want := strings.Join([]string{v["kasme_guest"], v["transcript_hash"], v["z"], v["kasme_bound"]}, " ")
	if got := strings.TrimSpace(string(out)); got != want {
		t.Fatalf("independent implementation prints\n%s\ndoc says\n%s", got, want)
	}
}
