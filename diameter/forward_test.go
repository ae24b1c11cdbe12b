package diameter_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/diameter/diametertest"
)

// tcpCluster is a peer directory and request transport between test nodes
// over real loopback TCP sockets: the directory is a table shared by the
// nodes, each node serves forwarded requests on a listener of its own. The
// Redis implementation (hss/redisstore) is tested on its own and in
// integration/; this one keeps the diameter tests free of a store.
type tcpCluster struct {
	mu     sync.Mutex
	owners map[string]*tcpNode // lower-case Origin-Host -> node
}

type tcpNode struct {
	cluster *tcpCluster
	name    string
	ln      net.Listener
	srv     *diameter.Server
	dead    atomic.Bool  // killed: no longer updates the directory
	fails   atomic.Int64 // Forward calls that returned an error
	serves  atomic.Int64 // forwarded requests received
}

var errNoOwner = errors.New("test directory: no node holds the peer")

func (n *tcpNode) PeerUp(host string) {
	if n.dead.Load() {
		return
	}
	n.cluster.mu.Lock()
	n.cluster.owners[strings.ToLower(host)] = n
	n.cluster.mu.Unlock()
}

func (n *tcpNode) PeerDown(host string) {
	if n.dead.Load() {
		return
	}
	n.cluster.mu.Lock()
	if n.cluster.owners[strings.ToLower(host)] == n {
		delete(n.cluster.owners, strings.ToLower(host))
	}
	n.cluster.mu.Unlock()
}

func (n *tcpNode) owner(host string) *tcpNode {
	n.cluster.mu.Lock()
	defer n.cluster.mu.Unlock()
	return n.cluster.owners[strings.ToLower(host)]
}

// Forward sends: host length (2 bytes), host, request length (4), request;
// and reads: status (1 byte, 0 ok), length (4), answer or error text.
func (n *tcpNode) Forward(ctx context.Context, host string, req []byte) (ans []byte, err error) {
	defer func() {
		if err != nil {
			n.fails.Add(1)
		}
	}()
	o := n.owner(host)
	if o == nil {
		return nil, errNoOwner
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", o.ln.Addr().String())
	if err != nil {
		return nil, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	b := binary.BigEndian.AppendUint16(nil, uint16(len(host)))
	b = append(b, host...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(req)))
	if _, err := c.Write(append(b, req...)); err != nil {
		return nil, err
	}
	r := bufio.NewReader(c)
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, errors.Join(ctx.Err(), err)
	}
	body := make([]byte, binary.BigEndian.Uint32(hdr[1:]))
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	if hdr[0] != 0 {
		return nil, fmt.Errorf("owner %s: %s", o.name, body)
	}
	return body, nil
}

func (n *tcpNode) serve() {
	for {
		c, err := n.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			r := bufio.NewReader(c)
			var l2 [2]byte
			if _, err := io.ReadFull(r, l2[:]); err != nil {
				return
			}
			host := make([]byte, binary.BigEndian.Uint16(l2[:]))
			var l4 [4]byte
			if _, err := io.ReadFull(r, host); err != nil {
				return
			}
			if _, err := io.ReadFull(r, l4[:]); err != nil {
				return
			}
			req := make([]byte, binary.BigEndian.Uint32(l4[:]))
			if _, err := io.ReadFull(r, req); err != nil {
				return
			}
			n.serves.Add(1)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			ans, err := n.srv.ServeForwarded(ctx, string(host), req)
			status := byte(0)
			if err != nil {
				status, ans = 1, []byte(err.Error())
			}
			out := binary.BigEndian.AppendUint32([]byte{status}, uint32(len(ans)))
			c.Write(append(out, ans...))
		}()
	}
}

// kill makes the node die as a process would: it stops serving forwarded
// requests and leaves its directory entries behind (nothing removes them).
func (n *tcpNode) kill(t *testing.T) {
	n.dead.Store(true)
	n.ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n.srv.Shutdown(ctx)
}

func (c *tcpCluster) start(t *testing.T, name string, attempt time.Duration) *tcpNode {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	n := &tcpNode{cluster: c, name: name, ln: ln}
	srv, err := diameter.NewServer(diameter.Config{
		Listen: []string{"tcp://127.0.0.1:0"}, OriginHost: name + ".hss.test", OriginRealm: realm,
		AllowLoopback: true, ForwardAttemptTimeout: attempt,
	}, diameter.WithLogger(quietLogger()), diameter.WithForwarder(n), diameter.WithPeerDirectory(n))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Register(&testApp{}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	n.srv = srv
	go n.serve()
	return n
}

func newTCPCluster() *tcpCluster { return &tcpCluster{owners: map[string]*tcpNode{}} }

func mmeOn(t *testing.T, n *tcpNode, host string) *diametertest.Peer {
	t.Helper()
	p := diametertest.NewPeer(t, n.srv.Addrs()[0].String(), "tcp", diametertest.PeerOptions{
		OriginHost: host, OriginRealm: "mme.realm",
		Apps: []diametertest.AppSpec{{ID: s6aID, Vendor: diameter.VendorID3GPP}},
	})
	waitFor(t, func() bool { return n.owner(host) == n })
	return p
}

func newCLR(session string) *diam.Message {
	m := diam.NewRequest(cmdCLR, s6aID, nil)
	m.NewAVP(avp.SessionID, avp.Mbit, 0, datatype.UTF8String(session))
	m.NewAVP(avp.DestinationHost, avp.Mbit, 0, datatype.DiameterIdentity("mme1.test"))
	return m
}

// nextRequest returns the next request (not DWR) the peer received.
func nextRequest(t *testing.T, p *diametertest.Peer) *diam.Message {
	t.Helper()
	for {
		select {
		case m := <-p.Received():
			if m.Header.CommandCode == cmdCLR {
				return m
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the MME received no CLR")
		}
	}
}

func avpString(t *testing.T, m *diam.Message, code uint32) string {
	t.Helper()
	a, err := m.FindAVP(code, 0)
	if err != nil {
		t.Fatalf("avp %d: %v", code, err)
	}
	switch v := a.Data.(type) {
	case datatype.UTF8String:
		return string(v)
	case datatype.DiameterIdentity:
		return string(v)
	}
	t.Fatalf("avp %d of type %T", code, a.Data)
	return ""
}

// TestSendReachesPeerHeldByAnotherNode: B originates a CLR for an MME
// connected to A; A sends it on its connection as its own request (a
// Hop-by-Hop identifier of that connection's sequence) while everything the
// originating HSS put in it stays (Session-Id, Origin-Host/Realm,
// End-to-End identifier), and the MME's answer comes back to B.
func TestSendReachesPeerHeldByAnotherNode(t *testing.T) {
	cl := newTCPCluster()
	a, b := cl.start(t, "a", time.Second), cl.start(t, "b", time.Second)
	mme := mmeOn(t, a, "mme1.test")

	clr := newCLR("b.hss.test;1;cross")
	ans, err := b.srv.Send(ctxT(t), "MME1.test", clr)
	if err != nil {
		t.Fatal(err)
	}
	if rc := resultCode(t, ans); rc != diam.Success {
		t.Fatalf("answer %d", rc)
	}
	if h := avpString(t, ans, avp.OriginHost); h != "mme1.test" {
		t.Errorf("answer from %q", h)
	}
	got := nextRequest(t, mme)
	if s := avpString(t, got, avp.SessionID); s != "b.hss.test;1;cross" {
		t.Errorf("Session-Id %q", s)
	}
	if h := avpString(t, got, avp.OriginHost); h != "b.hss.test" {
		t.Errorf("Origin-Host %q, want the originating HSS b.hss.test", h)
	}
	if r := avpString(t, got, avp.OriginRealm); r != realm {
		t.Errorf("Origin-Realm %q", r)
	}
	if got.Header.EndToEndID != clr.Header.EndToEndID {
		t.Errorf("End-to-End %#x on the wire, B assigned %#x", got.Header.EndToEndID, clr.Header.EndToEndID)
	}
	if got.Header.CommandFlags&diam.RetransmittedFlag != 0 {
		t.Error("first attempt carries the T flag")
	}
	if a.serves.Load() != 1 || b.serves.Load() != 0 {
		t.Errorf("forwarded requests served: a %d, b %d; want 1, 0", a.serves.Load(), b.serves.Load())
	}

	// A's own next request on that connection takes the next Hop-by-Hop
	// identifier: the forwarded one was A's, not B's.
	if _, err := a.srv.Send(ctxT(t), "mme1.test", newCLR("a.hss.test;1;local")); err != nil {
		t.Fatal(err)
	}
	local := nextRequest(t, mme)
	if local.Header.HopByHopID != got.Header.HopByHopID+1 {
		t.Errorf("Hop-by-Hop of A's own CLR %#x, of the forwarded one %#x: not one sequence", local.Header.HopByHopID, got.Header.HopByHopID)
	}
	if a.serves.Load() != 1 {
		t.Errorf("A's own CLR went through the forwarder (%d served)", a.serves.Load())
	}
}

// TestSendRetriedAfterOwnerDied: the MME's node dies and leaves its
// directory entry behind; B's CLR fails against it and is retried until the
// MME has reconnected to C, which delivers it with the T flag.
func TestSendRetriedAfterOwnerDied(t *testing.T) {
	cl := newTCPCluster()
	a, b, c := cl.start(t, "a", 200*time.Millisecond), cl.start(t, "b", 200*time.Millisecond), cl.start(t, "c", 200*time.Millisecond)
	mmeA := mmeOn(t, a, "mme1.test")
	a.kill(t)
	<-mmeA.Done()
	if b.owner("mme1.test") != a {
		t.Fatal("the dead node's directory entry is gone: the test needs it stale")
	}

	type result struct {
		ans *diam.Message
		err error
	}
	done := make(chan result, 1)
	clr := newCLR("b.hss.test;2;retry")
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		ans, err := b.srv.Send(ctx, "mme1.test", clr)
		done <- result{ans, err}
	}()
	waitFor(t, func() bool { return b.fails.Load() >= 2 })
	mmeC := mmeOn(t, c, "mme1.test")
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if rc := resultCode(t, r.ans); rc != diam.Success {
		t.Fatalf("answer %d", rc)
	}
	got := nextRequest(t, mmeC)
	if got.Header.CommandFlags&diam.RetransmittedFlag == 0 {
		t.Error("a retried request lacks the T flag (RFC 6733 5.5.4)")
	}
	if got.Header.EndToEndID != clr.Header.EndToEndID {
		t.Errorf("End-to-End changed across attempts: %#x, want %#x", got.Header.EndToEndID, clr.Header.EndToEndID)
	}
	if c.serves.Load() != 1 {
		t.Errorf("C served %d forwarded requests, want 1", c.serves.Load())
	}
	select {
	case m := <-mmeC.Received():
		if m.Header.CommandCode == cmdCLR {
			t.Errorf("the MME received the CLR twice")
		}
	default:
	}
}

// TestSendRetryJoinsDeliveryInProgress: the MME answers after several
// forwarding attempts have timed out; the owner sends the CLR once and
// every attempt waits for that one delivery (RFC 6733 5.5.4: no second copy
// on the same connection).
func TestSendRetryJoinsDeliveryInProgress(t *testing.T) {
	cl := newTCPCluster()
	a, b := cl.start(t, "a", 100*time.Millisecond), cl.start(t, "b", 100*time.Millisecond)
	mme := mmeOn(t, a, "mme1.test")
	release := make(chan struct{})
	var clrs atomic.Int64
	mme.Handle(cmdCLR, func(m *diam.Message) *diam.Message {
		clrs.Add(1)
		<-release
		a := m.Answer(diam.Success)
		a.NewAVP(avp.OriginHost, avp.Mbit, 0, datatype.DiameterIdentity("mme1.test"))
		a.NewAVP(avp.OriginRealm, avp.Mbit, 0, datatype.DiameterIdentity("mme.realm"))
		return a
	})
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, err := b.srv.Send(ctx, "mme1.test", newCLR("b.hss.test;3;slow"))
		done <- err
	}()
	waitFor(t, func() bool { return a.serves.Load() >= 3 })
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// A second copy would be on the wire before A's next request: TCP
	// keeps the order, so the CLR after the forwarded one must be A's own.
	if _, err := a.srv.Send(ctxT(t), "mme1.test", newCLR("a.hss.test;3;after")); err != nil {
		t.Fatal(err)
	}
	if s := avpString(t, nextRequest(t, mme), avp.SessionID); s != "b.hss.test;3;slow" {
		t.Fatalf("first CLR %q", s)
	}
	if s := avpString(t, nextRequest(t, mme), avp.SessionID); s != "a.hss.test;3;after" {
		t.Errorf("the CLR after the forwarded one is %q: the owner sent the request again", s)
	}
	if n := clrs.Load(); n != 2 {
		t.Errorf("the MME received %d CLRs, want 2 (one forwarded, one A's own)", n)
	}
}

// TestSendWithoutOwnerEndsAtDeadline: a peer connected nowhere is retried
// until the caller's deadline, and the error says so.
func TestSendWithoutOwnerEndsAtDeadline(t *testing.T) {
	cl := newTCPCluster()
	b := cl.start(t, "b", 100*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := b.srv.Send(ctx, "nobody.test", newCLR("b.hss.test;4;none"))
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, errNoOwner) {
		t.Fatalf("err %v, want the deadline and the last attempt's error", err)
	}
	if b.fails.Load() < 1 {
		t.Error("no forwarding attempt was made")
	}
}
