package integration

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	diamdict "github.com/fiorix/go-diameter/v4/diam/dict"

	"github.com/rcmhss/rcmhss/diameter/diametertest"
	"github.com/rcmhss/rcmhss/hss"
)

// The S6a identities of the wire session (TS 23.003 19.4.2.4 names for PLMN
// 001/01) and the 3GPP codes it sends (TS 29.272 7.2.2, 7.3).
const (
	wireS6aApp     = 16777251
	wire3GPP       = 10415
	wireRealm      = "epc.mnc001.mcc001.3gppnetwork.org"
	wireMME1       = "mme1." + wireRealm
	wireMME2       = "mme2." + wireRealm
	wireHSSRealm   = "rcmhss.localdomain" // configs/rcmhss.yaml
	wireIMSI       = "001010000000101"
	wireIMSIOther  = "001010000000102" // provisioned, attached by no MME
	wireIMSIAbsent = "001010000009999"

	// TS 35.208 test set 1, the K and OPc of the README.
	wireK   = "465b5ce8b199b49faa5f0a2ee238a6bc"
	wireOPc = "cd63cb71954a9f4e48a5994e37a02baf"

	cmdULR = 316
	cmdCLR = 317
	cmdAIR = 318
	cmdIDR = 319
	cmdPUR = 321
	cmdNOR = 323
	cmdDSR = 320

	// SWx (TS 29.273 8.2.1, 8.2.2).
	wireSWxApp = 16777265
	wireAAA    = "aaa." + wireRealm
	// wireNAI is the EAP-AKA' permanent identity of wireIMSIOther (TS
	// 23.003 19.3.2: leading digit 6).
	wireNAI = "6" + wireIMSIOther + "@nai." + wireRealm
	cmdSAR  = 301
	cmdMAR  = 303

	// S13 (TS 29.272 7.2.19, application 16777252).
	wireS13App = 16777252
	wireEIRMME = "mme-eir." + wireRealm
	cmdECR     = 324
)

// wireHomePLMN is 001/01 as Visited-PLMN-Id encodes it (TS 24.008 10.5.1.13).
var wireHomePLMN = []byte{0x00, 0xf1, 0x10}

// wireSession is a running node and the MMEs talking to it; rows of the
// wire table act through it.
type wireSession struct {
	t    *testing.T
	node *Node
	addr string // host:port of the node's TCP listener
	// peers by Origin-Host.
	peers map[string]*diametertest.Peer
}

// wireExchange is one request and its answer as the test peer wrote and
// read them; the capture is searched for both by their identifiers.
type wireExchange struct {
	req, ans *diam.Message
}

// mme connects an MME peer advertising S6a (once per host).
func (s *wireSession) mme(host string) *diametertest.Peer {
	if p, ok := s.peers[host]; ok {
		return p
	}
	p := s.peer(host, wireS6aApp)
	// An MME answers CLR, IDR and DSR as TS 29.272 7.2.8, 7.2.10 and
	// 7.2.12 lay out.
	for _, cmd := range []uint32{cmdCLR, cmdIDR, cmdDSR} {
		p.Handle(cmd, func(m *diam.Message) *diam.Message { return s6aAnswer(m, host) })
	}
	return p
}

// aaa connects a 3GPP AAA server peer advertising SWx (TS 29.273 8.2.1).
func (s *wireSession) aaa(host string) *diametertest.Peer { return s.peer(host, wireSWxApp) }

// peer connects host advertising the 3GPP application app (once per host).
func (s *wireSession) peer(host string, app uint32) *diametertest.Peer {
	if p, ok := s.peers[host]; ok {
		return p
	}
	p := diametertest.NewPeer(s.t, s.addr, "tcp", diametertest.PeerOptions{
		OriginHost: host, OriginRealm: wireRealm,
		Apps: []diametertest.AppSpec{{ID: app, Vendor: wire3GPP}},
	})
	s.peers[host] = p
	return p
}

// serves reports whether the node advertises app in its CEA, so that rows
// for an application not yet wired into cmd/rcmhss are skipped, not failed.
func (s *wireSession) serves(app uint32) bool {
	for _, a := range s.mme(wireMME1).CEA().AVP {
		if a.Code != avp.VendorSpecificApplicationID && a.Code != avp.AuthApplicationID {
			continue
		}
		if a.Data == datatype.Unsigned32(app) {
			return true
		}
		if g, ok := a.Data.(*diam.GroupedAVP); ok {
			for _, in := range g.AVP {
				if in.Code == avp.AuthApplicationID && in.Data == datatype.Unsigned32(app) {
					return true
				}
			}
		}
	}
	return false
}

// exchange sends req from peer and returns the exchange, failing the row on
// a transport error.
func (s *wireSession) exchange(ctx context.Context, p *diametertest.Peer, req *diam.Message) (wireExchange, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	ans, err := p.Do(ctx, req)
	if err != nil {
		return wireExchange{}, fmt.Errorf("%s: %w", wireCommandName(req), err)
	}
	return wireExchange{req: req, ans: ans}, nil
}

// received waits for the request with command code cmd that the node sends
// to the MME host (a CLR or IDR it originates); the peer's handler has
// answered it.
func (s *wireSession) received(ctx context.Context, host string, cmd uint32) (wireExchange, error) {
	p := s.mme(host)
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for {
		select {
		case m := <-p.Received():
			if m.Header.CommandCode != cmd {
				continue
			}
			// The handler built the answer from the request alone, so
			// building it again gives a message with the same header.
			return wireExchange{req: m, ans: s6aAnswer(m, host)}, nil
		case <-ctx.Done():
			return wireExchange{}, fmt.Errorf("no request %d from the node: %w", cmd, ctx.Err())
		}
	}
}

// admin calls the node's admin API and checks the status.
func (s *wireSession) admin(ctx context.Context, method, path, body string, want int) error {
	ct := ""
	switch method {
	case "POST":
		ct = "application/json"
	case "PATCH":
		ct = "application/merge-patch+json"
	}
	r, err := s.node.Do(ctx, method, path, ct, []byte(body))
	if err != nil {
		return err
	}
	if r.Status != want {
		return fmt.Errorf("%s %s: %d %s, want %d", method, path, r.Status, r.Body, want)
	}
	return nil
}

// appRequest is a request of the 3GPP application app with its head
// (Vendor-Specific-Application-Id, Auth-Session-State NO_STATE_MAINTAINED).
func appRequest(p *diametertest.Peer, app, cmd uint32, body ...*diam.AVP) *diam.Message {
	m := p.NewRequest(cmd, app, wireHSSRealm)
	m.AddAVP(diam.NewAVP(avp.VendorSpecificApplicationID, avp.Mbit, 0, &diam.GroupedAVP{AVP: []*diam.AVP{
		diam.NewAVP(avp.VendorID, avp.Mbit, 0, datatype.Unsigned32(wire3GPP)),
		diam.NewAVP(avp.AuthApplicationID, avp.Mbit, 0, datatype.Unsigned32(app)),
	}}))
	m.NewAVP(avp.AuthSessionState, avp.Mbit, 0, datatype.Enumerated(1))
	for _, a := range body {
		m.AddAVP(a)
	}
	return m
}

// s6aRequest is an S6a request from an MME with the head of TS 29.272 7.2.x.
func s6aRequest(p *diametertest.Peer, cmd uint32, imsi string, body ...*diam.AVP) *diam.Message {
	m := p.NewRequest(cmd, wireS6aApp, wireHSSRealm)
	m.AddAVP(vendorSpecificS6a())
	m.NewAVP(avp.AuthSessionState, avp.Mbit, 0, datatype.Enumerated(1)) // NO_STATE_MAINTAINED
	m.NewAVP(avp.UserName, avp.Mbit, 0, datatype.UTF8String(imsi))
	for _, a := range body {
		m.AddAVP(a)
	}
	return m
}

// swxRequest is an SWx request from a 3GPP AAA server (TS 29.273 8.2.2.1,
// 8.2.2.3) for the NAI user.
func swxRequest(p *diametertest.Peer, cmd uint32, user string, body ...*diam.AVP) *diam.Message {
	return appRequest(p, wireSWxApp, cmd, append([]*diam.AVP{diam.NewAVP(avp.UserName, avp.Mbit, 0, datatype.UTF8String(user))}, body...)...)
}

// s6aAnswer is the MME's success answer to a request of the HSS.
func s6aAnswer(req *diam.Message, host string) *diam.Message {
	a := req.Answer(diam.Success)
	if sid, err := req.FindAVP(avp.SessionID, 0); err == nil {
		a.InsertAVP(sid)
	}
	a.AddAVP(vendorSpecificS6a())
	a.NewAVP(avp.AuthSessionState, avp.Mbit, 0, datatype.Enumerated(1))
	a.NewAVP(avp.OriginHost, avp.Mbit, 0, datatype.DiameterIdentity(host))
	a.NewAVP(avp.OriginRealm, avp.Mbit, 0, datatype.DiameterIdentity(wireRealm))
	return a
}

func vendorSpecificS6a() *diam.AVP {
	return diam.NewAVP(avp.VendorSpecificApplicationID, avp.Mbit, 0, &diam.GroupedAVP{AVP: []*diam.AVP{
		diam.NewAVP(avp.VendorID, avp.Mbit, 0, datatype.Unsigned32(wire3GPP)),
		diam.NewAVP(avp.AuthApplicationID, avp.Mbit, 0, datatype.Unsigned32(wireS6aApp)),
	}})
}

// tgpp builds a 3GPP AVP with the M and V bits (TS 29.272 table 7.3.1/1).
func tgpp(code uint32, v datatype.Type) *diam.AVP {
	return diam.NewAVP(code, avp.Mbit|avp.Vbit, wire3GPP, v)
}

func tgppGroup(code uint32, members ...*diam.AVP) *diam.AVP {
	return tgpp(code, &diam.GroupedAVP{AVP: members})
}

// airBody asks for n E-UTRAN vectors (TS 29.272 7.3.11), with a
// Re-Synchronization-Info (RAND || AUTS, 7.3.15) when resync is not nil.
func airBody(n uint32, resync []byte) []*diam.AVP {
	members := []*diam.AVP{
		tgpp(avp.NumberOfRequestedVectors, datatype.Unsigned32(n)),
		tgpp(avp.ImmediateResponsePreferred, datatype.Unsigned32(0)),
	}
	if resync != nil {
		members = append(members, tgpp(avp.ResynchronizationInfo, datatype.OctetString(resync)))
	}
	return []*diam.AVP{
		tgppGroup(avp.RequestedEUTRANAuthenticationInfo, members...),
		tgpp(avp.VisitedPLMNID, datatype.OctetString(wireHomePLMN)),
	}
}

// ulrBody is an E-UTRAN ULR with flags (TS 29.272 7.3.7) and the terminal
// of TS 23.003 6.2.2 example IMEI.
func ulrBody(flags hss.ULRFlags) []*diam.AVP {
	return []*diam.AVP{
		tgppGroup(avp.TerminalInformation,
			tgpp(avp.IMEI, datatype.UTF8String("35609204079301")),
			tgpp(avp.SoftwareVersion, datatype.UTF8String("12"))),
		tgpp(avp.RATType, datatype.Enumerated(1004)), // EUTRAN (TS 29.212 5.3.31)
		tgpp(avp.ULRFlags, datatype.Unsigned32(uint32(flags))),
		tgpp(avp.VisitedPLMNID, datatype.OctetString(wireHomePLMN)),
	}
}

// resyncInfo is RAND || AUTS for a USIM whose SQN_MS is sqnMS (TS 33.102
// 6.3.3: AUTS = SQN_MS xor AK* || MAC-S, MAC-S = f1*(SQN_MS || RAND || AMF)
// with AMF zero).
func resyncInfo(t testing.TB, rand [16]byte, sqnMS uint64) []byte {
	t.Helper()
	k, err := hss.ParseKey(wireK)
	if err != nil {
		t.Fatal(err)
	}
	opc, err := hss.ParseKey(wireOPc)
	if err != nil {
		t.Fatal(err)
	}
	m := hss.NewMilenage(k, opc)
	sqn := hss.SQNBytes(sqnMS)
	ak := m.F5Star(rand)
	out := append([]byte(nil), rand[:]...)
	for i := range sqn {
		out = append(out, sqn[i]^ak[i])
	}
	mac := m.F1Star(rand, sqn, [2]byte{})
	return append(out, mac[:]...)
}

// dwr is a Device-Watchdog-Request (RFC 6733 5.5.1).
func dwr(host string) *diam.Message {
	m := diam.NewRequest(280, 0, diamdict.Default)
	m.NewAVP(avp.OriginHost, avp.Mbit, 0, datatype.DiameterIdentity(host))
	m.NewAVP(avp.OriginRealm, avp.Mbit, 0, datatype.DiameterIdentity(wireRealm))
	m.NewAVP(avp.OriginStateID, avp.Mbit, 0, datatype.Unsigned32(1))
	return m
}

// headerBytes is the 20-octet Diameter header of m as it went on the wire
// (RFC 6733 3), unique in a capture thanks to the identifiers.
func headerBytes(m *diam.Message) []byte {
	h := m.Header
	b := make([]byte, 20)
	binary.BigEndian.PutUint32(b[0:4], uint32(h.MessageLength))
	b[0] = 1
	binary.BigEndian.PutUint32(b[4:8], h.CommandCode)
	b[4] = h.CommandFlags
	binary.BigEndian.PutUint32(b[8:12], h.ApplicationID)
	binary.BigEndian.PutUint32(b[12:16], h.HopByHopID)
	binary.BigEndian.PutUint32(b[16:20], h.EndToEndID)
	return b
}

func wireCommandName(m *diam.Message) string {
	if m == nil {
		return "<nil>"
	}
	kind := "request"
	if m.Header.CommandFlags&diam.RequestFlag == 0 {
		kind = "answer"
	}
	return fmt.Sprintf("command %d %s (app %d)", m.Header.CommandCode, kind, m.Header.ApplicationID)
}

// disconnect sends a DPR (RFC 6733 5.4.1, Disconnect-Cause REBOOTING) from
// the MME host and waits for the DPA.
func (s *wireSession) disconnect(ctx context.Context, host string) (wireExchange, error) {
	m := diam.NewRequest(282, 0, diamdict.Default)
	m.NewAVP(avp.OriginHost, avp.Mbit, 0, datatype.DiameterIdentity(host))
	m.NewAVP(avp.OriginRealm, avp.Mbit, 0, datatype.DiameterIdentity(wireRealm))
	m.NewAVP(avp.DisconnectCause, avp.Mbit, 0, datatype.Enumerated(0))
	return s.exchange(ctx, s.mme(host), m)
}

func diamUnsigned(v uint32) datatype.Unsigned32 { return datatype.Unsigned32(v) }

func diamUTF8(s string) datatype.UTF8String { return datatype.UTF8String(s) }
