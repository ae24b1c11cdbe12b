package loadgen

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rcmhss/rcmhss/hss/redisstore/redistest"
)

// TestBaselineRedisRoundTrip checks the baseline spends exactly one INCR per
// request in a real redis-server: after 3 requests per IMSI each key is 3.
func TestBaselineRedisRoundTrip(t *testing.T) {
	addr := redistest.Start(t)
	rc := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { rc.Close() })
	_, target := startBaseline(t, BaselineConfig{Redis: rc})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const n = 50
	rep, err := Run(ctx, Config{Targets: []string{target}, Conns: 2, Window: 16, Requests: 3 * n,
		IMSIs: testRange(t, "001010000000001", n)}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	air, _ := rep.Kind("AIR")
	if air.Count(Result{Code: 2001}) != 3*n {
		t.Fatalf("results %v", air.Results)
	}
	for _, imsi := range []string{"001010000000001", "001010000000025", "001010000000050"} {
		v, err := rc.Get(ctx, "diamload:"+imsi).Int()
		if err != nil || v != 3 {
			t.Fatalf("INCR count of %s = %d, %v; want 3", imsi, v, err)
		}
	}
	if keys, _ := rc.DBSize(ctx).Result(); keys != n {
		t.Fatalf("%d keys, want %d", keys, n)
	}
}

// TestStackBaseline runs the same load against rcmhss's own Diameter server
// hosting the stateless application.
func TestStackBaseline(t *testing.T) {
	srv, err := NewStackBaseline(BaselineConfig{Listen: []string{"tcp://127.0.0.1:0"}}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := Run(ctx, Config{Targets: []string{"tcp://" + srv.Addrs()[0].String()}, Conns: 2, Window: 16,
		Requests: 2000, Mix: Mix{{ScenarioAIR, 1}, {ScenarioULR, 1}}, IMSIs: testRange(t, "001010000000001", 10)},
		testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"AIR", "ULR"} {
		kr, _ := rep.Kind(k)
		if kr.Count(Result{Code: 2001}) != 1000 {
			t.Fatalf("%s: results %v", k, kr.Results)
		}
	}
}

// TestTimeouts runs against a peer that completes the capabilities exchange
// and then never answers: every request times out, none is lost, and the
// run still ends.
func TestTimeouts(t *testing.T) {
	b, err := NewBaseline(BaselineConfig{Listen: []string{"tcp://127.0.0.1:0"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				fr := newFrameReader(nc, 4096)
				for {
					f, err := fr.next()
					if err != nil {
						return
					}
					if uint24(f[5:8]) == cmdCER {
						if _, err := nc.Write(withIDs(b.cea, f)); err != nil {
							return
						}
					}
				}
			}()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := Run(ctx, Config{Targets: []string{"tcp://" + ln.Addr().String()}, Conns: 1, Window: 10, Requests: 25,
		Timeout: 50 * time.Millisecond, IMSIs: testRange(t, "001010000000001", 10)}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Timeouts != 25 || rep.Answered != 0 || rep.Sent != 25 {
		t.Fatalf("sent %d answered %d timeouts %d; want 25, 0, 25", rep.Sent, rep.Answered, rep.Timeouts)
	}
}

func TestCapabilitiesRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		f, err := newFrameReader(nc, 4096).next()
		if err != nil {
			return
		}
		var e encoder
		e.u32(avpResultCode, 0, 3010) // DIAMETER_UNKNOWN_PEER
		m := message(flagError, cmdCER, 0, e.b)
		copy(m[12:20], f[12:20])
		nc.Write(m)
	}()
	_, err = Run(context.Background(), Config{Targets: []string{"tcp://" + ln.Addr().String()}, Requests: 1,
		IMSIs: testRange(t, "001010000000001", 1)}, testLogger(t))
	if !errors.Is(err, ErrCapabilities) || !strings.Contains(err.Error(), "3010") {
		t.Fatalf("err %v, want ErrCapabilities with 3010", err)
	}
}

func TestSCTP(t *testing.T) {
	b, err := NewBaseline(BaselineConfig{Listen: []string{"sctp://127.0.0.1:0"}}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		if strings.Contains(err.Error(), "protocol not supported") {
			t.Skipf("no SCTP in this kernel: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	addr := b.Addrs()[0].String()
	port := addr[strings.LastIndex(addr, ":")+1:]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := Run(ctx, Config{Targets: []string{"sctp://127.0.0.1:" + port}, Conns: 2, Window: 8, Requests: 500,
		IMSIs: testRange(t, "001010000000001", 10)}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Answered != 500 || b.Answered() != 500 {
		t.Fatalf("answered %d, baseline %d", rep.Answered, b.Answered())
	}
}

func TestCLI(t *testing.T) {
	_, target := startBaseline(t, BaselineConfig{})
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	code := Main(context.Background(), []string{"run", "--target", target, "--requests", "1000", "--conns", "2",
		"--mix", "air=8,ulr=2", "--imsi-start", "001010000000001", "--imsi-count", "100", "--progress", "off",
		"--json", dir + "/o.json", "--csv", dir + "/o.csv", "--report", dir + "/o.html"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"AIR", "ULR", "result 2001", "p99.9"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("summary lacks %q:\n%s", want, out.String())
		}
	}
	if !strings.Contains(out.String(), "answered "+strconv.Itoa(1000)) {
		t.Fatalf("summary:\n%s", out.String())
	}
	for _, bad := range [][]string{
		{"run", "--target", target},                                      // unbounded
		{"run", "--target", target, "--requests", "1", "--mix", "air=x"}, // bad mix
		{"run", "--target", "udp://x:1", "--requests", "1"},              // bad scheme
		{"nonsense"},
	} {
		errOut.Reset()
		if code := Main(context.Background(), bad, &out, &errOut); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", bad, code, errOut.String())
		}
	}
}
