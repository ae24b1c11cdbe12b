package redistest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// startTimeout bounds how long a server may take to answer PING.
const startTimeout = 10 * time.Second

// Server is a running redis-server.
type Server struct {
	Addr   string
	cmd    *exec.Cmd
	log    *lockedBuffer
	exited chan struct{}
	stop   sync.Once
}

// Start starts redis-server and returns its address ("127.0.0.1:port").
func Start(t testing.TB) string {
	t.Helper()
	return StartWithArgs(t).Addr
}

// StartWithArgs starts redis-server with extra command-line arguments (for
// example "--replicaof", "127.0.0.1", "6380") appended after the defaults
// (--port N --bind 127.0.0.1 --save "" --appendonly no). The server is killed
// by t.Cleanup; its log is attached to the test output when the test fails.
func StartWithArgs(t testing.TB, args ...string) *Server {
	t.Helper()
	port := freePort(t)
	argv := append([]string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--protected-mode", "no",
		"--dir", t.TempDir(),
	}, args...)
	return start(t, port, argv)
}

// StartSentinel starts a Redis Sentinel that monitors the master at
// masterAddr under masterName (quorum 1), for tests of the Sentinel
// configuration. Sentinel needs a writable config file, written to a
// temporary directory.
func StartSentinel(t testing.TB, masterName, masterAddr string) *Server {
	t.Helper()
	host, mport, err := net.SplitHostPort(masterAddr)
	if err != nil {
		t.Fatalf("redistest: master address %q: %v", masterAddr, err)
	}
	port := freePort(t)
	dir := t.TempDir()
	// failover-timeout 6 s instead of 3 min: a failover attempt that aborts
	// (a lost leader election among the sentinels, a replica judged not
	// good enough on a loaded machine) is retried after twice this, well
	// within a test's deadline.
	conf := fmt.Sprintf("port %d\nbind 127.0.0.1\nprotected-mode no\ndir %s\n"+
		"sentinel monitor %s %s %s 1\nsentinel down-after-milliseconds %s 5000\n"+
		"sentinel failover-timeout %s 6000\n",
		port, dir, masterName, host, mport, masterName, masterName)
	path := filepath.Join(dir, "sentinel.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatalf("redistest: write sentinel config: %v", err)
	}
	return start(t, port, []string{path, "--sentinel"})
}

func start(t testing.TB, port int, argv []string) *Server {
	t.Helper()
	bin := lookPath(t, "redis-server")
	s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), log: &lockedBuffer{}}
	s.cmd = exec.Command(bin, argv...)
	s.cmd.Stdout = s.log
	s.cmd.Stderr = s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("redistest: start %s: %v", bin, err)
	}
	s.exited = make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("redistest: redis-server %s log:\n%s", s.Addr, s.log.String())
		}
	})
	if err := waitReady(s.Addr, s.exited); err != nil {
		t.Fatalf("redistest: redis-server on %s: %v\n%s", s.Addr, err, s.log.String())
	}
	return s
}

// Stop kills the server and waits for it to exit (tests of an unavailable
// store use it). It is safe to call more than once.
func (s *Server) Stop() {
	s.stop.Do(func() {
		_ = s.cmd.Process.Kill()
		<-s.exited
	})
}

// lookPath finds a binary, skipping the test when it is missing unless CI is set.
func lookPath(t testing.TB, name string) string {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err == nil {
		return bin
	}
	msg := fmt.Sprintf("redistest: %s not found on PATH (install redis-server, e.g. apt-get install redis-server): %v", name, err)
	if os.Getenv("CI") != "" {
		t.Fatal(msg + " (CI is set: tests that need Redis must not be skipped)")
	}
	t.Skip(msg)
	return ""
}

// freePort asks the kernel for a free loopback port. Another process may take it
// before redis-server binds; waitReady then reports the exit with its log.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redistest: find a free port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		t.Fatalf("redistest: find a free port: %v", err)
	}
	return port
}

// waitReady polls PING over RESP until +PONG, the process exits or the deadline passes.
func waitReady(addr string, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if last = Ping(ctx, addr); last == nil {
			return nil
		}
		select {
		case <-exited:
			return errors.New("redis-server exited before answering PING")
		case <-ctx.Done():
			return fmt.Errorf("no PONG within %v: %w", startTimeout, last)
		case <-tick.C:
		}
	}
}

// Ping sends one RESP PING to addr and expects +PONG. It does not depend on a
// Redis client library so that the harness tests the server, not a client.
func Ping(ctx context.Context, addr string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := conn.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("unexpected reply %q", strings.TrimSpace(line))
	}
	return nil
}

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
