package integration

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The failover drills (issue 8) put a Debian freeDiameterd between a test
// MME and two or more rcmhss nodes: the relay (RFC 6733 2.8.2) routes each
// request by Destination-Realm to one of the nodes (rt_load_balance picks
// the least loaded) and, when a node's connection goes down, resends the
// requests pending at it to another node with the T flag (RFC 6733 5.5.4);
// rt_busypeers resends to another node a request that one answered with
// 3004 DIAMETER_TOO_BUSY (RFC 6733 7.1.3), as rcmhss does when it lost Redis.

// drillRealm is the realm of every rcmhss node of a drill (the lab config's).
const drillRealm = "rcmhss.localdomain"

// relayTarget is one rcmhss node the relay connects to.
type relayTarget struct {
	Host string // the node's Origin-Host, which freeDiameter checks in the CEA
	Port int
}

// fdRelay is a running freeDiameterd acting as a relay.
type fdRelay struct {
	Identity string
	Addr     string // 127.0.0.1:port where the MME connects
	p        *process
}

// relayOptions configure startRelay.
type relayOptions struct {
	Identity string
	// Clients are the Origin-Hosts acl_wl lets in (the MMEs of the drill).
	Clients []string
	Targets []relayTarget
	// Tw is freeDiameter's watchdog timer in seconds (at least 6, RFC 3539).
	Tw int
}

// startRelay writes a minimal relay configuration for freeDiameter 1.2.1 and
// starts it: the dictionaries dict_nasreq, dict_eap, dict_dcca then
// dict_dcca_3gpp (in that order: dict_dcca_3gpp extends dict_dcca),
// rt_load_balance, rt_busypeers (defaults: retry a 3004 on another directly
// connected peer), acl_wl allowing the clients without TLS (ALLOW_IPSEC:
// the transport is trusted, no TLS handshake), and a ConnectPeer per node
// with No_TLS and No_SCTP. freeDiameter 1.2.1 refuses to start without
// TLS_Cred even when no connection uses TLS, so a self-signed pair is
// generated. It returns once the relay has opened a connection to every node.
func startRelay(ctx context.Context, t testing.TB, opts relayOptions) *fdRelay {
	t.Helper()
	bin := lookTool(t, "freeDiameterd", "freediameter")
	ext := fdExtensionDir(t)
	dir := t.TempDir()
	cert, key := writeSelfSigned(t, dir, opts.Identity)
	port := drillFreePort(t)

	acl := filepath.Join(dir, "acl_wl.conf")
	var aclText strings.Builder
	for _, c := range opts.Clients {
		fmt.Fprintf(&aclText, "ALLOW_IPSEC %s\n", c)
	}
	if err := os.WriteFile(acl, []byte(aclText.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	var conf strings.Builder
	fmt.Fprintf(&conf, "Identity = %q;\nRealm = %q;\n", opts.Identity, "relay.drill.test")
	fmt.Fprintf(&conf, "Port = %d;\nSecPort = 0;\nListenOn = \"127.0.0.1\";\nNo_SCTP;\nNo_IPv6;\nPrefer_TCP;\n", port)
	fmt.Fprintf(&conf, "TLS_Cred = %q, %q;\nTLS_CA = %q;\n", cert, key, cert)
	fmt.Fprintf(&conf, "TcTimer = 3;\nTwTimer = %d;\n", opts.Tw)
	for _, d := range []string{"dict_nasreq", "dict_eap", "dict_dcca", "dict_dcca_3gpp", "rt_load_balance"} {
		fmt.Fprintf(&conf, "LoadExtension = %q;\n", filepath.Join(ext, d+".fdx"))
	}
	// rt_busypeers needs a configuration file; an empty one keeps its
	// defaults (resend a 3004 from a directly connected peer elsewhere).
	busy := filepath.Join(dir, "rt_busypeers.conf")
	if err := os.WriteFile(busy, []byte("# defaults\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&conf, "LoadExtension = %q : %q;\n", filepath.Join(ext, "rt_busypeers.fdx"), busy)
	fmt.Fprintf(&conf, "LoadExtension = %q : %q;\n", filepath.Join(ext, "acl_wl.fdx"), acl)
	for _, n := range opts.Targets {
		fmt.Fprintf(&conf, "ConnectPeer = %q { ConnectTo = \"127.0.0.1\"; Port = %d; No_TLS; No_SCTP; TcTimer = 3; TwTimer = %d; };\n",
			n.Host, n.Port, opts.Tw)
	}
	confFile := filepath.Join(dir, "freeDiameter.conf")
	if err := os.WriteFile(confFile, []byte(conf.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	r := &fdRelay{Identity: opts.Identity, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	r.p = startProcess(t, filepath.Join(dir, "freeDiameterd.log"), bin, "-c", confFile, "-d")
	if err := r.p.waitOutput(ctx, "freeDiameterd daemon initialized"); err != nil {
		t.Fatalf("freeDiameterd relay: %v\nconfiguration:\n%s", err, conf.String())
	}
	for _, n := range opts.Targets {
		if err := r.waitLog(ctx, relayOpened(n.Host), 1); err != nil {
			t.Fatalf("relay to %s: %v", n.Host, err)
		}
	}
	return r
}

// drillFreePort asks the kernel for a free TCP port on 127.0.0.1 for a
// program that cannot listen on port 0 and report the port (freeDiameterd).
func drillFreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// relayOpened matches freeDiameter's log line for a peer reaching STATE_OPEN.
func relayOpened(host string) *regexp.Regexp {
	return regexp.MustCompile(`-> 'STATE_OPEN'\s+'` + regexp.QuoteMeta(host) + `'`)
}

// relayLeftOpen matches freeDiameter's log line for a peer leaving
// STATE_OPEN (closed, or suspect after a missing DWA, RFC 3539 3.4).
func relayLeftOpen(host string) *regexp.Regexp {
	return regexp.MustCompile(`'STATE_OPEN'\s+-> '(STATE_\w+)'\s+'` + regexp.QuoteMeta(host) + `'`)
}

func (r *fdRelay) Log() string { return r.p.out.String() }

func (r *fdRelay) count(re *regexp.Regexp) int { return len(re.FindAllStringIndex(r.Log(), -1)) }

// waitLog polls the relay's log until re matches at least n lines.
func (r *fdRelay) waitLog(ctx context.Context, re *regexp.Regexp, n int) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for r.count(re) < n {
		select {
		case <-ctx.Done():
			return fmt.Errorf("freeDiameterd logged %d lines matching %q, want %d: %w", r.count(re), re, n, ctx.Err())
		case <-r.p.exited:
			return fmt.Errorf("freeDiameterd exited (%v)", r.p.err)
		case <-tick.C:
		}
	}
	return nil
}

// watchLog returns a channel that receives the time at which re first
// matches the relay's log (polled every 10 ms), or is closed without a value
// when ctx ends first.
func (r *fdRelay) watchLog(ctx context.Context, re *regexp.Regexp) <-chan time.Time {
	ch := make(chan time.Time, 1)
	go func() {
		defer close(ch)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			if re.MatchString(r.Log()) {
				ch <- time.Now()
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return ch
}

// nodePort is the TCP port of a node's first Diameter listener.
func nodePort(t testing.TB, n *Node) int {
	t.Helper()
	for _, a := range n.DiameterAddrs {
		if addr, ok := strings.CutPrefix(a, "tcp://"); ok {
			_, p, err := net.SplitHostPort(addr)
			if err != nil {
				t.Fatal(err)
			}
			port, err := strconv.Atoi(p)
			if err != nil {
				t.Fatal(err)
			}
			return port
		}
	}
	t.Fatalf("node has no TCP listener: %v", n.DiameterAddrs)
	return 0
}
