package integration

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fdPeer is a freeDiameterd process (Debian package freediameter) connected
// to an rcmhss node as a peer.
type fdPeer struct {
	Identity string
	LogFile  string
	p        *process
}

// fdOptions configure startFreeDiameter.
type fdOptions struct {
	Identity, Realm string
	// Node and NodePort: the rcmhss Origin-Host and TCP port to connect to.
	Node     string
	NodePort int
	// Tw is freeDiameter's watchdog timer in seconds (at least 6, RFC 3539
	// 3.4.1; freeDiameter refuses less).
	Tw int
}

// fdExtensionDir is where Debian's freediameter-extensions installs the
// dictionary extensions (dpkg -L freediameter-extensions): /usr/lib/freeDiameter
// on Debian 12; other layouts put them under the multiarch directory.
func fdExtensionDir(t testing.TB) string {
	t.Helper()
	candidates := []string{"/usr/lib/freeDiameter", "/usr/lib/x86_64-linux-gnu/freeDiameter", "/usr/lib/aarch64-linux-gnu/freeDiameter"}
	for _, dir := range candidates {
		if _, err := os.Stat(filepath.Join(dir, "dict_nasreq.fdx")); err == nil {
			return dir
		}
	}
	msg := fmt.Sprintf("freeDiameter dictionary extensions (dict_nasreq.fdx) not found in %v (Debian package freediameter-extensions)", candidates)
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// startFreeDiameter writes a freeDiameter configuration in t.TempDir() and
// starts freeDiameterd -dd with it, logging to a file there. freeDiameter
// connects to the node (ConnectPeer, TCP, no TLS), advertising the relay
// application (no NoRelay: rcmhss accepts a relay at CER, RFC 6733 5.3.1)
// since Debian ships no S6a extension, and it does not listen
// (Port = 0 and SecPort = 0: no port to pick, none to collide).
func startFreeDiameter(ctx context.Context, t testing.TB, opts fdOptions) *fdPeer {
	t.Helper()
	bin := lookTool(t, "freeDiameterd", "freediameter")
	ext := fdExtensionDir(t)
	dir := t.TempDir()
	cert, key := writeSelfSigned(t, dir, opts.Identity)
	var conf strings.Builder
	fmt.Fprintf(&conf, "Identity = %q;\nRealm = %q;\n", opts.Identity, opts.Realm)
	fmt.Fprintf(&conf, "Port = 0;\nSecPort = 0;\nNo_SCTP;\nNo_IPv6;\nPrefer_TCP;\n")
	// Unused (the connection to the node is No_TLS) but some freeDiameter
	// versions refuse to start without credentials.
	fmt.Fprintf(&conf, "TLS_Cred = %q, %q;\nTLS_CA = %q;\n", cert, key, cert)
	fmt.Fprintf(&conf, "TcTimer = 3;\nTwTimer = %d;\n", opts.Tw)
	for _, d := range []string{"dict_nasreq", "dict_eap", "dict_dcca", "dict_dcca_3gpp"} {
		fmt.Fprintf(&conf, "LoadExtension = %q;\n", filepath.Join(ext, d+".fdx"))
	}
	fmt.Fprintf(&conf, "ConnectPeer = %q { ConnectTo = \"127.0.0.1\"; Port = %d; No_TLS; No_SCTP; TcTimer = 3; TwTimer = %d; };\n",
		opts.Node, opts.NodePort, opts.Tw)
	confFile := filepath.Join(dir, "freeDiameter.conf")
	if err := os.WriteFile(confFile, []byte(conf.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	fd := &fdPeer{Identity: opts.Identity, LogFile: filepath.Join(dir, "freeDiameterd.log")}
	fd.p = startProcess(t, fd.LogFile, bin, "-c", confFile, "-dd")
	if err := fd.p.waitOutput(ctx, "freeDiameterd daemon initialized"); err != nil {
		t.Fatalf("freeDiameterd: %v\nconfiguration:\n%s", err, conf.String())
	}
	return fd
}

// Log is what freeDiameterd logged so far.
func (fd *fdPeer) Log() string { return fd.p.out.String() }

// count returns how many lines of the log match re.
func (fd *fdPeer) count(re *regexp.Regexp) int {
	return len(re.FindAllStringIndex(fd.Log(), -1))
}

// waitLog polls the log until re matches at least n lines.
func (fd *fdPeer) waitLog(ctx context.Context, re *regexp.Regexp, n int) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for fd.count(re) < n {
		select {
		case <-ctx.Done():
			return fmt.Errorf("freeDiameterd logged %d lines matching %q, want %d: %w", fd.count(re), re, n, ctx.Err())
		case <-fd.p.exited:
			return fmt.Errorf("freeDiameterd exited (%v) with %d lines matching %q, want %d", fd.p.err, fd.count(re), re, n)
		case <-tick.C:
		}
	}
	return nil
}

// Stop sends SIGTERM (freeDiameter then sends DPR to its peers, RFC 6733
// 5.4) and waits for the exit.
func (fd *fdPeer) Stop(ctx context.Context) error {
	return fd.p.stop(ctx, syscall.SIGTERM)
}

// fdTraffic are the lines freeDiameterd -dd logs for the messages it
// exchanges with node (libfdcore: "SENT to 'peer': 'Name'app/code f:flags"
// and "RCV from 'peer': ... app/code f:flags"; R is the request flag).
type fdTraffic struct {
	open, sentDWR, rcvDWA, rcvDWR, sentDWA, sentDPR, rcvDPA, rcvDPR, sentDPA *regexp.Regexp
}

func fdTrafficWith(node string) fdTraffic {
	q := regexp.QuoteMeta(node)
	sent := func(code string, request bool) *regexp.Regexp {
		f := "-"
		if request {
			f = "R"
		}
		return regexp.MustCompile(`SENT to '` + q + `': .*\b0/` + code + ` f:` + f)
	}
	rcv := func(code string, request bool) *regexp.Regexp {
		f := "-"
		if request {
			f = "R"
		}
		return regexp.MustCompile(`RCV from '` + q + `': .*\b0/` + code + ` f:` + f)
	}
	return fdTraffic{
		open:    regexp.MustCompile(`'STATE_WAITCEA'\s+-> 'STATE_OPEN'\s+'` + q + `'`),
		sentDWR: sent("280", true), rcvDWA: rcv("280", false),
		rcvDWR: rcv("280", true), sentDWA: sent("280", false),
		sentDPR: sent("282", true), rcvDPA: rcv("282", false),
		rcvDPR: rcv("282", true), sentDPA: sent("282", false),
	}
}

// writeSelfSigned writes a P-256 key and a self-signed certificate for
// name into dir and returns their paths.
func writeSelfSigned(t testing.TB, dir, name string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		DNSNames:              []string{name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
