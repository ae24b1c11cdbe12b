package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"

	"github.com/rcmhss/rcmhss/diameter/diametertest"
	"github.com/rcmhss/rcmhss/hss"
)

// resultUnableToDeliver is DIAMETER_UNABLE_TO_DELIVER (RFC 6733 7.1.5): a
// relay found no peer to route the request to.
const resultUnableToDeliver = 3002

// resultTooBusy is DIAMETER_TOO_BUSY (RFC 6733 7.1.3), what rcmhss answers
// while it cannot reach its store.
const resultTooBusy = 3004

// drillSubscriber is a subscriber provisioned for a drill with key material
// the test knows, so that it can recover the SQN of every vector itself.
type drillSubscriber struct {
	IMSI string
	m    *hss.Milenage
}

// provisionDrill creates n subscribers with fresh random K and OPc through
// node's admin API (the nodes share Redis, so every node serves them).
func provisionDrill(ctx context.Context, t testing.TB, node *Node, n int) []drillSubscriber {
	t.Helper()
	subs := make([]drillSubscriber, n)
	for i := range subs {
		var raw [32]byte
		if _, err := rand.Read(raw[:]); err != nil {
			t.Fatal(err)
		}
		k, opc := hss.Key(raw[:16]), hss.Key(raw[16:])
		imsi := fmt.Sprintf("0010188%08d", i)
		body := fmt.Sprintf(`{"imsi":%q,"k":%q,"opc":%q}`, imsi, hex.EncodeToString(raw[:16]), hex.EncodeToString(raw[16:]))
		r, err := node.Do(ctx, "POST", "/v1/subscribers", "application/json", []byte(body))
		if err != nil || r.Status != http.StatusCreated {
			t.Fatalf("provision %s: %v %d %s", imsi, err, r.Status, r.Body)
		}
		subs[i] = drillSubscriber{IMSI: imsi, m: hss.NewMilenage(k, opc)}
	}
	return subs
}

// drillLoad drives a closed loop of AIRs through one MME connection.
type drillLoad struct {
	Peer    *diametertest.Peer
	Subs    []drillSubscriber
	Workers int
	// Vectors per AIR.
	Vectors uint32
	// AttemptTimeout is how long the MME waits for an answer before it
	// retransmits the request with the T flag (RFC 6733 5.5.4).
	AttemptTimeout time.Duration
	// MaxAttempts bounds the retransmissions of one request.
	MaxAttempts int
	// IndBits is the node's hss.sqn.ind_bits.
	IndBits uint
	// BusyBackoff, when set, makes the MME retry a request answered 3004
	// DIAMETER_TOO_BUSY (every node refused it: no store) after this long,
	// as an MME retries an attach; otherwise a 3004 is final.
	BusyBackoff time.Duration
}

// drillRequest is the outcome of one AIR as the MME saw it.
type drillRequest struct {
	IMSI     string
	Start    time.Time
	End      time.Time
	Attempts int
	// Codes are the result codes of every answer, 0 for an attempt that
	// timed out; the last one is the final outcome.
	Codes []uint32
	// SQNs recovered from the vectors of the final answer.
	SQNs []uint64
	// Node is the Origin-Host of the final answer.
	Node string
	Err  error
}

func (r drillRequest) Final() uint32 {
	if len(r.Codes) == 0 {
		return 0
	}
	return r.Codes[len(r.Codes)-1]
}

// Run sends AIRs until ctx ends. Each worker owns a disjoint set of IMSIs and
// sends their AIRs one after the other, so that per IMSI the order of the
// answers is the order in which the HSS reserved the SQNs: the SQN check
// can then require them to increase per IND slot.
func (l *drillLoad) Run(ctx context.Context) []drillRequest {
	var (
		mu  sync.Mutex
		out []drillRequest
		wg  sync.WaitGroup
	)
	for w := range l.Workers {
		var mine []drillSubscriber
		for i := w; i < len(l.Subs); i += l.Workers {
			mine = append(mine, l.Subs[i])
		}
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				r := l.one(mine[i%len(mine)])
				mu.Lock()
				out = append(out, r)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

// Start runs the load in the background until ctx ends; the function it
// returns waits for that end and returns the requests.
func (l *drillLoad) Start(ctx context.Context) (wait func() []drillRequest) {
	done := make(chan []drillRequest, 1)
	go func() { done <- l.Run(ctx) }()
	return func() []drillRequest { return <-done }
}

// pause waits d, failing the test if ctx ends first.
func pause(ctx context.Context, t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-time.After(d):
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
}

// one sends one AIR and retransmits it with the T flag, same End-to-End
// identifier, on a timeout or a 3002 from the relay. It does not use the
// load's context: a request started before the end of the run is followed
// to its end, so that none is left unanswered.
func (l *drillLoad) one(sub drillSubscriber) drillRequest {
	r := drillRequest{IMSI: sub.IMSI, Start: time.Now()}
	air := newAIR(l.Peer, sub.IMSI, l.Vectors)
	var e2e uint32
	for attempt := 0; attempt < l.MaxAttempts; attempt++ {
		r.Attempts++
		ctx, cancel := context.WithTimeout(context.Background(), l.AttemptTimeout)
		var ans *diam.Message
		var err error
		if attempt == 0 {
			ans, err = l.Peer.Do(ctx, air)
			e2e = air.Header.EndToEndID
		} else {
			air.Header.CommandFlags |= diam.RetransmittedFlag
			// A fresh Hop-by-Hop identifier: the late answer to an
			// earlier attempt must not be taken for this one.
			air.Header.HopByHopID = mrand.Uint32()
			air.Header.EndToEndID = e2e
			ans, err = l.Peer.DoKeepIDs(ctx, air)
		}
		cancel()
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			r.Codes = append(r.Codes, 0)
			continue
		case err != nil:
			r.Err = err
			r.End = time.Now()
			return r
		}
		rc := diametertest.ResultCode(ans)
		r.Codes = append(r.Codes, rc)
		r.Node = originHost(ans)
		if rc == resultUnableToDeliver {
			continue
		}
		if rc == resultTooBusy && l.BusyBackoff > 0 && attempt+1 < l.MaxAttempts {
			time.Sleep(l.BusyBackoff)
			continue
		}
		if rc == diam.Success {
			r.SQNs, r.Err = l.sqns(sub, ans)
		}
		break
	}
	r.End = time.Now()
	return r
}

// originHost is the Origin-Host of m, "" without one.
func originHost(m *diam.Message) string {
	a, err := m.FindAVP(avp.OriginHost, 0)
	if err != nil {
		return ""
	}
	v, _ := a.Data.(datatype.DiameterIdentity)
	return string(v)
}

// sqns recovers the SQN of every E-UTRAN vector of an AIA independently of
// the server: AUTN = SQN xor AK || AMF || MAC with AK = f5(K, RAND) (TS
// 33.102 6.3.2), so SQN = AUTN[0:6] xor f5(K, RAND).
func (l *drillLoad) sqns(sub drillSubscriber, aia *diam.Message) ([]uint64, error) {
	vectors, err := aia.FindAVPs(avp.EUTRANVector, vendor3GPP)
	if err != nil || len(vectors) != int(l.Vectors) {
		return nil, fmt.Errorf("AIA for %s carries %d E-UTRAN vectors (%v), want %d", sub.IMSI, len(vectors), err, l.Vectors)
	}
	var out []uint64
	for _, v := range vectors {
		g, ok := v.Data.(*diam.GroupedAVP)
		if !ok {
			return nil, fmt.Errorf("E-UTRAN-Vector is not grouped")
		}
		var randv, autn []byte
		for _, a := range g.AVP {
			switch a.Code {
			case avp.RAND:
				randv = []byte(a.Data.(datatype.OctetString))
			case avp.AUTN:
				autn = []byte(a.Data.(datatype.OctetString))
			}
		}
		if len(randv) != 16 || len(autn) != 16 {
			return nil, fmt.Errorf("E-UTRAN-Vector with RAND of %d and AUTN of %d octets", len(randv), len(autn))
		}
		_, _, _, ak := sub.m.F2345([16]byte(randv))
		var sqn [6]byte
		for i := range sqn {
			sqn[i] = autn[i] ^ ak[i]
		}
		out = append(out, hss.SQNFromBytes(sqn))
	}
	return out, nil
}

// drillReport summarises a drill's requests.
type drillReport struct {
	Name                          string
	Sent, Answered, Retransmitted int
	Unanswered                    int
	InFlightAtFault               int            // started before the fault, answered after it
	ByCode                        map[uint32]int // final result codes
	ByNode                        map[string]int // answers per Origin-Host
	RelayUnableToDeliver          int            // 3002 answers later retried
	Busy                          int            // 3004 answers later retried (BusyBackoff)
	Timeouts                      int            // attempts with no answer in time
	Max, P99                      time.Duration
	Detect, Recover               time.Duration
	SQNs                          int
	SQNProblems                   []string
}

// summarise computes the report; event is the moment of the fault.
func summarise(name string, reqs []drillRequest, indBits uint, event time.Time) drillReport {
	rep := drillReport{Name: name, ByCode: map[uint32]int{}, ByNode: map[string]int{}}
	var lat []time.Duration
	for _, r := range reqs {
		rep.Sent++
		if r.Attempts > 1 {
			rep.Retransmitted++
		}
		for _, c := range r.Codes[:max(len(r.Codes)-1, 0)] {
			switch c {
			case 0:
				rep.Timeouts++
			case resultUnableToDeliver:
				rep.RelayUnableToDeliver++
			case resultTooBusy:
				rep.Busy++
			}
		}
		if r.Err != nil || r.Final() == 0 {
			rep.Unanswered++
			if r.Final() == 0 && len(r.Codes) > 0 {
				rep.Timeouts++
			}
			continue
		}
		rep.Answered++
		rep.ByCode[r.Final()]++
		rep.ByNode[r.Node]++
		lat = append(lat, r.End.Sub(r.Start))
		// Recovery ends when the last request touched by the fault (in flight
		// at it, or retransmitted) has its final answer.
		inFlight := r.Start.Before(event) && r.End.After(event)
		if inFlight {
			rep.InFlightAtFault++
		}
		if !event.IsZero() && (r.Attempts > 1 || inFlight) {
			rep.Recover = max(rep.Recover, r.End.Sub(event))
		}
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		rep.Max = lat[len(lat)-1]
		rep.P99 = lat[(len(lat)*99)/100]
	}
	rep.SQNs, rep.SQNProblems = checkSQNs(reqs, indBits)
	return rep
}

// checkSQNs is the independent SQN check: per IMSI no SQN is issued twice,
// and per IND slot (TS 33.102 C.1.2: SQN = SEQ || IND) the SQNs in the order
// the answers were received never go backwards.
func checkSQNs(reqs []drillRequest, indBits uint) (int, []string) {
	type slot struct {
		imsi string
		ind  uint64
	}
	seen := map[string]map[uint64]bool{}
	last := map[slot]uint64{}
	var problems []string
	n := 0
	// reqs is sorted by start; per IMSI the requests are sequential, so
	// this is also the order of the answers per IMSI.
	for _, r := range reqs {
		if seen[r.IMSI] == nil {
			seen[r.IMSI] = map[uint64]bool{}
		}
		for _, sqn := range r.SQNs {
			n++
			if seen[r.IMSI][sqn] {
				problems = append(problems, fmt.Sprintf("%s: SQN %d issued twice", r.IMSI, sqn))
			}
			seen[r.IMSI][sqn] = true
			s := slot{r.IMSI, sqn & (1<<indBits - 1)}
			if prev, ok := last[s]; ok && sqn <= prev {
				problems = append(problems, fmt.Sprintf("%s: IND %d went from SQN %d back to %d", r.IMSI, s.ind, prev, sqn))
			}
			last[s] = sqn
		}
	}
	return n, problems
}

// appendDrillReport appends text to $RCMHSS_DRILL_REPORT, if set.
func appendDrillReport(t testing.TB, text string) {
	t.Helper()
	path := os.Getenv("RCMHSS_DRILL_REPORT")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Errorf("drill report: %v", err)
		return
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "%s %s\n%s\n\n", time.Now().UTC().Format(time.RFC3339), t.Name(), text); err != nil {
		t.Errorf("drill report: %v", err)
	}
}

func (rep drillReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "drill %s: sent %d, answered %d, unanswered %d, retransmitted %d (relay 3002: %d, attempt timeouts: %d, 3004 retried: %d)\n",
		rep.Name, rep.Sent, rep.Answered, rep.Unanswered, rep.Retransmitted, rep.RelayUnableToDeliver, rep.Timeouts, rep.Busy)
	codes := make([]uint32, 0, len(rep.ByCode))
	for c := range rep.ByCode {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	b.WriteString("  final result codes:")
	for _, c := range codes {
		fmt.Fprintf(&b, " %d=%d", c, rep.ByCode[c])
	}
	nodes := make([]string, 0, len(rep.ByNode))
	for n := range rep.ByNode {
		nodes = append(nodes, n)
	}
	slices.Sort(nodes)
	b.WriteString("\n  answered by:")
	for _, n := range nodes {
		fmt.Fprintf(&b, " %s=%d", n, rep.ByNode[n])
	}
	fmt.Fprintf(&b, "\n  in flight at the fault %d; latency max %v, p99 %v; detect %v, recover %v\n", rep.InFlightAtFault, rep.Max.Round(time.Millisecond), rep.P99.Round(time.Millisecond),
		rep.Detect.Round(time.Millisecond), rep.Recover.Round(time.Millisecond))
	fmt.Fprintf(&b, "  SQN check: %d SQNs, %d problems", rep.SQNs, len(rep.SQNProblems))
	return b.String()
}

// check fails t on every lost request, non-2001 final answer or SQN problem.
// The report is logged, and appended to the file named by
// RCMHSS_DRILL_REPORT when it is set (a drill run's report).
func (rep drillReport) check(t testing.TB) {
	t.Helper()
	t.Log(rep.String())
	appendDrillReport(t, rep.String())
	if rep.Sent == 0 {
		t.Fatal("the drill sent no request")
	}
	if rep.Unanswered != 0 {
		t.Errorf("%d of %d requests got no answer", rep.Unanswered, rep.Sent)
	}
	if rep.ByCode[diam.Success] != rep.Sent {
		t.Errorf("only %d of %d requests ended in 2001: %v", rep.ByCode[diam.Success], rep.Sent, rep.ByCode)
	}
	if rep.SQNs == 0 {
		t.Error("no SQN recovered")
	}
	for i, p := range rep.SQNProblems {
		if i == 20 {
			t.Errorf("... and %d more SQN problems", len(rep.SQNProblems)-20)
			break
		}
		t.Error(p)
	}
}
