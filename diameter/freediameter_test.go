package diameter_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"

	"github.com/rcmhss/rcmhss/diameter"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// writeSelfSigned writes a throwaway certificate: freeDiameterd refuses to
// start without TLS credentials even when the peer connection is plain TCP.
func writeSelfSigned(t *testing.T, dir string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fd.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, DNSNames: []string{"fd.test"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600)
	return cert, key
}

// TestFreeDiameterPeer has freeDiameterd, an independent implementation,
// connect to the server: capabilities exchange, a request we originate and
// the DPR/DPA of Shutdown.
func TestFreeDiameterPeer(t *testing.T) {
	fd, err := exec.LookPath("freeDiameterd")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("freeDiameterd not installed, and CI is set: .ci/run installs it (Debian package freediameter)")
		}
		t.Skip("freeDiameterd not installed (Debian package freediameter)")
	}
	logs := &syncBuffer{}
	srv, err := diameter.NewServer(diameter.Config{
		Listen: []string{"tcp://127.0.0.1:0"}, OriginHost: testHost, OriginRealm: realm, AllowLoopback: true,
	}, diameter.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Register(&testApp{}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	port := srv.Addrs()[0].(*net.TCPAddr).Port

	dir := t.TempDir()
	cert, key := writeSelfSigned(t, dir)
	conf := filepath.Join(dir, "fd.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf(`Identity = "fd.test";
Realm = "fd.realm";
Port = %d;
SecPort = %d;
ListenOn = "127.0.0.1";
No_SCTP;
No_IPv6;
TLS_Cred = "%s", "%s";
TLS_CA = "%s";
ConnectPeer = "%s" { ConnectTo = "127.0.0.1"; Port = %d; No_TLS; };
`, freePort(t), freePort(t), cert, key, cert, testHost, port)), 0o600)

	out := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, fd, "-c", conf)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		if t.Failed() {
			t.Logf("freeDiameterd output:\n%s\nserver log:\n%s", out.String(), logs.String())
		}
	})

	deadline := time.Now().Add(20 * time.Second)
	for !hasPeer(srv, "fd.test") {
		if time.Now().After(deadline) {
			t.Fatal("freeDiameterd did not complete the capabilities exchange")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// A request we originate is answered by freeDiameter and matched.
	req := diam.NewRequest(280, 0, nil)
	req.NewAVP(avp.OriginStateID, avp.Mbit, 0, datatype.Unsigned32(srv.OriginStateID()))
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	ans, err := srv.Send(sctx, "fd.test", req)
	if err != nil {
		t.Fatalf("DWR to freeDiameter: %v", err)
	}
	if r, ok := diameter.ResultOf(ans); !ok || r.Code != 2001 {
		t.Fatalf("DWA from freeDiameter: %+v", r)
	}

	shctx, shcancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer shcancel()
	if err := srv.Shutdown(shctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if l := logs.String(); strings.Contains(l, "no DPA from peer") {
		t.Fatalf("freeDiameter did not answer the DPR:\n%s", l)
	}
	t.Logf("server log:\n%s", logs.String())
}

func hasPeer(s *diameter.Server, host string) bool {
	for _, p := range s.Peers() {
		if p.OriginHost == host {
			return true
		}
	}
	return false
}
