package mmesim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	diamdict "github.com/fiorix/go-diameter/v4/diam/dict"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/diameter/diametertest"
	"github.com/rcmhss/rcmhss/diameter/rcmext"
	"github.com/rcmhss/rcmhss/diameter/s6a"
	"github.com/rcmhss/rcmhss/dict"
	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/rcm"
)

// S6a command and AVP codes (TS 29.272 7.2, 7.3) the MME writes and reads.
const (
	cmdULR, cmdCLR, cmdAIR      = 316, 317, 318
	codeTerminalInformation     = 1401
	codeIMEI                    = 1402
	codeULRFlags                = 1405
	codeVisitedPLMNID           = 1407
	codeRequestedEUTRANAuthInfo = 1408
	codeNumberOfRequestedVecs   = 1410
	codeAuthenticationInfo      = 1413
	codeEUTRANVector            = 1414
	codeSubscriptionData        = 1400
	codeAPNConfigurationProfile = 1429
	codeAPNConfiguration        = 1430
	codeRAND, codeXRES          = 1447, 1448
	codeAUTN, codeKASME         = 1449, 1450
	codeRATType                 = 1032
	codeMSISDN                  = 701
	codeServiceSelection        = 493
	flagsMV                     = avp.Mbit | avp.Vbit
)

// Config configures the MME.
type Config struct {
	// HSSAddr is host:port of the HSS's Diameter listener; Network "tcp"
	// (default) or "sctp".
	HSSAddr, Network string
	OriginHost       string
	OriginRealm      string
	// DestinationRealm is the HSS realm.
	DestinationRealm string
	// VisitedPLMN is the serving network the MME advertises (Visited-PLMN-Id).
	VisitedPLMN hss.PLMN
	// VendorID of the RCM AVPs (0: rcmext.DefaultVendorID).
	VendorID uint32
}

// MME is a connected S6a client. It is safe for concurrent use.
type MME struct {
	cfg  Config
	peer *diametertest.Peer
	sid  atomic.Uint64

	mu   sync.Mutex
	clrs map[hss.IMSI]chan CLR // one per IMSI, so concurrent devices never take each other's
}

// CLR is a Cancel-Location-Request the HSS sent.
type CLR struct {
	IMSI hss.IMSI
	At   time.Time
}

// Dial connects to the HSS, runs the capabilities exchange for S6a and starts
// answering CLRs (2001), which WaitCLR then delivers.
func Dial(cfg Config) (*MME, error) {
	if err := dict.Default(); err != nil {
		return nil, fmt.Errorf("mmesim: dictionary: %w", err)
	}
	if cfg.Network == "" {
		cfg.Network = "tcp"
	}
	if cfg.VendorID == 0 {
		cfg.VendorID = rcmext.DefaultVendorID
	}
	p, err := diametertest.Dial(cfg.HSSAddr, cfg.Network, diametertest.PeerOptions{
		OriginHost: cfg.OriginHost, OriginRealm: cfg.OriginRealm,
		Apps: []diametertest.AppSpec{{ID: s6a.AppID, Vendor: s6a.VendorID}},
	})
	if err != nil {
		return nil, fmt.Errorf("mmesim: %w", err)
	}
	if rc := diametertest.ResultCode(p.CEA()); rc != diam.Success {
		p.Close()
		return nil, fmt.Errorf("mmesim: CEA result %d", rc)
	}
	m := &MME{cfg: cfg, peer: p, clrs: map[hss.IMSI]chan CLR{}}
	p.Handle(cmdCLR, m.onCLR)
	return m, nil
}

// Close disconnects (DPR/DPA, RFC 6733 5.4).
func (m *MME) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, _ = m.peer.Disconnect(ctx)
	m.peer.Close()
}

func (m *MME) clrChan(imsi hss.IMSI) chan CLR {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.clrs[imsi]
	if !ok {
		c = make(chan CLR, 4)
		m.clrs[imsi] = c
	}
	return c
}

func (m *MME) onCLR(req *diam.Message) *diam.Message {
	var imsi hss.IMSI
	for _, a := range req.AVP {
		if a.Code == avp.UserName && a.VendorID == 0 {
			imsi = hss.IMSI(a.Data.Serialize())
		}
	}
	ans := req.Answer(diam.Success)
	ans.NewAVP(avp.AuthSessionState, avp.Mbit, 0, datatype.Enumerated(1))
	ans.NewAVP(avp.OriginHost, avp.Mbit, 0, datatype.DiameterIdentity(m.cfg.OriginHost))
	ans.NewAVP(avp.OriginRealm, avp.Mbit, 0, datatype.DiameterIdentity(m.cfg.OriginRealm))
	select {
	case m.clrChan(imsi) <- CLR{IMSI: imsi, At: time.Now()}:
	default: // repeated CLRs nobody waited for: the CLR is still answered
	}
	return ans
}

// WaitCLR waits for (or takes the already received) CLR for imsi.
func (m *MME) WaitCLR(ctx context.Context, imsi hss.IMSI) (CLR, error) {
	select {
	case c := <-m.clrChan(imsi):
		return c, nil
	case <-ctx.Done():
		return CLR{}, fmt.Errorf("mmesim: no CLR for %s: %w", imsi.Masked(), ctx.Err())
	}
}

func (m *MME) request(cmd uint32, imsi hss.IMSI, body ...*diam.AVP) *diam.Message {
	r := diam.NewRequest(cmd, s6a.AppID, diamdict.Default)
	r.Header.CommandFlags |= diam.ProxiableFlag
	r.NewAVP(avp.SessionID, avp.Mbit, 0, datatype.UTF8String(fmt.Sprintf("%s;%d;%d", m.cfg.OriginHost, m.sid.Add(1), rand.Uint32())))
	r.NewAVP(avp.VendorSpecificApplicationID, avp.Mbit, 0, &diam.GroupedAVP{AVP: []*diam.AVP{
		diam.NewAVP(avp.VendorID, avp.Mbit, 0, datatype.Unsigned32(s6a.VendorID)),
		diam.NewAVP(avp.AuthApplicationID, avp.Mbit, 0, datatype.Unsigned32(s6a.AppID)),
	}})
	r.NewAVP(avp.AuthSessionState, avp.Mbit, 0, datatype.Enumerated(1)) // NO_STATE_MAINTAINED
	r.NewAVP(avp.OriginHost, avp.Mbit, 0, datatype.DiameterIdentity(m.cfg.OriginHost))
	r.NewAVP(avp.OriginRealm, avp.Mbit, 0, datatype.DiameterIdentity(m.cfg.OriginRealm))
	r.NewAVP(avp.DestinationRealm, avp.Mbit, 0, datatype.DiameterIdentity(m.cfg.DestinationRealm))
	r.NewAVP(avp.UserName, avp.Mbit, 0, datatype.UTF8String(imsi))
	for _, a := range body {
		r.AddAVP(a)
	}
	return r
}

func v3gpp(code uint32, d datatype.Type) *diam.AVP {
	return diam.NewAVP(code, flagsMV, s6a.VendorID, d)
}

// Vector is one E-UTRAN vector of an AIA as the MME holds it.
type Vector struct {
	RAND  [16]byte
	XRES  []byte
	AUTN  []byte
	KASME [32]byte
}

// AIA is an Authentication-Information-Answer.
type AIA struct {
	Result  diameter.Result
	Vectors []Vector
	// Proof is RCM-Binding-Info, nil when absent.
	Proof *rcm.BindingProof
}

// ErrNoResult: an answer without Result-Code or Experimental-Result.
var ErrNoResult = errors.New("answer without result")

// AIR asks for n E-UTRAN vectors for imsi; boot, when not nil, travels as
// RCM-Bootstrap-Info.
func (m *MME) AIR(ctx context.Context, imsi hss.IMSI, n uint32, boot *rcm.Bootstrap) (AIA, error) {
	body := []*diam.AVP{
		v3gpp(codeRequestedEUTRANAuthInfo, &diam.GroupedAVP{AVP: []*diam.AVP{v3gpp(codeNumberOfRequestedVecs, datatype.Unsigned32(n))}}),
		v3gpp(codeVisitedPLMNID, datatype.OctetString(m.cfg.VisitedPLMN[:])),
	}
	if boot != nil {
		a, err := rcmext.EncodeBootstrap(boot, m.cfg.VendorID)
		if err != nil {
			return AIA{}, fmt.Errorf("mmesim: air: %w", err)
		}
		body = append(body, a)
	}
	ans, err := m.peer.Do(ctx, m.request(cmdAIR, imsi, body...))
	if err != nil {
		return AIA{}, fmt.Errorf("mmesim: air: %w", err)
	}
	r, ok := diameter.ResultOf(ans)
	if !ok {
		return AIA{}, fmt.Errorf("mmesim: aia: %w", ErrNoResult)
	}
	out := AIA{Result: r}
	if ai := find(ans.AVP, codeAuthenticationInfo); ai != nil {
		for _, v := range findAll(group(ai), codeEUTRANVector) {
			f := group(v)
			var vec Vector
			copy(vec.RAND[:], octets(find(f, codeRAND)))
			vec.XRES = octets(find(f, codeXRES))
			vec.AUTN = octets(find(f, codeAUTN))
			copy(vec.KASME[:], octets(find(f, codeKASME)))
			out.Vectors = append(out.Vectors, vec)
		}
	}
	if p, err := rcmext.DecodeBindingInfo(ans, m.cfg.VendorID); err == nil {
		out.Proof = p
	}
	return out, nil
}

// ULA is an Update-Location-Answer as far as the simulator needs it.
type ULA struct {
	Result diameter.Result
	APNs   []string
	MSISDN string
}

// ULR registers the MME for imsi after an initial attach over E-UTRAN, with
// Terminal-Information/IMEI (TS 29.272 7.3.3; 14 digits) when imei is set.
func (m *MME) ULR(ctx context.Context, imsi hss.IMSI, imei rcm.IMEI) (ULA, error) {
	body := []*diam.AVP{
		v3gpp(codeRATType, datatype.Enumerated(hss.RATEUTRAN)),
		v3gpp(codeULRFlags, datatype.Unsigned32(hss.ULRS6aS6dIndicator|hss.ULRInitialAttach)),
		v3gpp(codeVisitedPLMNID, datatype.OctetString(m.cfg.VisitedPLMN[:])),
	}
	if imei != "" {
		body = append(body, v3gpp(codeTerminalInformation, &diam.GroupedAVP{AVP: []*diam.AVP{
			v3gpp(codeIMEI, datatype.UTF8String(imei.TACSNR()))}}))
	}
	ans, err := m.peer.Do(ctx, m.request(cmdULR, imsi, body...))
	if err != nil {
		return ULA{}, fmt.Errorf("mmesim: ulr: %w", err)
	}
	r, ok := diameter.ResultOf(ans)
	if !ok {
		return ULA{}, fmt.Errorf("mmesim: ula: %w", ErrNoResult)
	}
	out := ULA{Result: r}
	if sd := find(ans.AVP, codeSubscriptionData); sd != nil {
		g := group(sd)
		if ms := find(g, codeMSISDN); ms != nil {
			out.MSISDN, _ = hss.DecodeTBCD(octets(ms))
		}
		if prof := find(g, codeAPNConfigurationProfile); prof != nil {
			for _, c := range findAll(group(prof), codeAPNConfiguration) {
				if ss := findCode(group(c), codeServiceSelection, 0); ss != nil {
					out.APNs = append(out.APNs, string(octets(ss)))
				}
			}
		}
	}
	return out, nil
}

func find(avps []*diam.AVP, code uint32) *diam.AVP { return findCode(avps, code, s6a.VendorID) }

func findCode(avps []*diam.AVP, code, vendor uint32) *diam.AVP {
	for _, a := range avps {
		if a != nil && a.Code == code && a.VendorID == vendor {
			return a
		}
	}
	return nil
}

func findAll(avps []*diam.AVP, code uint32) []*diam.AVP {
	var out []*diam.AVP
	for _, a := range avps {
		if a != nil && a.Code == code && a.VendorID == s6a.VendorID {
			out = append(out, a)
		}
	}
	return out
}

func group(a *diam.AVP) []*diam.AVP {
	if g, ok := a.Data.(*diam.GroupedAVP); ok {
		return g.AVP
	}
	return nil
}

func octets(a *diam.AVP) []byte {
	if a == nil || a.Data == nil {
		return nil
	}
	return a.Data.Serialize()
}
