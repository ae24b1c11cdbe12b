package loadgen

import (
	"log/slog"
	"testing"
)

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(b))
	return len(b), nil
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// startBaseline runs a baseline responder on a free loopback port.
func startBaseline(t testing.TB, cfg BaselineConfig) (*Baseline, string) {
	t.Helper()
	if cfg.Listen == nil {
		cfg.Listen = []string{"tcp://127.0.0.1:0"}
	}
	b, err := NewBaseline(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, "tcp://" + b.Addrs()[0].String()
}

func testRange(t testing.TB, start string, n uint64) IMSIRange {
	t.Helper()
	r, err := ParseIMSIRange(start, n, false)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
