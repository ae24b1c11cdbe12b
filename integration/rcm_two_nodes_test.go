package integration

import (
	"context"
	"crypto/subtle"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/diameter/mmesim"
	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/hss/redisstore/redistest"
	"github.com/rcmhss/rcmhss/rcm"
)

// TestRCMSessionAcrossNodes: two rcmhss nodes with the demo on one
// redis-server. The device attaches through node A and its provisioning
// session is started and accepted on A's provisioning server; it confirms on
// B's. B performs the swap and sends the CLR for the guest identity to the
// MME (connected to both nodes under one Origin-Host), and the new IMSI then
// authenticates through either node while the guest identity gets no vector.
// rcmdevice takes one provisioning URL, so the device side is driven here
// through the same packages (mmesim, rcm's provisioning client).
func TestRCMSessionAcrossNodes(t *testing.T) {
	lookTool(t, "redis-server", "redis-server")
	d := readmeDemo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rs := redistest.StartWithArgs(t)
	dir := t.TempDir()
	pkiDir := filepath.Join(dir, "pki")
	if out, err := runDevice(ctx, t, dir, "pki", "--dir", pkiDir); err != nil {
		t.Fatalf("rcmdevice pki: %v\n%s", err, out)
	}
	var nodes []*Node
	for _, h := range []string{"hss-a.rcmhss.localdomain", "hss-b.rcmhss.localdomain"} {
		nodes = append(nodes, demoNode(t, d, pkiDir, map[string]string{
			"RCMHSS_REDIS_ADDR":           rs.Addr,
			"RCMHSS_REDIS_KEY_PREFIX":     "cross:",
			"RCMHSS_DIAMETER_ORIGIN_HOST": h,
		}))
	}
	visited, err := hss.PLMNFromString("00101")
	if err != nil {
		t.Fatal(err)
	}
	mme := func(n *Node) *mmesim.MME {
		m, err := mmesim.Dial(mmesim.Config{HSSAddr: nodePeerAddr(t, n), Network: "tcp", OriginHost: "mme.cross.test",
			OriginRealm: "cross.test", DestinationRealm: "rcmhss.localdomain", VisitedPLMN: visited})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(m.Close)
		return m
	}
	mmeA, mmeB := mme(nodes[0]), mme(nodes[1])

	imei := pkiIMEIs(t, pkiDir)[0]
	cred, err := rcm.LoadDeviceCredentials(rcm.DemoDeviceFiles(pkiDir, rcm.IMEI(imei)))
	if err != nil {
		t.Fatal(err)
	}
	roots, err := rcm.LoadCertPool(filepath.Join(pkiDir, rcm.DemoInfraRootFile))
	if err != nil {
		t.Fatal(err)
	}
	guest := hss.IMSI("001019990000077")
	sess, err := rcm.NewDeviceSession(cred)
	if err != nil {
		t.Fatal(err)
	}
	boot, err := sess.Bootstrap(guest, visited, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	aia, err := mmeA.AIR(ctx, guest, 1, &boot)
	if err != nil || aia.Result != diameter.Success || len(aia.Vectors) != 1 || aia.Proof == nil {
		t.Fatalf("guest AIR through A: %v %+v", err, aia.Result)
	}
	if ula, err := mmeA.ULR(ctx, guest, cred.IMEI); err != nil || ula.Result != diameter.Success {
		t.Fatalf("guest ULR through A: %v %v", err, ula.Result)
	}

	pcA, err := rcm.NewProvisioningClient(provisioningURL(t, nodes[0]), cred, roots)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := pcA.Provision(ctx, guest, func(rcm.OfferView) rcm.OfferDecision { return rcm.OfferDecision{Accept: true} }, nil)
	if err != nil {
		t.Fatalf("session on A: %v", err)
	}
	pcB, err := rcm.NewProvisioningClient(provisioningURL(t, nodes[1]), cred, roots)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := pcB.Session(ctx, pr.SessionID); err != nil || v.State != rcm.StateProvisioned {
		t.Fatalf("B does not see A's session as provisioned: %v %+v", err, v)
	}
	cv, err := pcB.Confirm(ctx, pr.SessionID)
	if err != nil || cv.State != rcm.StateSwapped {
		t.Fatalf("confirm on B: %v %+v", err, cv)
	}
	cctx, ccancel := context.WithTimeout(ctx, 20*time.Second)
	clr, err := mmeB.WaitCLR(cctx, guest)
	ccancel()
	if err != nil {
		t.Fatalf("no CLR for the guest identity through B: %v", err)
	}
	t.Logf("CLR after the swap on B: %+v", clr)

	old, err := mmeA.AIR(ctx, guest, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if old.Result == diameter.Success && len(old.Vectors) > 0 {
		t.Error("the guest identity still gets vectors after the swap")
	}
	creds := pr.Credentials
	for i, m := range []*mmesim.MME{mmeA, mmeB} {
		a, err := m.AIR(ctx, creds.IMSI, 1, nil)
		if err != nil || a.Result != diameter.Success || len(a.Vectors) != 1 {
			t.Fatalf("new IMSI through node %d: %v %v", i, err, a.Result)
		}
		v := a.Vectors[0]
		res, kasme, err := rcm.USIM{K: creds.K, OPc: creds.OPc}.Authenticate(v.RAND, v.AUTN, visited)
		if err != nil || subtle.ConstantTimeCompare(res[:], v.XRES) != 1 || kasme != v.KASME {
			t.Errorf("new IMSI through node %d: AKA with the delivered keys failed (%v)", i, err)
		}
	}
	for _, n := range nodes {
		if strings.Contains(n.Stderr(), creds.K.Hex()) || strings.Contains(n.Stderr(), creds.OPc.Hex()) {
			t.Error("a node logged the delivered K or OPc")
		}
	}
}
