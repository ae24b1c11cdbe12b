package mmesim_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rcmhss/rcmhss/diameter/mmesim"
	"github.com/rcmhss/rcmhss/rcm"
)

func TestCLIPKI(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	var out, errb bytes.Buffer
	if code := mmesim.Main(context.Background(), []string{"pki", "--dir", dir, "--devices", "3", "--tac", "35000001"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, f := range []string{rcm.DemoVendorCAFile, rcm.DemoInfraRootFile, rcm.DemoHSSCertFile, rcm.DemoHSSKeyFile, rcm.DemoServerCertFile, rcm.DemoServerKeyFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "devices"))
	if len(ents) != 6 {
		t.Fatalf("%d device files, want 3 certificates and 3 keys", len(ents))
	}
	first := rcm.IMEI("35000001000001" + string(rcm.LuhnCheckDigit("35000001000001")))
	cf, kf := rcm.DemoDeviceFiles(dir, first)
	if c, err := rcm.LoadDeviceCredentials(cf, kf); err != nil || c.IMEI != first {
		t.Fatalf("first device: %v", err)
	}
	if code := mmesim.Main(context.Background(), []string{"pki", "--tac", "12"}, &out, &errb); code != 2 {
		t.Fatalf("bad tac: exit %d", code)
	}
}

// TestCLIRun runs the command line against the stack: one device with the
// steps printed, then a small load run.
func TestCLIRun(t *testing.T) {
	st := newStack(t)
	dir := t.TempDir()
	var devs []rcm.DeviceCredentials
	for i := range 8 {
		d, err := st.pki.IssueDevice(imei(200 + i))
		if err != nil {
			t.Fatal(err)
		}
		devs = append(devs, d)
	}
	if err := st.pki.Write(dir, devs); err != nil {
		t.Fatal(err)
	}
	base := []string{"--pki", dir, "--hss", st.diamAdr, "--origin-host", "mme-cli.epc.mnc001.mcc001.3gppnetwork.org",
		"--origin-realm", realm, "--provisioning-url", st.provURL,
		"--guest-k", guest.K.Hex(), "--guest-opc", guest.OPc.Hex()}
	var out, errb bytes.Buffer
	if code := mmesim.Main(context.Background(), append([]string{"run", "--decline", "1"}, base...), &out, &errb); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	for _, s := range []string{"[652]", "[656]", "declined offer basic", "[666]", "[668]", "1 provisioned, 0 failed"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("output lacks %q:\n%s", s, out.String())
		}
	}
	out.Reset()
	// Load: seven devices, three at a time, on guest IMSIs of their own (the
	// first device runs again: a device reset to factory state is provisioned
	// afresh).
	args := append([]string{"--devices", "7", "--concurrency", "3", "--quiet", "--guest-imsi-prefix", "001019998"}, base...)
	if code := mmesim.Main(context.Background(), args, &out, &errb); code != 0 || !strings.Contains(out.String(), "7 devices, 7 provisioned, 0 failed") {
		t.Fatalf("load run: exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	if strings.Contains(out.String(), "[652]") {
		t.Error("--quiet printed the steps")
	}
	// A run that cannot succeed exits non-zero: a wrong guest key.
	out.Reset()
	bad := append([]string{"--imei", string(devs[1].IMEI), "--guest-imsi-prefix", "001019997"}, base...)
	bad[len(bad)-3] = strings.Repeat("0", 32) // --guest-k
	if code := mmesim.Main(context.Background(), bad, &out, &errb); code != 1 || !strings.Contains(out.String(), "FAILED") {
		t.Fatalf("wrong guest key: exit %d\n%s", code, out.String())
	}
}

// TestLoad200 is the acceptance load of issue 6: 200 devices, 16 at a time,
// zero failures (the throughput goes to the log; tests never assert time).
func TestLoad200(t *testing.T) {
	if testing.Short() {
		t.Skip("load run skipped in -short mode")
	}
	st := newStack(t)
	dir := t.TempDir()
	var devs []rcm.DeviceCredentials
	for i := range 200 {
		d, err := st.pki.IssueDevice(imei(1000 + i))
		if err != nil {
			t.Fatal(err)
		}
		devs = append(devs, d)
	}
	if err := st.pki.Write(dir, devs); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	args := []string{"--pki", dir, "--hss", st.diamAdr, "--origin-host", "mme-load.epc.mnc001.mcc001.3gppnetwork.org",
		"--origin-realm", realm, "--provisioning-url", st.provURL, "--guest-k", guest.K.Hex(), "--guest-opc", guest.OPc.Hex(),
		"--devices", "200", "--concurrency", "16", "--quiet"}
	if code := mmesim.Main(context.Background(), args, &out, &errb); code != 0 || !strings.Contains(out.String(), "200 provisioned, 0 failed") {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	t.Log(strings.TrimSpace(out.String()))
}
