package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rcmhss/rcmhss/hss"
	hssredis "github.com/rcmhss/rcmhss/hss/redisstore"
	"github.com/rcmhss/rcmhss/hss/redisstore/redistest"
	"github.com/rcmhss/rcmhss/rcm"
	rcmredis "github.com/rcmhss/rcmhss/rcm/redisstore"
)

// demoCommands are the three commands of the README section "Remote
// credential management demo", as the test runs them.
type demoCommands struct {
	PKIArgs    []string          // rcmdevice pki ...
	HSSEnv     map[string]string // RCMHSS_* before go run ./cmd/rcmhss
	DeviceArgs []string          // rcmdevice ...
}

// readmeDemo extracts the commands from the sh blocks of the README's demo
// section, so that the README cannot drift from what is tested.
func readmeDemo(t testing.TB) demoCommands {
	t.Helper()
	readme := readFile(t, filepath.Join(repoRoot(t), "README.md"))
	_, sec, ok := strings.Cut(readme, "\n## Remote credential management demo\n")
	if !ok {
		t.Fatal(`README.md has no section "Remote credential management demo"`)
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	var cmds [][]string
	for _, block := range shellBlocks(sec) {
		c, err := shellSplit(block)
		if err != nil {
			t.Fatalf("README demo block %q: %v", block, err)
		}
		cmds = append(cmds, c...)
	}
	var d demoCommands
	if len(cmds) != 3 {
		t.Fatalf("the README demo has %d commands, want 3 (pki, rcmhss, rcmdevice): %q", len(cmds), cmds)
	}
	for i, f := range cmds {
		env := map[string]string{}
		for len(f) > 0 && strings.Contains(f[0], "=") {
			k, v, _ := strings.Cut(f[0], "=")
			env[k] = v
			f = f[1:]
		}
		if len(f) < 3 || f[0] != "go" || f[1] != "run" {
			t.Fatalf("README demo command %d is not `go run ...`: %q", i+1, cmds[i])
		}
		pkg, args := f[2], f[3:]
		switch i {
		case 0:
			if pkg != "./cmd/rcmdevice" || len(args) == 0 || args[0] != "pki" || len(env) > 0 {
				t.Fatalf("README demo command 1 must be `go run ./cmd/rcmdevice pki ...`: %q", cmds[i])
			}
			d.PKIArgs = args[1:]
		case 1:
			if pkg != "./cmd/rcmhss" || len(args) != 0 {
				t.Fatalf("README demo command 2 must be `RCMHSS_...=... go run ./cmd/rcmhss`: %q", cmds[i])
			}
			d.HSSEnv = env
		case 2:
			if pkg != "./cmd/rcmdevice" || len(env) > 0 {
				t.Fatalf("README demo command 3 must be `go run ./cmd/rcmdevice ...`: %q", cmds[i])
			}
			d.DeviceArgs = args
		}
	}
	return d
}

// runDevice runs the built rcmdevice in dir and returns its output and exit
// error.
func runDevice(ctx context.Context, t testing.TB, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(ctx, BuildCommand(t, "rcmdevice"), args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// provisioningURL is the provisioning server's base URL read from n's ready
// log line.
func provisioningURL(t testing.TB, n *Node) string {
	t.Helper()
	for _, rec := range logLines(t, n.Stderr()) {
		if rec["msg"] == "rcmhss: ready" {
			if a, _ := rec["rcm_provisioning_addr"].(string); a != "" {
				return "https://" + a
			}
		}
	}
	t.Fatalf("no rcm_provisioning_addr in the ready line:\n%s", n.Stderr())
	return ""
}

// demoNode starts rcmhss with the README's demo environment, the demo PKI
// in pkiDir, and extra on top; every listener on port 0.
func demoNode(t testing.TB, d demoCommands, pkiDir string, extra map[string]string) *Node {
	t.Helper()
	env := map[string]string{}
	for k, v := range d.HSSEnv {
		env[k] = v
	}
	if _, ok := env["RCMHSS_RCM_DEMO_DIR"]; !ok {
		t.Fatal("the README starts rcmhss without RCMHSS_RCM_DEMO_DIR")
	}
	// The README's relative directory, made absolute: the node runs in the
	// test's working directory.
	env["RCMHSS_RCM_DEMO_DIR"] = pkiDir
	env["RCMHSS_RCM_PROVISIONING_LISTEN"] = "127.0.0.1:0"
	for k, v := range extra {
		env[k] = v
	}
	return StartNode(t, NodeOptions{Env: env})
}

// figure6Steps are the steps rcmdevice prints for one device, in order.
var figure6Steps = []string{"[652]", "[654]", "[656]", "[658]", "[660]", "[662]", "[664]", "[666]", "[668]"}

func checkFigure6(t testing.TB, out string, imei string) {
	t.Helper()
	at := 0
	for _, step := range figure6Steps {
		i := strings.Index(out[at:], imei+" "+step)
		if i < 0 {
			t.Errorf("rcmdevice did not print step %s for %s (in order):\n%s", step, imei, out)
			return
		}
		at += i
	}
}

var deviceSummary = regexp.MustCompile(`rcmdevice: (\d+) devices, (\d+) provisioned, (\d+) failed, concurrency (\d+), ([\d.]+)s, ([\d.]+) devices/s`)

// TestRCMDemoReadme runs the README demo as written, on a fresh directory:
// the demo PKI from `rcmdevice pki`, rcmhss with the demo environment on the
// embedded store and the lab config, then one device through the whole of
// figure 6.
func TestRCMDemoReadme(t *testing.T) {
	d := readmeDemo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	if out, err := runDevice(ctx, t, dir, append([]string{"pki"}, d.PKIArgs...)...); err != nil {
		t.Fatalf("rcmdevice pki: %v\n%s", err, out)
	}
	pkiDir := filepath.Join(dir, d.HSSEnv["RCMHSS_RCM_DEMO_DIR"])
	n := demoNode(t, d, pkiDir, nil)
	args := append(append([]string{}, d.DeviceArgs...),
		"--hss", nodePeerAddr(t, n), "--provisioning-url", provisioningURL(t, n))
	out, err := runDevice(ctx, t, dir, args...)
	if err != nil {
		t.Fatalf("rcmdevice: %v\n%s", err, out)
	}
	imeis := pkiIMEIs(t, pkiDir)
	checkFigure6(t, out, imeis[0])
	if m := deviceSummary.FindStringSubmatch(out); m == nil || m[2] != "1" || m[3] != "0" {
		t.Errorf("summary: %q", m)
	}
	// Mutual TLS: without a device certificate the server refuses the
	// connection (TLS 1.3: the alert arrives with the first read).
	roots, err := rcm.LoadCertPool(filepath.Join(pkiDir, rcm.DemoInfraRootFile))
	if err != nil {
		t.Fatal(err)
	}
	noCert := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS13}}}
	if resp, err := noCert.Get(provisioningURL(t, n) + "/v1/sessions/x"); err == nil {
		resp.Body.Close()
		t.Errorf("the provisioning server answered %d to a client without certificate", resp.StatusCode)
	}
	if err := n.Stop(); err != nil {
		t.Errorf("rcmhss did not exit cleanly: %v", err)
	}
}

func pkiIMEIs(t testing.TB, pkiDir string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(pkiDir, "devices"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if name, ok := strings.CutSuffix(e.Name(), ".pem"); ok {
			if _, err := rcm.ParseIMEI(name); err == nil {
				out = append(out, name)
			}
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		t.Fatalf("no device in %s", pkiDir)
	}
	return out
}

// TestRCMProvisioningOnRedis is issue 6's "done when" on the real binaries:
// a real redis-server, rcmhss with the demo (KEK set, keys sealed at rest),
// and the built rcmdevice: one device through every step of figure 6
// (after the swap the guest identity gets no vector and the new IMSI
// authenticates: rcmdevice checks both and the CLR), then 200 devices 16 at
// a time with zero failures, then no K, OPc or sealed payload in anything the
// server wrote.
func TestRCMProvisioningOnRedis(t *testing.T) {
	lookTool(t, "redis-server", "redis-server")
	d := readmeDemo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rs := redistest.StartWithArgs(t)
	dir := t.TempDir()
	pkiDir := filepath.Join(dir, "pki")
	if out, err := runDevice(ctx, t, dir, "pki", "--dir", pkiDir, "--devices", "201"); err != nil {
		t.Fatalf("rcmdevice pki: %v\n%s", err, out)
	}
	var kekRaw [32]byte
	if _, err := rand.Read(kekRaw[:]); err != nil {
		t.Fatal(err)
	}
	kek := hex.EncodeToString(kekRaw[:])
	const prefix = "rcmdemo:"
	col, otlp := startCollector(t)
	n := demoNode(t, d, pkiDir, map[string]string{
		"RCMHSS_TELEMETRY_OTLP_ENDPOINT":       otlp,
		"RCMHSS_REDIS_ADDR":                    rs.Addr,
		"RCMHSS_REDIS_KEY_PREFIX":              prefix,
		"RCMHSS_SECURITY_KEK":                  kek,
		"RCMHSS_SECURITY_ALLOW_PLAINTEXT_KEYS": "false",
		"RCMHSS_LOG_LEVEL":                     "debug",
	})
	base := append(append([]string{}, d.DeviceArgs...), "--pki", pkiDir,
		"--hss", nodePeerAddr(t, n), "--provisioning-url", provisioningURL(t, n))
	imeis := pkiIMEIs(t, pkiDir)

	// (a), (c): one device, every step; a guest prefix of its own so that
	// its guest IMSI is not one of the load's.
	one := imeis[len(imeis)-1]
	out, err := runDevice(ctx, t, dir, append(base, "--imei", one, "--guest-imsi-prefix", "001019998")...)
	if err != nil {
		t.Fatalf("rcmdevice (one device): %v\n%s", err, out)
	}
	checkFigure6(t, out, one)
	for _, want := range []string{"MME received Cancel-Location-Request for the guest IMSI", "AUTN verified with the new K/OPc, RES == XRES, KASME matches"} {
		if !strings.Contains(out, want) {
			t.Errorf("rcmdevice output lacks %q", want)
		}
	}
	deviceOut := out

	// (b): 200 devices, 16 at a time.
	out, err = runDevice(ctx, t, dir, append(base, "--devices", "200", "--concurrency", "16", "--quiet")...)
	deviceOut += out
	if err != nil {
		t.Fatalf("rcmdevice --devices 200 --concurrency 16: %v\n%s", err, out)
	}
	m := deviceSummary.FindStringSubmatch(out)
	if m == nil || m[1] != "200" || m[2] != "200" || m[3] != "0" {
		t.Fatalf("load summary %q:\n%s", m, out)
	}
	rate, _ := strconv.ParseFloat(m[6], 64)
	t.Logf("rcmdevice --devices 200 --concurrency 16 on redis-server: %s s, %.1f devices/s", m[5], rate)
	appendDrillReport(t, fmt.Sprintf("rcmdevice --devices 200 --concurrency 16 (rcmhss on redis-server): %s s, %.1f devices/s, 0 failed\n", m[5], rate))

	// The store holds 201 new subscribers and no guest binding is left.
	resp, err := n.Do(ctx, "GET", "/v1/subscribers?limit=1000", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var list struct{ IMSIs []string }
	if err := json.Unmarshal(resp.Body, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.IMSIs) != 201 {
		t.Fatalf("%d subscribers after 201 devices: %s", len(list.IMSIs), resp.Body)
	}
	var everything strings.Builder // every byte the server sent or wrote
	everything.Write(resp.Body)
	resp, err = n.Do(ctx, "GET", "/v1/rcm/bindings", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	everything.Write(resp.Body)
	var bindings struct{ Bindings []json.RawMessage }
	if err := json.Unmarshal(resp.Body, &bindings); err != nil || len(bindings.Bindings) != 0 {
		t.Errorf("guest bindings left after every swap (%v): %s", err, resp.Body)
	}

	// (e): nothing the server wrote carries a K, an OPc or a sealed payload.
	for _, path := range []string{"/v1/rcm/audit?limit=1000", "/v1/subscribers/" + list.IMSIs[0]} {
		resp, err := n.Do(ctx, "GET", path, "", nil)
		if err != nil || resp.Status != 200 {
			t.Fatalf("GET %s: %v %d", path, err, resp.Status)
		}
		everything.Write(resp.Body)
	}
	everything.WriteString(httpGet(t, n.AdminURL+"/metrics"))
	if err := n.Stop(); err != nil {
		t.Errorf("rcmhss did not exit cleanly: %v", err)
	}
	everything.WriteString(n.Stderr())
	everything.WriteString(n.Stdout())
	everything.WriteString(deviceOut)

	kekRawKey, err := hss.ParseKEK(kek)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := hss.NewKeySealer(kekRawKey)
	if err != nil {
		t.Fatal(err)
	}
	st, err := hssredis.New(ctx, hssredis.Config{Addrs: []string{rs.Addr}, KeyPrefix: prefix}, sealer)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var secrets [][]byte
	for _, imsi := range list.IMSIs {
		s, err := st.GetSubscriber(ctx, hss.IMSI(imsi))
		if err != nil {
			t.Fatal(err)
		}
		if s.K.IsZero() || s.OPc.IsZero() {
			t.Fatalf("subscriber %s without keys", imsi)
		}
		secrets = append(secrets, s.K[:], s.OPc[:])
	}
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	defer rdb.Close()
	ps, err := rcmredis.NewProvisioning(rdb, prefix, sealer)
	if err != nil {
		t.Fatal(err)
	}
	sessions, err := ps.ListSessions(ctx, rcm.DemoProviderID)
	if err != nil {
		t.Fatal(err)
	}
	sealed := 0
	for _, s := range sessions {
		if len(s.Sealed) > 0 {
			secrets = append(secrets, s.Sealed)
			sealed++
		}
	}
	if sealed == 0 {
		t.Error("no session keeps its sealed credentials: the check below would prove nothing for them")
	}
	// Traces: the spans of the whole flow, exported over OTLP (flushed at the
	// latest when the node stopped above), hold no secret either, in any form.
	traces, spans := col.exported()
	if !slices.Contains(spans, "S6a/AIR") || !slices.Contains(spans, "S6a/ULR") {
		t.Fatalf("the collector got no S6a/AIR and S6a/ULR spans (%d spans): the trace check would prove nothing", len(spans))
	}
	for _, s := range secrets {
		if bytes.Contains(traces, s) {
			t.Fatalf("key material or a sealed payload (%d bytes) in the exported traces", len(s))
		}
	}
	everything.Write(traces)
	text := everything.String()
	for _, s := range secrets {
		for _, form := range []string{hex.EncodeToString(s), strings.ToUpper(hex.EncodeToString(s)),
			base64.StdEncoding.EncodeToString(s), base64.RawURLEncoding.EncodeToString(s)} {
			if strings.Contains(text, form) {
				t.Fatalf("key material or a sealed payload appears in what the server wrote (%d bytes, as %.8s...)", len(s), form)
			}
		}
	}
	t.Logf("checked %d keys and %d sealed payloads against %d bytes of logs, API answers, /metrics, %d exported spans and rcmdevice output",
		2*len(list.IMSIs), sealed, len(text), len(spans))
}
