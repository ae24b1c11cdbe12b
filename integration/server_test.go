package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"github.com/redis/go-redis/v9"

	"github.com/rcmhss/rcmhss/diameter/diametertest"
	"github.com/rcmhss/rcmhss/hss/redisstore/redistest"
)

const (
	s6aAppID   = 16777251
	vendor3GPP = 10415
)

// TestServerRefusesInvalidConfig: with the built-in (production) defaults and
// bad overrides, rcmhss exits 1 before listening and names every problem.
func TestServerRefusesInvalidConfig(t *testing.T) {
	bin := BuildCommand(t, "rcmhss")
	cfgFile := filepath.Join(t.TempDir(), "prod.yaml")
	if err := os.WriteFile(cfgFile, []byte("log:\n  level: info\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", cfgFile)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"RCMHSS_ADMIN_LISTEN=127.0.0.1:0",
		"RCMHSS_DIAMETER_LISTEN=udp://127.0.0.1:0",
		"RCMHSS_HSS_MAX_VECTORS=500",
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit = %v, want status 1; stderr:\n%s", err, stderr.String())
	}
	for _, want := range []string{"admin.token", "key-encryption key", "udp://127.0.0.1:0", "max_vectors"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr does not name %q:\n%s", want, stderr.String())
		}
	}
	if recs := logLines(t, stderr.String()); !hasLog(recs, "ERROR", "rcmhss: exiting") {
		t.Errorf("no JSON ERROR line for the refusal:\n%s", stderr.String())
	}
	if strings.Contains(stderr.String(), "rcmhss: ready") {
		t.Error("an invalid configuration got as far as listening")
	}
	// An explicit --config that does not exist is an error too.
	cmd = exec.Command(bin, "--config", filepath.Join(t.TempDir(), "absent.yaml"))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "absent.yaml") {
		t.Errorf("missing --config file: %v %s", err, out)
	}
}

// TestServerDiameterAndShutdown: a peer completes CER/CEA with S6a advertised,
// gets vectors over S6a for a subscriber provisioned through the admin API,
// the vectors show in /metrics, and SIGTERM makes the server send DPR
// (RFC 6733 5.4) before it exits 0.
func TestServerDiameterAndShutdown(t *testing.T) {
	n := StartNode(t, NodeOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	body := `{"imsi":"001010000000077","k":"465b5ce8b199b49faa5f0a2ee238a6bc","opc":"cd63cb71954a9f4e48a5994e37a02baf","apns":[{"name":"internet"}]}`
	if r, err := n.Do(ctx, "POST", "/v1/subscribers", "application/json", []byte(body)); err != nil || r.Status != http.StatusCreated {
		t.Fatalf("create: %v %d %s", err, r.Status, r.Body)
	}

	addr, ok := strings.CutPrefix(n.DiameterAddrs[0], "tcp://")
	if !ok {
		t.Fatalf("diameter addrs %v", n.DiameterAddrs)
	}
	peer := diametertest.NewPeer(t, addr, "tcp", diametertest.PeerOptions{
		OriginHost: "mme.test", OriginRealm: "test",
		Apps: []diametertest.AppSpec{{ID: s6aAppID, Vendor: vendor3GPP}, {ID: s13AppID, Vendor: vendor3GPP}},
	})
	apps, err := peer.CEA().FindAVPs(avp.AuthApplicationID, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The lab config switches on S6a, SWx (TS 29.273, 16777265) and S13
	// (TS 29.272 5.3, 16777252).
	for _, id := range []uint32{s6aAppID, 16777265, s13AppID} {
		advertised := false
		for _, a := range apps {
			advertised = advertised || a.Data == datatype.Unsigned32(id)
		}
		if !advertised {
			t.Errorf("CEA does not advertise application %d: %v", id, peer.CEA())
		}
	}

	aia, err := peer.Do(ctx, newAIR(peer, "001010000000077", 3))
	if err != nil {
		t.Fatal(err)
	}
	if rc := diametertest.ResultCode(aia); rc != diam.Success {
		t.Fatalf("AIA result %d: %v", rc, aia)
	}
	vectors, err := aia.FindAVPs(avp.EUTRANVector, vendor3GPP)
	if err != nil || len(vectors) != 3 {
		t.Fatalf("AIA carries %d E-UTRAN vectors (%v), want 3", len(vectors), err)
	}

	// S13: an IMEI blacklisted through the admin API is answered BLACKLISTED
	// by the EIR, and one on no list WHITELISTED (the lab default).
	entry := `{"kind":"imei","value":"35123456789012","status":"black"}`
	if r, err := n.Do(ctx, "PUT", "/v1/eir/entries", "application/json", []byte(entry)); err != nil || r.Status/100 != 2 {
		t.Fatalf("eir put: %v %d %s", err, r.Status, r.Body)
	}
	for imei, want := range map[string]datatype.Enumerated{"35123456789012": 1, "35999999999999": 0} {
		eca, err := peer.Do(ctx, newECR(peer, imei))
		if err != nil {
			t.Fatal(err)
		}
		st, err := eca.FindAVP(s13EquipmentStatus, vendor3GPP)
		if rc := diametertest.ResultCode(eca); rc != diam.Success || err != nil || st.Data != want {
			t.Errorf("ECA for %s: result %d, Equipment-Status %v (%v), want 2001 and %d", imei, rc, st, err, want)
		}
	}

	metrics := httpGet(t, n.AdminURL+"/metrics")
	if !regexp.MustCompile(`(?m)^hss_vectors_issued_total\{[^}]*kind="eutran"[^}]*\} 3$`).MatchString(metrics) {
		t.Errorf("/metrics does not count the 3 E-UTRAN vectors:\n%s", grepLines(metrics, "hss_vectors"))
	}
	if !regexp.MustCompile(`(?m)^diameter_requests_total\{[^}]*command="AIR"[^}]*\} 1$`).MatchString(metrics) {
		t.Errorf("/metrics does not count the AIR:\n%s", grepLines(metrics, "diameter_requests"))
	}

	stopped := make(chan error, 1)
	go func() { stopped <- n.Stop() }()
	deadline := time.After(30 * time.Second)
	for gotDPR := false; !gotDPR; {
		select {
		case m := <-peer.Received():
			gotDPR = m.Header.CommandCode == 282 && m.Header.CommandFlags&diam.RequestFlag != 0
		case <-deadline:
			t.Fatal("no DPR from the server after SIGTERM")
		}
	}
	if err := <-stopped; err != nil {
		t.Fatalf("exit after DPR: %v\n%s", err, n.Stderr())
	}
}

// TestServerOnRedis runs a node on a real redis-server with a KEK: keys are
// sealed at rest, and when Redis goes away the node turns unready, the API
// answers 503, the failures are counted, and SIGTERM still exits cleanly.
func TestServerOnRedis(t *testing.T) {
	rs := redistest.StartWithArgs(t)
	kek := make([]byte, 32)
	if _, err := rand.Read(kek); err != nil {
		t.Fatal(err)
	}
	token := "redis-test-token-" + randomHex(t)
	n := StartNode(t, NodeOptions{Env: map[string]string{
		"RCMHSS_REDIS_ADDR":                    rs.Addr,
		"RCMHSS_REDIS_KEY_PREFIX":              "it:",
		"RCMHSS_SECURITY_KEK":                  hex.EncodeToString(kek),
		"RCMHSS_SECURITY_ALLOW_PLAINTEXT_KEYS": "false",
		"RCMHSS_ADMIN_TOKEN":                   token,
		"RCMHSS_REDIS_READ_TIMEOUT":            "500ms",
		"RCMHSS_REDIS_DIAL_TIMEOUT":            "500ms",
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	k, opc := randomHex(t), randomHex(t)
	body := fmt.Sprintf(`{"imsi":"001010000000088","k":%q,"opc":%q}`, k, opc)
	if r, err := n.Do(ctx, "POST", "/v1/subscribers", "application/json", []byte(body)); err != nil || r.Status != http.StatusCreated {
		t.Fatalf("create: %v %d %s", err, r.Status, r.Body)
	}

	// At rest: nothing in Redis holds K or OPc in the clear.
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	defer rdb.Close()
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("redis keys: %v %v", keys, err)
	}
	var dump bytes.Buffer
	for _, key := range keys {
		if !strings.HasPrefix(key, "it:") {
			t.Errorf("key %q outside the configured prefix", key)
		}
		b, err := rdb.Dump(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		dump.WriteString(b)
	}
	for _, secret := range []string{k, opc} {
		raw, _ := hex.DecodeString(secret)
		if bytes.Contains(dump.Bytes(), raw) || bytes.Contains(dump.Bytes(), []byte(secret)) {
			t.Fatal("a key is stored in the clear in Redis although a KEK is configured")
		}
	}

	rs.Stop()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(n.AdminURL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d after Redis stopped", resp.StatusCode)
		}
		time.Sleep(50 * time.Millisecond)
	}
	r, err := n.Do(ctx, "GET", "/v1/subscribers/001010000000088", "", nil)
	if err != nil || r.Status != http.StatusServiceUnavailable {
		t.Fatalf("GET with Redis down: %v %d %s, want 503", err, r.Status, r.Body)
	}
	metrics := httpGet(t, n.AdminURL+"/metrics")
	if !regexp.MustCompile(`(?m)^hss_store_errors_total\{[^}]*op="get_subscriber"[^}]*\} [1-9]`).MatchString(metrics) {
		t.Errorf("/metrics does not count the store failure:\n%s", grepLines(metrics, "hss_store_errors"))
	}
	if err := n.Stop(); err != nil {
		t.Fatalf("exit with Redis down: %v\n%s", err, n.Stderr())
	}
	out := n.Stderr() + metrics
	if strings.Contains(out, k) || strings.Contains(out, opc) || strings.Contains(out, token) || strings.Contains(out, hex.EncodeToString(kek)) {
		t.Error("a secret (K, OPc, admin token or KEK) appears in the server's output")
	}
}

// newAIR builds an S6a Authentication-Information-Request (TS 29.272 7.2.5)
// for n E-UTRAN vectors, visited PLMN 001-01.
func newAIR(peer *diametertest.Peer, imsi string, n uint32) *diam.Message {
	air := peer.NewRequest(318, s6aAppID, "rcmhss.localdomain")
	air.NewAVP(avp.VendorSpecificApplicationID, avp.Mbit, 0, &diam.GroupedAVP{AVP: []*diam.AVP{
		diam.NewAVP(avp.VendorID, avp.Mbit, 0, datatype.Unsigned32(vendor3GPP)),
		diam.NewAVP(avp.AuthApplicationID, avp.Mbit, 0, datatype.Unsigned32(s6aAppID)),
	}})
	air.NewAVP(avp.AuthSessionState, avp.Mbit, 0, datatype.Enumerated(1))
	air.NewAVP(avp.UserName, avp.Mbit, 0, datatype.UTF8String(imsi))
	air.NewAVP(avp.VisitedPLMNID, avp.Mbit|avp.Vbit, vendor3GPP, datatype.OctetString([]byte{0x00, 0xf1, 0x10}))
	air.NewAVP(avp.RequestedEUTRANAuthenticationInfo, avp.Mbit|avp.Vbit, vendor3GPP, &diam.GroupedAVP{AVP: []*diam.AVP{
		diam.NewAVP(avp.NumberOfRequestedVectors, avp.Mbit|avp.Vbit, vendor3GPP, datatype.Unsigned32(n)),
		diam.NewAVP(avp.ImmediateResponsePreferred, avp.Mbit|avp.Vbit, vendor3GPP, datatype.Unsigned32(0)),
	}})
	return air
}

func grepLines(s, substr string) string {
	var out []string
	for line := range strings.SplitSeq(s, "\n") {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// TestServerNotifiesServingMME: the binary registers the S6a plugin as the
// HSS's observer, so an operator's PATCH reaches the MME that sent the ULR
// as an IDR (TS 29.272 5.2.2.1) and a DELETE as a CLR (5.2.1.2), and the
// admin API shows the MME as serving_mme.
func TestServerNotifiesServingMME(t *testing.T) {
	n := StartNode(t, NodeOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const imsi = "001010000000055"
	body := `{"imsi":"` + imsi + `","k":"465b5ce8b199b49faa5f0a2ee238a6bc","opc":"cd63cb71954a9f4e48a5994e37a02baf","apns":[{"name":"internet"}]}`
	if r, err := n.Do(ctx, "POST", "/v1/subscribers", "application/json", []byte(body)); err != nil || r.Status != http.StatusCreated {
		t.Fatalf("create: %v %d %s", err, r.Status, r.Body)
	}
	peer := diametertest.NewPeer(t, strings.TrimPrefix(n.DiameterAddrs[0], "tcp://"), "tcp", diametertest.PeerOptions{
		OriginHost: "mme1.test", OriginRealm: "test",
		Apps: []diametertest.AppSpec{{ID: s6aAppID, Vendor: vendor3GPP}},
	})
	ulr := peer.NewRequest(316, s6aAppID, "rcmhss.localdomain")
	ulr.NewAVP(avp.VendorSpecificApplicationID, avp.Mbit, 0, &diam.GroupedAVP{AVP: []*diam.AVP{
		diam.NewAVP(avp.VendorID, avp.Mbit, 0, datatype.Unsigned32(vendor3GPP)),
		diam.NewAVP(avp.AuthApplicationID, avp.Mbit, 0, datatype.Unsigned32(s6aAppID)),
	}})
	ulr.NewAVP(avp.AuthSessionState, avp.Mbit, 0, datatype.Enumerated(1))
	ulr.NewAVP(avp.UserName, avp.Mbit, 0, datatype.UTF8String(imsi))
	ulr.NewAVP(avp.RATType, avp.Mbit|avp.Vbit, vendor3GPP, datatype.Enumerated(1004))
	// S6a/S6d-Indicator | Initial-Attach-Indicator (TS 29.272 7.3.7).
	ulr.NewAVP(avp.ULRFlags, avp.Mbit|avp.Vbit, vendor3GPP, datatype.Unsigned32(1<<1|1<<5))
	ulr.NewAVP(avp.VisitedPLMNID, avp.Mbit|avp.Vbit, vendor3GPP, datatype.OctetString([]byte{0x00, 0xf1, 0x10}))
	ula, err := peer.Do(ctx, ulr)
	if err != nil || diametertest.ResultCode(ula) != diam.Success {
		t.Fatalf("ULR: %v %v", err, ula)
	}
	r, err := n.Do(ctx, "GET", "/v1/subscribers/"+imsi, "", nil)
	if err != nil || r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"serving_mme":{"host":"mme1.test"`) {
		t.Fatalf("GET after ULR: %v %d %s", err, r.Status, r.Body)
	}

	waitFor := func(code uint32) *diam.Message {
		t.Helper()
		deadline := time.After(20 * time.Second)
		for {
			select {
			case m := <-peer.Received():
				if m.Header.CommandCode == code && m.Header.CommandFlags&diam.RequestFlag != 0 {
					return m
				}
			case <-deadline:
				t.Fatalf("no request %d reached the MME", code)
			}
		}
	}
	if r, err := n.Do(ctx, "PATCH", "/v1/subscribers/"+imsi, "application/merge-patch+json", []byte(`{"msisdn":"33600000055"}`)); err != nil || r.Status != http.StatusOK {
		t.Fatalf("PATCH: %v %d %s", err, r.Status, r.Body)
	}
	idr := waitFor(319)
	if u, err := idr.FindAVP(avp.UserName, 0); err != nil || u.Data != datatype.UTF8String(imsi) {
		t.Errorf("IDR User-Name: %v %v", u, err)
	}
	if r, err := n.Do(ctx, "DELETE", "/v1/subscribers/"+imsi, "", nil); err != nil || r.Status != http.StatusNoContent {
		t.Fatalf("DELETE: %v %d %s", err, r.Status, r.Body)
	}
	clr := waitFor(317)
	if u, err := clr.FindAVP(avp.UserName, 0); err != nil || u.Data != datatype.UTF8String(imsi) {
		t.Errorf("CLR User-Name: %v %v", u, err)
	}
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	// The whole S6a session at the default level: the IMSI is masked.
	if strings.Contains(n.Stderr(), imsi) {
		t.Errorf("unmasked IMSI in the info-level log:\n%s", grepLines(n.Stderr(), imsi))
	}
}

const (
	s13AppID           = 16777252
	s13EquipmentStatus = 1445
)

// newECR is an ME-Identity-Check-Request as an MME sends it (TS 29.272
// 7.2.19), without User-Name (it is optional).
func newECR(p *diametertest.Peer, imei string) *diam.Message {
	m := p.NewRequest(324, s13AppID, "rcmhss.localdomain")
	m.NewAVP(avp.VendorSpecificApplicationID, avp.Mbit, 0, &diam.GroupedAVP{AVP: []*diam.AVP{
		diam.NewAVP(avp.VendorID, avp.Mbit, 0, datatype.Unsigned32(vendor3GPP)),
		diam.NewAVP(avp.AuthApplicationID, avp.Mbit, 0, datatype.Unsigned32(s13AppID)),
	}})
	m.NewAVP(avp.AuthSessionState, avp.Mbit, 0, datatype.Enumerated(1))
	m.NewAVP(1401, avp.Mbit|avp.Vbit, vendor3GPP, &diam.GroupedAVP{AVP: []*diam.AVP{
		diam.NewAVP(1402, avp.Mbit|avp.Vbit, vendor3GPP, datatype.UTF8String(imei)),
	}})
	return m
}
