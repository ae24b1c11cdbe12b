package integration

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"

	"github.com/rcmhss/rcmhss/diameter/diametertest"
	"github.com/rcmhss/rcmhss/hss/redisstore/redistest"
)

// TestDuplicateAnswerAcrossNodes is issue 8's duplicate detection on the real
// binary: two rcmhss nodes on one redis-server, an AIR answered by node A,
// then the same request retransmitted (T flag, same Origin-Host and
// End-to-End identifier, RFC 6733 5.5.4) to node B, as a relay does when A
// stops answering. Only one SQN may be reserved: B's answer carries A's SQN
// and the next fresh AIR gets the SQN right after it. By default (request
// claims) B builds its answer from A's reservation; with
// redis.shared_answers B sends A's answer byte for byte.
func TestDuplicateAnswerAcrossNodes(t *testing.T) {
	for _, shared := range []bool{false, true} {
		t.Run(fmt.Sprintf("shared_answers=%v", shared), func(t *testing.T) { testDuplicateAcrossNodes(t, shared) })
	}
}

func testDuplicateAcrossNodes(t *testing.T, shared bool) {
	lookTool(t, "redis-server", "redis-server")
	rs := redistest.StartWithArgs(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var nodes []*Node
	for _, h := range []string{"hss-a.rcmhss.localdomain", "hss-b.rcmhss.localdomain"} {
		nodes = append(nodes, StartNode(t, NodeOptions{Env: map[string]string{
			"RCMHSS_REDIS_ADDR":           rs.Addr,
			"RCMHSS_REDIS_KEY_PREFIX":     "dup:",
			"RCMHSS_REDIS_SHARED_ANSWERS": strconv.FormatBool(shared),
			"RCMHSS_DIAMETER_ORIGIN_HOST": h,
		}}))
	}
	sub := provisionDrill(ctx, t, nodes[0], 1)[0]
	peer := func(n *Node) *diametertest.Peer {
		return diametertest.NewPeer(t, nodePeerAddr(t, n), "tcp", diametertest.PeerOptions{
			OriginHost: "mme.dup.test", OriginRealm: "dup.test",
			Apps: []diametertest.AppSpec{{ID: s6aAppID, Vendor: vendor3GPP}},
		})
	}
	pa, pb := peer(nodes[0]), peer(nodes[1])
	load := &drillLoad{Vectors: 1}

	air := newAIR(pa, sub.IMSI, 1)
	first, err := pa.Do(ctx, air)
	if err != nil {
		t.Fatal(err)
	}
	if rc := diametertest.ResultCode(first); rc != diam.Success {
		t.Fatalf("AIA from A: %d", rc)
	}
	sqnA, err := load.sqns(sub, first)
	if err != nil {
		t.Fatal(err)
	}

	air.Header.CommandFlags |= diam.RetransmittedFlag
	air.Header.HopByHopID = rand.Uint32()
	again, err := pb.DoKeepIDs(ctx, air)
	if err != nil {
		t.Fatal(err)
	}
	if rc := diametertest.ResultCode(again); rc != diam.Success {
		t.Fatalf("AIA from B to the retransmission: %d", rc)
	}
	wantHost := "hss-b.rcmhss.localdomain"
	if shared {
		wantHost = "hss-a.rcmhss.localdomain" // A's answer, replayed
	}
	if h := originHost(again); h != wantHost {
		t.Errorf("B answered the retransmission as %q, want %q", h, wantHost)
	}
	sqnB, err := load.sqns(sub, again)
	if err != nil {
		t.Fatal(err)
	}
	if sqnA[0] != sqnB[0] {
		t.Errorf("the retransmission got SQN %d from B, A issued %d: the request ran twice", sqnB[0], sqnA[0])
	}
	if same := bytes.Equal(vectorBytes(t, first), vectorBytes(t, again)); same != shared {
		t.Errorf("B's vector equals A's: %v, want %v (fresh RAND unless the answer itself is shared)", same, shared)
	}

	// Only one SQN was reserved: a fresh request (no T flag) to B gets the
	// SEQ right after A's (TS 33.102 C.1.2: SQN = SEQ || IND, 5 IND bits).
	fresh, err := pb.Do(ctx, newAIR(pb, sub.IMSI, 1))
	if err != nil {
		t.Fatal(err)
	}
	if h := originHost(fresh); h != "hss-b.rcmhss.localdomain" {
		t.Errorf("a fresh AIR to B was answered as %q", h)
	}
	sqnC, err := load.sqns(sub, fresh)
	if err != nil {
		t.Fatal(err)
	}
	const indBits = 5
	// The failover guard is on by default (redis.failover_seq_jump 4096): a
	// new subscriber's first reservation has no primary recorded, so it jumps.
	if seqA := sqnA[0] >> indBits; seqA < 4096 {
		t.Errorf("first SEQ %d: the failover guard did not jump (redis.failover_seq_jump default 4096)", seqA)
	}
	if seqA, seqC := sqnA[0]>>indBits, sqnC[0]>>indBits; seqC != seqA+1 {
		t.Errorf("SEQ of A's answer %d, of the next fresh AIR %d: want %d (one reservation for the retransmitted request)", seqA, seqC, seqA+1)
	}
}

// vectorBytes is the E-UTRAN-Vector AVP of an AIA as sent.
func vectorBytes(t testing.TB, m *diam.Message) []byte {
	t.Helper()
	a, err := m.FindAVP(avp.EUTRANVector, vendor3GPP)
	if err != nil {
		t.Fatal(err)
	}
	b, err := a.Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// nodePeerAddr is the host:port of n's TCP Diameter listener.
func nodePeerAddr(t testing.TB, n *Node) string {
	t.Helper()
	for _, a := range n.DiameterAddrs {
		if addr, ok := strings.CutPrefix(a, "tcp://"); ok {
			return addr
		}
	}
	t.Fatalf("node has no TCP Diameter listener: %q", n.DiameterAddrs)
	return ""
}
