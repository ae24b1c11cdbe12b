package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binDir holds the binaries built once per test run (TestMain removes it).
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rcmhss-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// repoRoot is the directory holding go.mod.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("integration: go.mod not found above the working directory")
		}
		dir = parent
	}
}

var (
	buildMu    sync.Mutex
	built      = map[string]string{}
	buildFails = map[string]error{}
)

// BuildCommand builds ./cmd/<name> once per test run and returns the binary.
func BuildCommand(t testing.TB, name string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := built[name]; ok {
		return p
	}
	if err, ok := buildFails[name]; ok {
		t.Fatal(err)
	}
	out := filepath.Join(binDir, name)
	args := []string{"build", "-o", out}
	// RCMHSS_INTEGRATION_RACE=1 builds the binaries with the race detector; a
	// race then makes the process exit 66 and fails the test that stops it.
	if os.Getenv("RCMHSS_INTEGRATION_RACE") == "1" {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "./cmd/"+name)...)
	cmd.Dir = repoRoot(t)
	if b, err := cmd.CombinedOutput(); err != nil {
		buildFails[name] = fmt.Errorf("integration: go build ./cmd/%s: %v\n%s", name, err, b)
		t.Fatal(buildFails[name])
	}
	built[name] = out
	return out
}

// LabToken is the admin token of configs/rcmhss.yaml.
const LabToken = "rcmhss-dev-token-change-me"

// Node is one running rcmhss process.
type Node struct {
	t        testing.TB
	cmd      *exec.Cmd
	AdminURL string
	// DiameterAddrs are the listeners as "tcp://127.0.0.1:port".
	DiameterAddrs []string
	Token         string
	stderr        *lockedBuffer
	stdout        *lockedBuffer
	exited        chan struct{}
	waitErr       error
}

// NodeOptions tunes StartNode.
type NodeOptions struct {
	// Config is the YAML file (default configs/rcmhss.yaml of the repository).
	Config string
	// Env adds RCMHSS_* overrides. Admin and Diameter listeners default to
	// port 0 on 127.0.0.1; the chosen ports are read back from the ready log line.
	Env map[string]string
	// Token is the admin token the node uses (default LabToken).
	Token string
}

// StartNode builds rcmhss, starts it and waits until /readyz answers 200. The
// process is stopped (SIGTERM, then SIGKILL) when the test ends.
func StartNode(t testing.TB, opts NodeOptions) *Node {
	t.Helper()
	bin := BuildCommand(t, "rcmhss")
	if opts.Config == "" {
		opts.Config = filepath.Join(repoRoot(t), "configs", "rcmhss.yaml")
	}
	if opts.Token == "" {
		opts.Token = LabToken
		if tok, ok := opts.Env["RCMHSS_ADMIN_TOKEN"]; ok {
			opts.Token = tok
		}
	}
	env := map[string]string{
		"RCMHSS_ADMIN_LISTEN":    "127.0.0.1:0",
		"RCMHSS_DIAMETER_LISTEN": "tcp://127.0.0.1:0",
	}
	for k, v := range opts.Env {
		env[k] = v
	}
	cmd := exec.Command(bin, "--config", opts.Config)
	// A clean environment: only what the node needs, so that a developer's own
	// RCMHSS_* variables cannot change the test.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	n := &Node{t: t, cmd: cmd, Token: opts.Token, stderr: &lockedBuffer{}, stdout: &lockedBuffer{}, exited: make(chan struct{})}
	cmd.Stdout = n.stdout
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan map[string]any, 1)
	go func() {
		sc := bufio.NewScanner(errPipe)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			n.stderr.Write(append(line, '\n'))
			var rec map[string]any
			if json.Unmarshal(line, &rec) == nil && rec["msg"] == "rcmhss: ready" {
				select {
				case ready <- rec:
				default:
				}
			}
		}
		_, _ = io.Copy(n.stderr, errPipe)
		n.waitErr = cmd.Wait()
		close(n.exited)
	}()
	t.Cleanup(func() {
		if n.Running() {
			_ = n.Stop()
		}
		if t.Failed() {
			t.Logf("rcmhss stderr:\n%s", n.Stderr())
		}
	})

	select {
	case rec := <-ready:
		n.AdminURL = "http://" + rec["admin_addr"].(string)
		if addrs, ok := rec["diameter_addrs"].([]any); ok {
			for _, a := range addrs {
				n.DiameterAddrs = append(n.DiameterAddrs, a.(string))
			}
		}
	case <-n.exited:
		t.Fatalf("rcmhss exited before it was ready (%v):\n%s", n.waitErr, n.Stderr())
	case <-time.After(60 * time.Second):
		t.Fatalf("rcmhss not ready after 60s:\n%s", n.Stderr())
	}
	n.WaitReady(30 * time.Second)
	return n
}

// WaitReady polls /readyz until it answers 200.
func (n *Node) WaitReady(within time.Duration) {
	n.t.Helper()
	deadline := time.Now().Add(within)
	for {
		resp, err := http.Get(n.AdminURL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("/readyz not 200 within %v (last error %v):\n%s", within, err, n.Stderr())
		}
		select {
		case <-n.exited:
			n.t.Fatalf("rcmhss exited while waiting for /readyz:\n%s", n.Stderr())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Running reports whether the process has not exited.
func (n *Node) Running() bool {
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// Stop sends SIGTERM and waits for the exit (SIGKILL after 30s). It returns
// the process's exit error: nil for a clean exit with status 0.
func (n *Node) Stop() error {
	if n.Running() {
		_ = n.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-n.exited:
	case <-time.After(30 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.exited
		return errors.New("integration: rcmhss ignored SIGTERM for 30s")
	}
	return n.waitErr
}

// Stderr is everything the process logged so far.
func (n *Node) Stderr() string { return n.stderr.String() }

// Stdout is everything the process wrote on stdout.
func (n *Node) Stdout() string { return n.stdout.String() }

// Response is an HTTP answer read in full.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends an authenticated admin request.
func (n *Node) Do(ctx context.Context, method, path, contentType string, body []byte) (Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, n.AdminURL+path, bytes.NewReader(body))
	if err != nil {
		return Response{}, err
	}
	req.Header.Set("Authorization", "Bearer "+n.Token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return send(req)
}

func send(req *http.Request) (Response, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}, err
}

// lockedBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// logLines decodes the JSON log lines of s, failing on any line that is not
// JSON: rcmhss logs nothing but slog JSON on stderr.
func logLines(t testing.TB, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(s), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("stderr line is not JSON: %q", line)
			continue
		}
		out = append(out, rec)
	}
	return out
}
