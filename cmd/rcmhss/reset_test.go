package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rcmhss/rcmhss/diameter/diametertest"
	"github.com/rcmhss/rcmhss/diameter/s6a"
)

// nextReset returns the User-Ids of the next S6a request the MME receives,
// which must be a Reset-Request (322).
func nextReset(t *testing.T, peer *diametertest.Peer) []string {
	t.Helper()
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	for {
		select {
		case m := <-peer.Received():
			if m.Header.ApplicationID != s6a.AppID {
				continue
			}
			if m.Header.CommandCode != 322 {
				t.Fatalf("next S6a request is %d, want an RSR (322)", m.Header.CommandCode)
			}
			var ids []string
			for _, a := range m.AVP {
				if a.Code == 1444 && a.VendorID == s6a.VendorID {
					ids = append(ids, string(a.Data.Serialize()))
				}
			}
			return ids
		case <-timer.C:
			t.Fatal("no RSR received")
		}
	}
}

// TestResetWired: on the embedded store the binary's server sends an MME an
// RSR for all subscribers when it first connects (the registrations died
// with the previous process), and POST /v1/reset sends one with the
// User-Ids asked for and reports the MME's answer.
func TestResetWired(t *testing.T) {
	c, err := LoadConfig(repoConfig, true)
	if err != nil {
		t.Fatal(err)
	}
	c.Diameter.Listen = []string{"tcp://127.0.0.1:0"}
	c.Telemetry.OTLPEndpoint = ""
	if len(c.Redis.Addrs()) != 0 {
		t.Fatalf("the lab config names Redis %v; this test needs the embedded store", c.Redis.Addrs())
	}
	s, err := newServer(context.Background(), c, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.diam.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.shutdown() })

	mme := diametertest.NewPeer(t, s.diam.Addrs()[0].String(), "tcp", diametertest.PeerOptions{
		OriginHost: "mme.test", OriginRealm: "test", Apps: []diametertest.AppSpec{{ID: s6a.AppID, Vendor: s6a.VendorID}}})
	if ids := nextReset(t, mme); len(ids) != 0 {
		t.Errorf("RSR after restart carries User-Ids %q, want none (all subscribers)", ids)
	}

	srv := httptest.NewServer(s.http.Handler)
	t.Cleanup(srv.Close)
	post := func(body string) (int, string) {
		req, _ := http.NewRequest("POST", srv.URL+"/v1/reset", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+c.Admin.Token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post(`{"user_ids": ["0010"]}`); code != http.StatusBadRequest || !strings.Contains(body, `"field":"user_ids[0]"`) {
		t.Errorf("bad User-Id: %d %s, want 400 naming user_ids[0]", code, body)
	}
	code, body := post(`{"user_ids": ["00101"]}`)
	if code != http.StatusOK || !strings.Contains(body, `"sent":1,"acknowledged":1`) || !strings.Contains(body, `"node":"mme.test","result":"acknowledged"`) {
		t.Errorf("reset: %d %s, want 200 acknowledged by mme.test", code, body)
	}
	// The bad request sent nothing: the next RSR is the good one.
	if ids := nextReset(t, mme); len(ids) != 1 || ids[0] != "00101" {
		t.Errorf("operator RSR carries User-Ids %q, want [00101]", ids)
	}
}
