package integration

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"github.com/redis/go-redis/v9"

	"github.com/rcmhss/rcmhss/diameter/diametertest"
	"github.com/rcmhss/rcmhss/hss/redisstore/redistest"
)

// xnMME is the MME of the cross-node test (cmdCLR, cmdIDR: wire_session_test.go).
const xnMME = "mme.xn.test"

// TestHSSRequestsAcrossNodes is issue 8's cross-node delivery on the real
// binary: three rcmhss nodes on one redis-server, one MME.
//
//  1. The MME attaches through A (ULR); an operator's PATCH on B gives an
//     IDR that reaches the MME through A, as B's request.
//  2. A is killed (SIGKILL) and a PATCH is made on B while no node holds
//     the MME: B keeps retrying until the MME has reconnected, to C, which
//     delivers the IDR (with the T flag, RFC 6733 5.5.4).
//  3. The MME moves to B; a PATCH on C reaches it through B.
//  4. A DELETE on B sends the CLR on B's own connection.
//
// Every step is checked by what the MME received, never by elapsed time.
func TestHSSRequestsAcrossNodes(t *testing.T) {
	lookTool(t, "redis-server", "redis-server")
	rs := redistest.StartWithArgs(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	defer rdb.Close()

	node := func(name string) *Node {
		return StartNode(t, NodeOptions{Env: map[string]string{
			"RCMHSS_REDIS_ADDR":           rs.Addr,
			"RCMHSS_REDIS_KEY_PREFIX":     "xn:",
			"RCMHSS_DIAMETER_ORIGIN_HOST": "hss-" + name + ".rcmhss.localdomain",
			// The retry deadline of step 2 is the request's own timeout.
			"RCMHSS_S6A_REQUEST_TIMEOUT":              "90s",
			"RCMHSS_REDIS_PEER_TTL":                   "2s",
			"RCMHSS_DIAMETER_FORWARD_ATTEMPT_TIMEOUT": "500ms",
		}})
	}
	a, b, c := node("a"), node("b"), node("c")
	owner := func() string {
		v, _ := rdb.Get(ctx, "xn:peer:{"+xnMME+"}").Result()
		return v
	}
	// connect attaches the MME to n and waits until the directory says so.
	connect := func(n *Node, name string) *diametertest.Peer {
		t.Helper()
		p := diametertest.NewPeer(t, nodePeerAddr(t, n), "tcp", diametertest.PeerOptions{
			OriginHost: xnMME, OriginRealm: "xn.test",
			Apps: []diametertest.AppSpec{{ID: s6aAppID, Vendor: vendor3GPP}},
		})
		pollFor(ctx, t, "the peer directory to name node "+name, func() bool {
			return strings.HasPrefix(owner(), "hss-"+name+".rcmhss.localdomain/")
		})
		return p
	}
	patch := func(n *Node, body string) Response {
		r, err := n.Do(ctx, "PATCH", "/v1/subscribers/"+xnIMSI, "application/merge-patch+json", []byte(body))
		if err != nil {
			t.Errorf("PATCH: %v", err)
		}
		return r
	}

	body := `{"imsi":"` + xnIMSI + `","k":"465b5ce8b199b49faa5f0a2ee238a6bc","opc":"cd63cb71954a9f4e48a5994e37a02baf","apns":[{"name":"internet"}]}`
	if r, err := a.Do(ctx, "POST", "/v1/subscribers", "application/json", []byte(body)); err != nil || r.Status != http.StatusCreated {
		t.Fatalf("create: %v %d %s", err, r.Status, r.Body)
	}
	mmeA := connect(a, "a")
	if ula, err := mmeA.Do(ctx, xnULR(mmeA)); err != nil || diametertest.ResultCode(ula) != diam.Success {
		t.Fatalf("ULR through A: %v %v", err, ula)
	}

	// 1. PATCH on B, MME on A.
	if r := patch(b, `{"msisdn":"33600000801"}`); r.Status != http.StatusOK {
		t.Fatalf("PATCH on B: %d %s", r.Status, r.Body)
	}
	idr := waitRequest(ctx, t, mmeA, cmdIDR)
	checkHSSRequest(t, idr, "hss-b.rcmhss.localdomain")
	if idr.Header.CommandFlags&diam.RetransmittedFlag != 0 {
		t.Error("step 1: the IDR went out on the first attempt but carries the T flag")
	}

	// 2. A dies; the change is made while its entry still names it.
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-a.exited
	<-mmeA.Done()
	patched := make(chan Response, 1)
	go func() { patched <- patch(b, `{"msisdn":"33600000802"}`) }()
	// B's IDR is pending (the PATCH waits for it) through the whole time the
	// dead node's entry takes to expire: the owner is unreachable.
	pollFor(ctx, t, "the dead node's directory entry to expire", func() bool {
		select {
		case r := <-patched:
			t.Fatalf("the PATCH returned (%d %s) before the MME reconnected: B gave up", r.Status, r.Body)
		default:
		}
		return owner() == ""
	})
	mmeC := connect(c, "c")
	if r := <-patched; r.Status != http.StatusOK {
		t.Fatalf("PATCH on B while the owner was down: %d %s", r.Status, r.Body)
	}
	idr = waitRequest(ctx, t, mmeC, cmdIDR)
	checkHSSRequest(t, idr, "hss-b.rcmhss.localdomain")
	if idr.Header.CommandFlags&diam.RetransmittedFlag == 0 {
		t.Error("step 2: the retried IDR lacks the T flag")
	}

	// 3. The MME moves to B; the change is made on C.
	mmeC.Close()
	mmeB := connect(b, "b")
	if r := patch(c, `{"msisdn":"33600000803"}`); r.Status != http.StatusOK {
		t.Fatalf("PATCH on C: %d %s", r.Status, r.Body)
	}
	checkHSSRequest(t, waitRequest(ctx, t, mmeB, cmdIDR), "hss-c.rcmhss.localdomain")

	// 4. DELETE on B, where the MME is.
	if r, err := b.Do(ctx, "DELETE", "/v1/subscribers/"+xnIMSI, "", nil); err != nil || r.Status != http.StatusNoContent {
		t.Fatalf("DELETE on B: %v %d %s", err, r.Status, r.Body)
	}
	checkHSSRequest(t, waitRequest(ctx, t, mmeB, cmdCLR), "hss-b.rcmhss.localdomain")

	// Each change reached the MME once: nothing else is queued on any of
	// its connections.
	for name, p := range map[string]*diametertest.Peer{"A": mmeA, "C": mmeC, "B": mmeB} {
		if n := countRequests(p, cmdIDR, cmdCLR); n != 0 {
			t.Errorf("the MME's connection to %s received %d extra IDR/CLR", name, n)
		}
	}
	for _, n := range []*Node{b, c} {
		if err := n.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	}
	// Node B logs the IMSI masked at info level, forwarded or not.
	if strings.Contains(b.Stderr(), xnIMSI) || strings.Contains(c.Stderr(), xnIMSI) {
		t.Error("unmasked IMSI in the info-level log")
	}
}

const xnIMSI = "001010000000808"

// xnULR is an initial-attach Update-Location-Request (TS 29.272 7.2.3).
func xnULR(p *diametertest.Peer) *diam.Message {
	ulr := p.NewRequest(316, s6aAppID, "rcmhss.localdomain")
	ulr.NewAVP(avp.VendorSpecificApplicationID, avp.Mbit, 0, &diam.GroupedAVP{AVP: []*diam.AVP{
		diam.NewAVP(avp.VendorID, avp.Mbit, 0, datatype.Unsigned32(vendor3GPP)),
		diam.NewAVP(avp.AuthApplicationID, avp.Mbit, 0, datatype.Unsigned32(s6aAppID)),
	}})
	ulr.NewAVP(avp.AuthSessionState, avp.Mbit, 0, datatype.Enumerated(1))
	ulr.NewAVP(avp.UserName, avp.Mbit, 0, datatype.UTF8String(xnIMSI))
	ulr.NewAVP(avp.RATType, avp.Mbit|avp.Vbit, vendor3GPP, datatype.Enumerated(1004))
	// S6a/S6d-Indicator | Initial-Attach-Indicator (TS 29.272 7.3.7).
	ulr.NewAVP(avp.ULRFlags, avp.Mbit|avp.Vbit, vendor3GPP, datatype.Unsigned32(1<<1|1<<5))
	ulr.NewAVP(avp.VisitedPLMNID, avp.Mbit|avp.Vbit, vendor3GPP, datatype.OctetString([]byte{0x00, 0xf1, 0x10}))
	return ulr
}

// checkHSSRequest: the request is the originating node's (Origin-Host,
// Session-Id of its own) for the test subscriber.
func checkHSSRequest(t *testing.T, m *diam.Message, origin string) {
	t.Helper()
	if h := originHost(m); h != origin {
		t.Errorf("%d: Origin-Host %q, want the originating node %q", m.Header.CommandCode, h, origin)
	}
	if sid, err := m.FindAVP(avp.SessionID, 0); err != nil || !strings.HasPrefix(string(sid.Data.(datatype.UTF8String)), origin+";") {
		t.Errorf("%d: Session-Id %v, want one of %s", m.Header.CommandCode, sid, origin)
	}
	if u, err := m.FindAVP(avp.UserName, 0); err != nil || u.Data != datatype.UTF8String(xnIMSI) {
		t.Errorf("%d: User-Name %v", m.Header.CommandCode, u)
	}
}

// waitRequest returns the next request with command code cmd that p
// received, skipping the others (DWR).
func waitRequest(ctx context.Context, t *testing.T, p *diametertest.Peer, cmd uint32) *diam.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		select {
		case m := <-p.Received():
			if m.Header.CommandCode == cmd {
				return m
			}
		case <-ctx.Done():
			t.Fatalf("no request %d reached the MME", cmd)
		}
	}
}

// countRequests drains what p has received so far and counts the requests
// with one of the command codes.
func countRequests(p *diametertest.Peer, cmds ...uint32) int {
	n := 0
	for {
		select {
		case m := <-p.Received():
			for _, c := range cmds {
				if m.Header.CommandCode == c {
					n++
				}
			}
		default:
			return n
		}
	}
}

// pollFor polls cond every 20ms until it holds or ctx ends.
func pollFor(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v", what, fmt.Errorf("gave up: %w", ctx.Err()))
		case <-time.After(20 * time.Millisecond):
		}
	}
}
