package s6a

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/hss"
)

// Backend is what the S6a plugin needs from the HSS domain. *hss.HSS
// satisfies it.
type Backend interface {
	AuthenticationInfo(ctx context.Context, req hss.AuthInfoRequest) (hss.AuthInfo, error)
	UpdateLocation(ctx context.Context, req hss.UpdateLocationRequest) (hss.UpdateLocationResult, error)
	Purge(ctx context.Context, imsi hss.IMSI, host string) error
	Notify(ctx context.Context, req hss.NotifyRequest) error
	// Registrations tells a PUA whether the purging MME held the registration
	// (TS 29.272 5.2.3.1.3: only then is "freeze M-TMSI" set).
	Registrations(ctx context.Context, imsi hss.IMSI) (hss.Registrations, error)
}

// DefaultRequestTimeout bounds each request the HSS originates (CLR, IDR,
// DSR) when Config.RequestTimeout is zero.
const DefaultRequestTimeout = 5 * time.Second

// Config is the S6a plugin's configuration.
type Config struct {
	// OriginHost and OriginRealm identify this HSS in the requests it
	// originates (answers get them from the server).
	OriginHost  string
	OriginRealm string
	// SupportedFeatures is the Feature-List of Feature-List-ID 1 this HSS
	// offers (TS 29.272 7.3.10); a ULA answers the intersection with what the
	// MME offered.
	SupportedFeatures uint32
	// RequestTimeout bounds each CLR, IDR and DSR (0: DefaultRequestTimeout).
	RequestTimeout time.Duration
	// Extension, when set, answers the AIR and ULR of the IMSIs it claims
	// (RCM guest identities) instead of the Backend.
	Extension Extension
	// ResetAfterRestart sends a Reset-Request to each MME the first time it
	// connects after this process started (TS 29.272 5.2.1.3): set it when
	// the store did not keep the registrations across the restart (see
	// reset.go).
	ResetAfterRestart bool
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	if c.OriginHost == "" {
		errs = append(errs, errors.New("s6a: config: origin host is required"))
	}
	if c.OriginRealm == "" {
		errs = append(errs, errors.New("s6a: config: origin realm is required"))
	}
	if c.RequestTimeout < 0 {
		errs = append(errs, errors.New("s6a: config: request timeout must not be negative"))
	}
	return errors.Join(errs...)
}

// Plugin is the S6a application (TS 29.272): it serves AIR, ULR, PUR and NOR
// and, as an hss.SubscriberObserver, sends CLR, IDR and DSR to the MME that
// holds a subscriber the operator changed or deleted, and RSR to every
// connected MME on a Reset (reset.go).
type Plugin struct {
	cfg     Config
	backend Backend
	sender  diameter.Sender
	log     *slog.Logger

	// inflight tracks the CLRs sent after a ULA, so that Close can wait.
	inflight sync.WaitGroup
	// resets is the state of the Reset sent after a restart (reset.go).
	resets resetState
}

var (
	_ diameter.Application   = (*Plugin)(nil)
	_ hss.SubscriberObserver = (*Plugin)(nil)
)

// New returns the S6a plugin. cfg should have passed Validate.
func New(cfg Config, backend Backend, sender diameter.Sender, logger *slog.Logger) *Plugin {
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Plugin{
		cfg:     cfg,
		backend: backend,
		sender:  sender,
		log:     logger.With("app", "S6a"),
	}
}

// Name implements diameter.Application.
func (p *Plugin) Name() string { return "S6a" }

// AppID implements diameter.Application.
func (p *Plugin) AppID() uint32 { return AppID }

// VendorID implements diameter.Application.
func (p *Plugin) VendorID() uint32 { return VendorID }

// Commands implements diameter.Application: the requests an MME sends
// (TS 29.272 7.2.2).
func (p *Plugin) Commands() map[uint32]diameter.Handler {
	return map[uint32]diameter.Handler{
		cmdUpdateLocation:     diameter.HandlerFunc(p.serveULR),
		cmdAuthenticationInfo: diameter.HandlerFunc(p.serveAIR),
		cmdPurgeUE:            diameter.HandlerFunc(p.servePUR),
		cmdNotify:             diameter.HandlerFunc(p.serveNOR),
	}
}

// Close waits for the CLRs still in flight after ULAs, or for ctx.
func (p *Plugin) Close(ctx context.Context) error {
	done := make(chan struct{})
	go func() { p.inflight.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("s6a: close: %w", ctx.Err())
	}
}

// answer starts a successful answer with the AVPs every S6a answer carries
// (TS 29.272 7.2.4 ff.): Vendor-Specific-Application-Id and
// Auth-Session-State NO_STATE_MAINTAINED.
func (p *Plugin) answer(req *diam.Message) *diam.Message {
	a := diameter.NewAnswer(req, diameter.Success)
	addAppAVPs(a)
	return a
}

// errorAnswer answers req for err with the code diameter.ResultFor picks and
// logs the failure once, here.
func (p *Plugin) errorAnswer(ctx context.Context, req *diameter.Request, cmd string, imsi hss.IMSI, err error) *diam.Message {
	a := diameter.ErrorAnswer(req.Msg, err)
	addAppAVPs(a)
	r := diameter.ResultFor(err)
	level := slog.LevelDebug
	if !r.Experimental && r.Code == diameter.CodeUnableToComply {
		level = slog.LevelWarn
	}
	p.log.Log(ctx, level, "request failed", "cmd", cmd, "imsi", imsi, "peer", req.Peer.OriginHost, "result", r.String(), "error", err)
	return a
}

func addAppAVPs(m *diam.Message) {
	m.AddAVP(answerVendorSpecificAppID)
	m.AddAVP(answerAuthSessionState)
}

// The AVPs every S6a answer carries are built once and shared between
// answers: an AVP in a message is only ever serialized, never modified.
var (
	answerVendorSpecificAppID = vendorSpecificAppID()
	answerAuthSessionState    = diam.NewAVP(avp.AuthSessionState, flagsM, 0, datatype.Enumerated(noStateMaintained))
)

func vendorSpecificAppID() *diam.AVP {
	return diam.NewAVP(avp.VendorSpecificApplicationID, flagsM, 0, &diam.GroupedAVP{AVP: []*diam.AVP{
		diam.NewAVP(avp.VendorID, flagsM, 0, datatype.Unsigned32(VendorID)),
		diam.NewAVP(avp.AuthApplicationID, flagsM, 0, datatype.Unsigned32(AppID)),
	}})
}

// serveAIR answers an Authentication-Information-Request (TS 29.272 5.2.3.1).
func (p *Plugin) serveAIR(ctx context.Context, req *diameter.Request) *diam.Message {
	r, err := DecodeAIR(req.Msg)
	if err != nil {
		return p.errorAnswer(ctx, req, "AIR", "", err)
	}
	if r.ServingNode == "" {
		r.ServingNode = req.Peer.OriginHost
	}
	var (
		info  hss.AuthInfo
		extra []*diam.AVP
	)
	if x := p.cfg.Extension; x != nil && x.Claims(r.IMSI) {
		info, extra, err = x.AuthenticationInfo(ctx, req, r)
	} else {
		info, err = p.backend.AuthenticationInfo(ctx, r)
	}
	if err != nil {
		return p.errorAnswer(ctx, req, "AIR", r.IMSI, err)
	}
	a := p.answer(req.Msg)
	appendAuthenticationInfo(a, &info)
	for _, e := range extra {
		a.AddAVP(e)
	}
	return a
}

// serveULR answers an Update-Location-Request (TS 29.272 5.2.1.1) and, when
// the domain says the previous MME must be cancelled, sends it a CLR after
// answering.
func (p *Plugin) serveULR(ctx context.Context, req *diameter.Request) *diam.Message {
	u, err := DecodeULR(req.Msg)
	if err != nil {
		return p.errorAnswer(ctx, req, "ULR", "", err)
	}
	if u.Location.Host == "" {
		u.Location.Host = req.Peer.OriginHost
	}
	if u.Location.Realm == "" {
		u.Location.Realm = req.Peer.OriginRealm
	}
	var res hss.UpdateLocationResult
	if x := p.cfg.Extension; x != nil && x.Claims(u.Location.IMSI) {
		res, err = x.UpdateLocation(ctx, req, u.Location)
	} else {
		res, err = p.backend.UpdateLocation(ctx, u.Location)
	}
	if err != nil {
		return p.errorAnswer(ctx, req, "ULR", u.Location.IMSI, err)
	}
	a := p.answer(req.Msg)
	if u.FeaturesOffered {
		a.AddAVP(supportedFeatures(u.Features & p.cfg.SupportedFeatures))
	}
	// 7.3.8: a Rel-8 or later HSS sets Separation Indication.
	a.NewAVP(codeULAFlags, flagsMV, VendorID, datatype.Unsigned32(ulaSeparationIndication))
	if res.Subscriber != nil && u.Location.Flags&hss.ULRSkipSubscriberData == 0 {
		a.AddAVP(subscriptionData(res.Subscriber))
	}
	if res.Cancel != nil {
		// 5.2.1.1.3 / 7.3.24: the old MME learns why it is cancelled.
		ct := CancelMMEUpdateProcedure
		if u.Location.Flags&hss.ULRInitialAttach != 0 {
			ct = CancelInitialAttachProcedure
		}
		prev := *res.Cancel
		imsi := u.Location.IMSI
		p.inflight.Add(1)
		go func() {
			defer p.inflight.Done()
			// The ULA is already on its way; the CLR outlives the ULR's context.
			p.cancelLocation(context.WithoutCancel(ctx), imsi, &prev, ct)
		}()
	}
	return a
}

// servePUR answers a Purge-UE-Request (TS 29.272 5.2.3.1).
func (p *Plugin) servePUR(ctx context.Context, req *diameter.Request) *diam.Message {
	r, err := DecodePUR(req.Msg)
	if err != nil {
		return p.errorAnswer(ctx, req, "PUR", "", err)
	}
	if r.Host == "" {
		r.Host = req.Peer.OriginHost
	}
	if err := p.backend.Purge(ctx, r.IMSI, r.Host); err != nil {
		return p.errorAnswer(ctx, req, "PUR", r.IMSI, err)
	}
	a := p.answer(req.Msg)
	// 5.2.3.1.3: "freeze M-TMSI" when the purging MME is the registered one
	// and the UE was purged in the MME.
	if r.Flags&purUEPurgedInMME != 0 {
		regs, err := p.backend.Registrations(ctx, r.IMSI)
		if err != nil {
			p.log.WarnContext(ctx, "pua: registrations unreadable; freeze m-tmsi not set", "imsi", r.IMSI, "error", err)
		} else if regs.MME != nil && regs.MME.Host == r.Host && regs.MME.Purged {
			a.NewAVP(codePUAFlags, flagsMV, VendorID, datatype.Unsigned32(puaFreezeMTMSI))
		}
	}
	return a
}

// serveNOR answers a Notify-Request (TS 29.272 5.2.5.1).
func (p *Plugin) serveNOR(ctx context.Context, req *diameter.Request) *diam.Message {
	r, err := DecodeNOR(req.Msg)
	if err != nil {
		return p.errorAnswer(ctx, req, "NOR", "", err)
	}
	if r.Host == "" {
		r.Host = req.Peer.OriginHost
	}
	if err := p.backend.Notify(ctx, r); err != nil {
		return p.errorAnswer(ctx, req, "NOR", r.IMSI, err)
	}
	return p.answer(req.Msg)
}
