package diametertest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	diamdict "github.com/fiorix/go-diameter/v4/diam/dict"
	"github.com/ishidawataru/sctp"

	"github.com/rcmhss/rcmhss/diameter"
)

// AppSpec is one application advertised in the CER.
type AppSpec struct {
	ID     uint32
	Vendor uint32 // 0: plain Auth-Application-Id; else inside Vendor-Specific-Application-Id
}

// PeerOptions configure NewPeer.
type PeerOptions struct {
	OriginHost  string // default "peer.test"
	OriginRealm string // default "test"
	Apps        []AppSpec
	// ExpectCERFailure makes NewPeer accept a CEA without 2001 instead of
	// failing the test (check CEA()).
	ExpectCERFailure bool
	// NoWatchdogAnswer makes the peer ignore DWRs (to test the server's
	// watchdog failure detection).
	NoWatchdogAnswer bool
	// InbandSecurity lists Inband-Security-Id values to put in the CER
	// (RFC 6733 6.10); none by default.
	InbandSecurity []uint32
	// Dict is the dictionary (default go-diameter's default).
	Dict *diamdict.Parser
}

// HandlerFunc answers a request the server sent to the peer.
type HandlerFunc func(*diam.Message) *diam.Message

// Peer is a connected test peer.
type Peer struct {
	t    testing.TB
	conn net.Conn
	opts PeerOptions
	d    *diamdict.Parser
	cea  *diam.Message

	wmu sync.Mutex

	mu       sync.Mutex
	handlers map[uint32]HandlerFunc
	pending  map[uint32]chan *diam.Message
	closed   bool

	hbh, e2e atomic.Uint32

	received chan *diam.Message
	dwrs     atomic.Int64
	done     chan struct{}
	readErr  error
}

// NewPeer dials addr over network ("tcp" or "sctp"), performs CER/CEA and
// starts answering the server. The connection is closed at test cleanup.
func NewPeer(t testing.TB, addr, network string, opts PeerOptions) *Peer {
	t.Helper()
	p, err := Dial(addr, network, opts)
	if err != nil {
		t.Fatalf("diametertest: %v", err)
	}
	p.t = t
	t.Cleanup(p.Close)
	if !opts.ExpectCERFailure {
		if rc := ResultCode(p.cea); rc != diam.Success {
			t.Fatalf("diametertest: CEA result %d, want 2001", rc)
		}
	}
	return p
}

// Dial is NewPeer without a testing.TB (for benchmarks and tools); the
// caller closes the peer.
func Dial(addr, network string, opts PeerOptions) (*Peer, error) {
	if opts.OriginHost == "" {
		opts.OriginHost = "peer.test"
	}
	if opts.OriginRealm == "" {
		opts.OriginRealm = "test"
	}
	d := opts.Dict
	if d == nil {
		d = diamdict.Default
	}
	var nc net.Conn
	var err error
	switch network {
	case "sctp", "sctp4", "sctp6":
		var ra *sctp.SCTPAddr
		ra, err = sctp.ResolveSCTPAddr(network, addr)
		if err == nil {
			nc, err = sctp.DialSCTP(network, nil, ra)
		}
	default:
		nc, err = net.DialTimeout(network, addr, 5*time.Second)
	}
	if err != nil {
		return nil, fmt.Errorf("dial %s %s: %w", network, addr, err)
	}
	p := &Peer{
		conn: nc, opts: opts, d: d,
		handlers: make(map[uint32]HandlerFunc),
		pending:  make(map[uint32]chan *diam.Message),
		received: make(chan *diam.Message, 64),
		done:     make(chan struct{}),
	}
	p.hbh.Store(rand.Uint32())
	p.e2e.Store(rand.Uint32())
	if err := p.exchange(); err != nil {
		nc.Close()
		return nil, err
	}
	go p.read()
	return p, nil
}

func (p *Peer) exchange() error {
	cer := diam.NewMessage(257, diam.RequestFlag, 0, p.hbh.Add(1), p.e2e.Add(1), p.d)
	cer.NewAVP(avp.OriginHost, avp.Mbit, 0, datatype.DiameterIdentity(p.opts.OriginHost))
	cer.NewAVP(avp.OriginRealm, avp.Mbit, 0, datatype.DiameterIdentity(p.opts.OriginRealm))
	cer.NewAVP(avp.HostIPAddress, avp.Mbit, 0, datatype.Address(net.ParseIP("127.0.0.1").To4()))
	cer.NewAVP(avp.VendorID, avp.Mbit, 0, datatype.Unsigned32(0))
	cer.NewAVP(avp.ProductName, 0, 0, datatype.UTF8String("diametertest"))
	cer.NewAVP(avp.OriginStateID, avp.Mbit, 0, datatype.Unsigned32(1))
	cer.NewAVP(avp.SupportedVendorID, avp.Mbit, 0, datatype.Unsigned32(10415))
	for _, v := range p.opts.InbandSecurity {
		cer.NewAVP(avp.InbandSecurityID, avp.Mbit, 0, datatype.Unsigned32(v))
	}
	for _, a := range p.opts.Apps {
		if a.Vendor != 0 {
			cer.NewAVP(avp.VendorSpecificApplicationID, avp.Mbit, 0, &diam.GroupedAVP{AVP: []*diam.AVP{
				diam.NewAVP(avp.VendorID, avp.Mbit, 0, datatype.Unsigned32(a.Vendor)),
				diam.NewAVP(avp.AuthApplicationID, avp.Mbit, 0, datatype.Unsigned32(a.ID)),
			}})
		} else {
			cer.NewAVP(avp.AuthApplicationID, avp.Mbit, 0, datatype.Unsigned32(a.ID))
		}
	}
	if _, err := cer.WriteTo(p.conn); err != nil {
		return fmt.Errorf("write CER: %w", err)
	}
	p.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	cea, err := diam.ReadMessage(p.conn, p.d)
	if err != nil {
		return fmt.Errorf("read CEA: %w", err)
	}
	p.conn.SetReadDeadline(time.Time{})
	if cea.Header.CommandCode != 257 || cea.Header.CommandFlags&diam.RequestFlag != 0 {
		return fmt.Errorf("expected CEA, got %v", cea.Header)
	}
	p.cea = cea
	return nil
}

// CEA returns the server's Capabilities-Exchange-Answer.
func (p *Peer) CEA() *diam.Message { return p.cea }

// Raw returns the underlying connection, to write malformed bytes.
func (p *Peer) Raw() net.Conn { return p.conn }

// Done is closed when the server closes the connection (or Close is called).
func (p *Peer) Done() <-chan struct{} { return p.done }

// Received delivers every request the server sent to the peer (after the
// handler, if any, answered it), including DWR and DPR.
func (p *Peer) Received() <-chan *diam.Message { return p.received }

// DWRCount is the number of DWRs received from the server.
func (p *Peer) DWRCount() int64 { return p.dwrs.Load() }

// Handle registers the answer to requests with command code cmd sent by the
// server (CLR, IDR, ...). Without a handler such requests are answered
// 2001 with the peer's Origin-Host/Realm.
func (p *Peer) Handle(cmd uint32, h HandlerFunc) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.handlers[cmd] = h
}

// Close closes the connection.
func (p *Peer) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.conn.Close()
	<-p.done
}

func (p *Peer) read() {
	defer func() {
		p.mu.Lock()
		for _, ch := range p.pending {
			close(ch)
		}
		p.pending = map[uint32]chan *diam.Message{}
		p.closed = true
		p.mu.Unlock()
		close(p.done)
	}()
	br := bufio.NewReader(p.conn)
	for {
		frame, err := readFrame(br)
		if err != nil {
			p.readErr = err
			return
		}
		m, err := readMessage(frame, p.d)
		if err != nil {
			// go-diameter cannot read a command its dictionary lacks (the
			// answer to a request for an unknown application is one): the
			// server's own decoder can.
			m, err = diameter.DecodeMessage(frame, p.d)
			if err != nil {
				continue
			}
		}
		if m.Header.CommandFlags&diam.RequestFlag == 0 {
			p.mu.Lock()
			ch := p.pending[m.Header.HopByHopID]
			delete(p.pending, m.Header.HopByHopID)
			p.mu.Unlock()
			if ch != nil {
				ch <- m
			}
			continue
		}
		p.answer(m)
	}
}

func (p *Peer) answer(m *diam.Message) {
	var ans *diam.Message
	switch {
	case m.Header.ApplicationID == 0 && m.Header.CommandCode == 280:
		p.dwrs.Add(1)
		if !p.opts.NoWatchdogAnswer {
			ans = p.baseAnswer(m)
		}
	case m.Header.ApplicationID == 0 && m.Header.CommandCode == 282:
		ans = p.baseAnswer(m)
	default:
		p.mu.Lock()
		h := p.handlers[m.Header.CommandCode]
		p.mu.Unlock()
		if h != nil {
			ans = h(m)
		} else {
			ans = p.baseAnswer(m)
		}
	}
	if ans != nil {
		p.write(ans)
	}
	select {
	case p.received <- m:
	default:
	}
}

func (p *Peer) baseAnswer(m *diam.Message) *diam.Message {
	a := m.Answer(diam.Success)
	if sid, err := m.FindAVP(avp.SessionID, 0); err == nil {
		a.InsertAVP(sid)
	}
	a.NewAVP(avp.OriginHost, avp.Mbit, 0, datatype.DiameterIdentity(p.opts.OriginHost))
	a.NewAVP(avp.OriginRealm, avp.Mbit, 0, datatype.DiameterIdentity(p.opts.OriginRealm))
	return a
}

// NewRequest returns a request for app/cmd carrying a Session-Id, the peer's
// Origin-Host/Realm and Destination-Realm realm (when non-empty).
func (p *Peer) NewRequest(cmd, appID uint32, realm string) *diam.Message {
	m := diam.NewRequest(cmd, appID, p.d)
	m.Header.CommandFlags |= diam.ProxiableFlag
	m.NewAVP(avp.SessionID, avp.Mbit, 0, datatype.UTF8String(fmt.Sprintf("%s;%d;%d", p.opts.OriginHost, time.Now().UnixNano(), rand.Uint32())))
	m.NewAVP(avp.OriginHost, avp.Mbit, 0, datatype.DiameterIdentity(p.opts.OriginHost))
	m.NewAVP(avp.OriginRealm, avp.Mbit, 0, datatype.DiameterIdentity(p.opts.OriginRealm))
	if realm != "" {
		m.NewAVP(avp.DestinationRealm, avp.Mbit, 0, datatype.DiameterIdentity(realm))
	}
	return m
}

// Do sends req with a fresh Hop-by-Hop and End-to-End identifier and
// returns the answer with the same Hop-by-Hop identifier.
func (p *Peer) Do(ctx context.Context, req *diam.Message) (*diam.Message, error) {
	req.Header.HopByHopID = p.hbh.Add(1)
	req.Header.EndToEndID = p.e2e.Add(1)
	return p.DoKeepIDs(ctx, req)
}

// DoKeepIDs sends req with its identifiers as they are (to send a
// retransmission with the T bit, RFC 6733 5.5.4) and waits for the answer
// with its Hop-by-Hop identifier.
func (p *Peer) DoKeepIDs(ctx context.Context, req *diam.Message) (*diam.Message, error) {
	b, err := req.Serialize()
	if err != nil {
		return nil, err
	}
	return p.DoRaw(ctx, b)
}

// DoRaw writes the bytes of one request as they are and waits for the
// answer with the Hop-by-Hop identifier found in bytes 12..15.
func (p *Peer) DoRaw(ctx context.Context, b []byte) (*diam.Message, error) {
	if len(b) < 20 {
		return nil, errors.New("diametertest: request shorter than a header")
	}
	hbh := binary.BigEndian.Uint32(b[12:16])
	ch := make(chan *diam.Message, 1)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, net.ErrClosed
	}
	p.pending[hbh] = ch
	p.mu.Unlock()
	if err := p.writeBytes(b); err != nil {
		return nil, err
	}
	select {
	case ans, ok := <-ch:
		if !ok {
			return nil, fmt.Errorf("diametertest: connection closed before the answer: %w", io.ErrUnexpectedEOF)
		}
		return ans, nil
	case <-ctx.Done():
		p.mu.Lock()
		delete(p.pending, hbh)
		p.mu.Unlock()
		return nil, ctx.Err()
	}
}

func (p *Peer) write(m *diam.Message) error {
	b, err := m.Serialize()
	if err != nil {
		return err
	}
	return p.writeBytes(b)
}

func (p *Peer) writeBytes(b []byte) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	_, err := p.conn.Write(b)
	return err
}

// Disconnect sends a DPR and waits for the DPA.
func (p *Peer) Disconnect(ctx context.Context) (*diam.Message, error) {
	dpr := diam.NewRequest(282, 0, p.d)
	dpr.NewAVP(avp.OriginHost, avp.Mbit, 0, datatype.DiameterIdentity(p.opts.OriginHost))
	dpr.NewAVP(avp.OriginRealm, avp.Mbit, 0, datatype.DiameterIdentity(p.opts.OriginRealm))
	dpr.NewAVP(avp.DisconnectCause, avp.Mbit, 0, datatype.Enumerated(0))
	dpa, err := p.Do(ctx, dpr)
	if err == nil {
		// RFC 6733 5.4: the receiver of the DPA initiates the transport
		// disconnect.
		p.Close()
	}
	return dpa, err
}

// ResultCode returns the Result-Code of m, or the Experimental-Result-Code,
// or 0.
func ResultCode(m *diam.Message) uint32 {
	if m == nil {
		return 0
	}
	for _, a := range m.AVP {
		if a.Code == avp.ResultCode {
			if v, ok := a.Data.(datatype.Unsigned32); ok {
				return uint32(v)
			}
		}
		if a.Code == avp.ExperimentalResult {
			if g, ok := a.Data.(*diam.GroupedAVP); ok {
				for _, in := range g.AVP {
					if in.Code == avp.ExperimentalResultCode {
						if v, ok := in.Data.(datatype.Unsigned32); ok {
							return uint32(v)
						}
					}
				}
			}
		}
	}
	return 0
}

// readMessage decodes with go-diameter, turning its panics on malformed
// grouped AVPs into errors.
func readMessage(frame []byte, d *diamdict.Parser) (m *diam.Message, err error) {
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("go-diameter panic: %v", r)
		}
	}()
	return diam.ReadMessage(bytes.NewReader(frame), d)
}

// readFrame reads one message by its header length.
func readFrame(r io.Reader) ([]byte, error) {
	hdr := make([]byte, 20)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, err
	}
	n := int(hdr[1])<<16 | int(hdr[2])<<8 | int(hdr[3])
	if n < 20 {
		return nil, fmt.Errorf("diametertest: message length %d", n)
	}
	b := make([]byte, n)
	copy(b, hdr)
	if _, err := io.ReadFull(r, b[20:]); err != nil {
		return nil, err
	}
	return b, nil
}

// SCTPAvailable reports whether the kernel can open an SCTP socket; tests
// over SCTP skip when it cannot.
func SCTPAvailable() bool {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, syscall.IPPROTO_SCTP)
	if err != nil {
		return false
	}
	syscall.Close(fd)
	return true
}

// SkipWithoutSCTP skips t when the kernel has no SCTP.
func SkipWithoutSCTP(t testing.TB) {
	t.Helper()
	if !SCTPAvailable() {
		t.Skip("kernel has no SCTP: socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP) failed")
	}
}
