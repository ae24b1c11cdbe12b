package diameter_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"

	"github.com/rcmhss/rcmhss/diameter"
)

func TestRetransmissionWhileOriginalInFlight(t *testing.T) {
	release := make(chan struct{})
	app := &testApp{}
	app.air = func(ctx context.Context, req *diameter.Request) *diam.Message {
		<-release
		a := diameter.NewAnswer(req.Msg, diameter.Success)
		a.NewAVP(avp.ErrorMessage, 0, 0, datatype.UTF8String(time.Now().Format(time.RFC3339Nano)))
		return a
	}
	f := startServer(t, nil, app)
	p := s6aPeer(t, f, "mme1.test")
	req := air(p)
	req.Header.HopByHopID, req.Header.EndToEndID = 100, 200
	orig, _ := req.Serialize()
	req.Header.HopByHopID = 101
	req.Header.CommandFlags |= diam.RetransmittedFlag
	retrans, _ := req.Serialize()

	answers := make(chan *diam.Message, 2)
	go func() { a, _ := p.DoRaw(context.Background(), orig); answers <- a }()
	waitFor(t, func() bool { return app.calls.Load() == 1 })
	go func() { a, _ := p.DoRaw(context.Background(), retrans); answers <- a }()
	close(release)
	a1, a2 := <-answers, <-answers
	if a1 == nil || a2 == nil {
		t.Fatal("a request was not answered")
	}
	if got := app.calls.Load(); got != 1 {
		t.Fatalf("handler called %d times, want 1", got)
	}
	m1, _ := a1.FindAVP(avp.ErrorMessage, 0)
	m2, _ := a2.FindAVP(avp.ErrorMessage, 0)
	if m1 == nil || m2 == nil || m1.Data.String() != m2.Data.String() {
		t.Fatalf("answers differ: %v / %v", m1, m2)
	}
	if a1.Header.HopByHopID == a2.Header.HopByHopID {
		t.Fatal("both answers carry the same Hop-by-Hop id")
	}
}

func TestShutdownDrainsInFlightRequests(t *testing.T) {
	release := make(chan struct{})
	app := &testApp{air: func(ctx context.Context, req *diameter.Request) *diam.Message {
		<-release
		return diameter.NewAnswer(req.Msg, diameter.Success)
	}}
	f := startServer(t, nil, app)
	p := s6aPeer(t, f, "mme1.test")
	answer := make(chan *diam.Message, 1)
	go func() { a, _ := p.Do(context.Background(), air(p)); answer <- a }()
	waitFor(t, func() bool { return app.calls.Load() == 1 })
	shutdown := make(chan error, 1)
	go func() { shutdown <- f.srv.Shutdown(ctxT(t)) }()
	// The DPR goes out while the request is still being handled.
	for got := false; !got; {
		select {
		case m := <-p.Received():
			got = m.Header.CommandCode == 282
		case <-time.After(10 * time.Second):
			t.Fatal("no DPR")
		}
	}
	waitFor(t, func() bool { return !f.srv.Ready() })
	select {
	case err := <-shutdown:
		t.Fatalf("Shutdown returned (%v) with a request in flight", err)
	default:
	}
	close(release)
	if a := <-answer; a == nil || resultCode(t, a) != 2001 {
		t.Fatalf("in-flight request answer %v", a)
	}
	if err := <-shutdown; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

func TestSendFailsWhenPeerGoesAway(t *testing.T) {
	f := startServer(t, func(c *diameter.Config) { c.RequestTimeout = 200 * time.Millisecond }, nil)
	p := s6aPeer(t, f, "mme1.test")
	p.Handle(cmdCLR, func(*diam.Message) *diam.Message { return nil }) // never answers
	waitFor(t, func() bool { return len(f.srv.Peers()) == 1 })

	_, err := f.srv.Send(context.Background(), "mme1.test", diam.NewRequest(cmdCLR, s6aID, nil))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("unanswered Send: %v, want deadline exceeded", err)
	}
	// Take that first CLR off the peer's queue, so that the one awaited below
	// is the second Send's, in flight when the peer closes.
	select {
	case <-p.Received():
	case <-time.After(10 * time.Second):
		t.Fatal("first CLR not received")
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err := f.srv.Send(ctx, "mme1.test", diam.NewRequest(cmdCLR, s6aID, nil))
		done <- err
	}()
	for got := false; !got; {
		select {
		case m := <-p.Received():
			got = m.Header.CommandCode == cmdCLR
		case <-time.After(10 * time.Second):
			t.Fatal("CLR not received")
		}
	}
	p.Close()
	if err := <-done; !errors.Is(err, diameter.ErrPeerClosed) {
		t.Fatalf("Send to a peer that closed: %v, want ErrPeerClosed", err)
	}
	waitFor(t, func() bool { return len(f.srv.Peers()) == 0 })
	if _, err := f.srv.Send(ctxT(t), "mme1.test", diam.NewRequest(cmdCLR, s6aID, nil)); !errors.Is(err, diameter.ErrNoPeer) {
		t.Fatalf("Send after disconnect: %v, want ErrNoPeer", err)
	}
}

func TestReconnectingPeerReplacesOldConnection(t *testing.T) {
	f := startServer(t, nil, nil)
	old := s6aPeer(t, f, "mme1.test")
	waitFor(t, func() bool { return len(f.srv.Peers()) == 1 })
	s6aPeer(t, f, "mme1.test")
	waitClosed(t, old)
	waitFor(t, func() bool { return len(f.srv.Peers()) == 1 })
	if _, err := f.srv.Send(ctxT(t), "mme1.test", diam.NewRequest(cmdCLR, s6aID, nil)); err != nil {
		t.Fatalf("Send to the new connection: %v", err)
	}
}

func TestRegisterRules(t *testing.T) {
	srv, err := diameter.NewServer(diameter.Config{Listen: []string{"tcp://127.0.0.1:0"}, OriginHost: "h", OriginRealm: "r", AllowLoopback: true},
		diameter.WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Register(&testApp{}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Register(&testApp{}); !errors.Is(err, diameter.ErrDuplicateApp) {
		t.Fatalf("second registration of the same id: %v", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	if err := srv.Register(&otherApp{}); !errors.Is(err, diameter.ErrAlreadyStarted) {
		t.Fatalf("registration after Start: %v", err)
	}
	if len(srv.Addrs()) != 1 || !srv.Ready() {
		t.Fatal("not listening")
	}
}

type otherApp struct{ testApp }

func (*otherApp) AppID() uint32 { return 16777265 }

func TestTooBusyWhenConnectionSaturated(t *testing.T) {
	const limit = 256 // maxInFlightPerConn
	release := make(chan struct{})
	app := &testApp{air: func(ctx context.Context, req *diameter.Request) *diam.Message {
		<-release
		return diameter.NewAnswer(req.Msg, diameter.Success)
	}}
	f := startServer(t, nil, app)
	p := s6aPeer(t, f, "mme1.test")
	answers := make(chan *diam.Message, limit)
	for range limit {
		go func() { a, _ := p.Do(context.Background(), air(p)); answers <- a }()
	}
	waitFor(t, func() bool { return app.calls.Load() == limit })
	busy, err := p.Do(ctxT(t), air(p))
	if err != nil {
		t.Fatal(err)
	}
	if got := resultCode(t, busy); got != diameter.CodeTooBusy || busy.Header.CommandFlags&diam.ErrorFlag == 0 {
		t.Fatalf("request beyond the limit: result %d flags %x, want 3004 with E bit", got, busy.Header.CommandFlags)
	}
	dwr := diam.NewRequest(280, 0, nil)
	dwr.NewAVP(avp.OriginHost, avp.Mbit, 0, datatype.DiameterIdentity("mme1.test"))
	dwr.NewAVP(avp.OriginRealm, avp.Mbit, 0, datatype.DiameterIdentity("mme.realm"))
	if dwa, err := p.Do(ctxT(t), dwr); err != nil || resultCode(t, dwa) != 2001 {
		t.Fatalf("DWR on a saturated connection: %v %v", dwa, err)
	}
	close(release)
	for range limit {
		if a := <-answers; a == nil || resultCode(t, a) != 2001 {
			t.Fatalf("blocked request answer %v", a)
		}
	}
}
