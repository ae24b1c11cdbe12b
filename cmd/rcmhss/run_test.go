package main

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
)

// Every package validates its own Config; newServer reports all their
// problems together, before anything is opened.
func TestNewServerReportsEveryProblem(t *testing.T) {
	c, err := LoadConfig(repoConfig, true)
	if err != nil {
		t.Fatal(err)
	}
	c.Diameter.OriginRealm = ""
	c.HSS.MaxVectors = 0
	c.HSS.HomePLMNs = []string{"0010"}
	c.Redis.Addr = "a:1,b:2" // several addresses without sentinel or cluster
	c.Admin.Token = "short"
	_, err = newServer(context.Background(), c, slog.New(slog.DiscardHandler))
	if err == nil {
		t.Fatal("newServer accepted an invalid configuration")
	}
	for _, want := range []string{"origin realm", "max_vectors", "home_plmns[0]", "several addresses", "admin.token", "s6a: config: origin realm"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not report %q:\n%v", want, err)
		}
	}
}

// SCTP listeners are kept only where the kernel supports SCTP; elsewhere they
// are dropped with a WARN so that the lab default still starts.
func TestDiameterConfigSCTP(t *testing.T) {
	c, err := LoadConfig(repoConfig, true)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	d := c.diameterConfig(slog.New(slog.NewJSONHandler(&logs, nil)))
	hasSCTP := slices.ContainsFunc(d.Listen, func(l string) bool { return strings.HasPrefix(l, "sctp") })
	if hasSCTP != sctpSupported() {
		t.Fatalf("listen %v with sctpSupported()=%v", d.Listen, sctpSupported())
	}
	if !slices.Contains(d.Listen, "tcp://127.0.0.1:3868") {
		t.Fatalf("tcp listener lost: %v", d.Listen)
	}
	if warned := strings.Contains(logs.String(), `"level":"WARN"`); warned == sctpSupported() {
		t.Fatalf("WARN logged = %v with sctpSupported()=%v: %s", warned, sctpSupported(), logs.String())
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
}
