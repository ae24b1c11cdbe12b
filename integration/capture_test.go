package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// lookTool finds an external program. Outside CI a missing program skips the
// test with a message naming it; with CI set (CI installs everything, see
// .ci/run) it fails the test, so that a broken CI image cannot turn the test
// into a silent skip.
func lookTool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := fmt.Sprintf("%s not found in PATH (Debian package %s): %v", name, pkg, err)
	if os.Getenv("CI") != "" {
		t.Fatalf("%s; CI is set, so a missing program is a failure", msg)
	}
	t.Skip(msg + "; install it to run this test (CI unset: skipping)")
	return ""
}

// process is an external program started by a test: its stderr (and stdout)
// are kept, it runs in its own process group, and t.Cleanup kills the group
// if the test did not stop it.
type process struct {
	name   string
	cmd    *exec.Cmd
	out    *lockedBuffer
	exited chan struct{}
	err    error
}

// startProcess starts bin with args. Its combined output is kept in memory,
// written to logFile too when it is not empty, and logged when the test
// fails.
func startProcess(t testing.TB, logFile, bin string, args ...string) *process {
	t.Helper()
	p := &process{name: filepath.Base(bin), out: &lockedBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	var w io.Writer = p.out
	if logFile != "" {
		f, err := os.Create(logFile)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		w = io.MultiWriter(p.out, f)
	}
	p.cmd.Stdout = w
	p.cmd.Stderr = w
	// Its own process group: a program that forks (tshark runs dumpcap) is
	// killed whole.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		if p.running() {
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.exited
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", p.name, p.out.String())
		}
	})
	return p
}

func (p *process) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// waitOutput polls the program's output until it contains want.
func (p *process) waitOutput(ctx context.Context, want string) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !strings.Contains(p.out.String(), want) {
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited (%v) before printing %q", p.name, p.err, want)
		case <-ctx.Done():
			return fmt.Errorf("%s did not print %q: %w", p.name, want, ctx.Err())
		case <-tick.C:
		}
	}
	return nil
}

// stop sends sig and waits for the exit, killing the group when ctx ends
// first. It returns the program's exit error.
func (p *process) stop(ctx context.Context, sig syscall.Signal) error {
	if p.running() {
		_ = p.cmd.Process.Signal(sig)
	}
	select {
	case <-p.exited:
		return p.err
	case <-ctx.Done():
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
		return fmt.Errorf("%s ignored %v: %w", p.name, sig, ctx.Err())
	}
}

// capture is a running dumpcap writing a pcapng file.
type capture struct {
	File string
	p    *process
}

// startCapture captures the TCP traffic of port on the loopback interface
// into a pcapng file in t.TempDir(), and returns once the capture is live.
// dumpcap, the capture engine of tshark, is run directly: tshark takes
// seconds to load its dissectors before it starts dumpcap.
//
// "Capturing on" on dumpcap's stderr comes a moment before packets really
// reach the file, so the filter also admits a UDP probe port of ours: a
// datagram with a random marker goes there until the marker is in the file.
// The probe frames carry no TCP payload, so the Diameter checks ignore them.
func startCapture(ctx context.Context, t testing.TB, port int) *capture {
	t.Helper()
	bin, err := exec.LookPath("dumpcap")
	if err != nil {
		bin = lookTool(t, "tshark", "tshark")
	}
	probe, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	probePort := probe.LocalAddr().(*net.UDPAddr).Port
	c := &capture{File: filepath.Join(t.TempDir(), "diameter.pcapng")}
	filter := fmt.Sprintf("tcp port %d or udp port %d", port, probePort)
	c.p = startProcess(t, "", bin, "-q", "-i", "lo", "-f", filter, "-w", c.File)
	if err := c.p.waitOutput(ctx, "Capturing on"); err != nil {
		out := c.p.out.String()
		if strings.Contains(out, "permission") || strings.Contains(out, "Operation not permitted") {
			t.Fatalf("capture on lo needs CAP_NET_RAW and CAP_NET_ADMIN (run as root or setcap dumpcap; Debian: dpkg-reconfigure wireshark-common and join group wireshark): %v\n%s", err, out)
		}
		t.Fatalf("capture: %v\n%s", err, out)
	}
	marker := make([]byte, 16)
	if _, err := rand.Read(marker); err != nil {
		t.Fatal(err)
	}
	marker = append([]byte("rcmhss-capture-probe-"), hex.EncodeToString(marker)...)
	send := func() error {
		_, err := probe.WriteTo(marker, probe.LocalAddr())
		return err
	}
	if err := c.waitFor(ctx, marker, send); err != nil {
		t.Fatalf("capture is not live: %v\n%s", err, c.p.out.String())
	}
	return c
}

// waitFor polls the capture file until it holds marker (the bytes of a
// message known to be the last one of interest): dumpcap reads the kernel's
// ring buffer in blocks, so a packet sent a moment ago may not be written
// yet, and stopping then would lose it.
// Each round calls poke first when it is not nil.
func (c *capture) waitFor(ctx context.Context, marker []byte, poke func() error) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if poke != nil {
			if err := poke(); err != nil {
				return err
			}
		}
		b, err := os.ReadFile(c.File)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if bytes.Contains(b, marker) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("capture: %d bytes written, the last message is not among them: %w", len(b), ctx.Err())
		case <-c.p.exited:
			return fmt.Errorf("capture: dumpcap exited: %v", c.p.err)
		case <-tick.C:
		}
	}
}

// stop ends the capture (SIGINT: dumpcap closes the file properly) and
// waits for dumpcap to exit.
func (c *capture) stop(ctx context.Context) error {
	return c.p.stop(ctx, syscall.SIGINT)
}

// runTool runs a program to completion within ctx and returns its stdout;
// stderr is included in the error. env is added to the environment.
func runTool(ctx context.Context, env []string, bin string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w\n%s", filepath.Base(bin), strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

// tsharkEnv is the environment of the tshark runs that decode: an empty
// personal configuration directory, so that a developer's own Wireshark
// preferences (disabled protocols, decode-as rules) cannot change the
// outcome. A row for AVPs Wireshark's dictionary lacks would add a data
// directory with their dictionary here (see dict/wireshark).
func tsharkEnv(t testing.TB) []string {
	return []string{"WIRESHARK_CONFIG_DIR=" + t.TempDir()}
}
