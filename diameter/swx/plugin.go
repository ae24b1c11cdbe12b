package swx

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/hss"
)

// Backend is what the SWx plugin needs from the HSS domain. *hss.HSS
// satisfies it.
type Backend interface {
	Non3GPPAuthentication(ctx context.Context, req hss.Non3GPPAuthRequest) ([]hss.EAPVector, error)
	ServerAssignment(ctx context.Context, req hss.ServerAssignmentRequest) (hss.ServerAssignmentResult, error)
	Non3GPPDeregister(ctx context.Context, imsi hss.IMSI, server string) error
}

// DefaultRequestTimeout bounds each PPR and RTR when Config.RequestTimeout
// is zero.
const DefaultRequestTimeout = 5 * time.Second

// Config is the SWx plugin's configuration.
type Config struct {
	// OriginHost and OriginRealm identify this HSS in the requests it
	// originates (PPR, RTR).
	OriginHost  string
	OriginRealm string
	// RequestTimeout bounds each PPR and RTR (0: DefaultRequestTimeout).
	RequestTimeout time.Duration
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	if c.OriginHost == "" {
		errs = append(errs, errors.New("swx: config: origin host is required"))
	}
	if c.OriginRealm == "" {
		errs = append(errs, errors.New("swx: config: origin realm is required"))
	}
	if c.RequestTimeout < 0 {
		errs = append(errs, errors.New("swx: config: request timeout must not be negative"))
	}
	return errors.Join(errs...)
}

// Plugin is the SWx application.
type Plugin struct {
	cfg     Config
	backend Backend
	sender  diameter.Sender
	log     *slog.Logger
}

var (
	_ diameter.Application   = (*Plugin)(nil)
	_ hss.SubscriberObserver = (*Plugin)(nil)
)

// New returns the SWx plugin; cfg should have passed Validate. sender
// carries the PPRs and RTRs (the diameter.Server).
func New(cfg Config, backend Backend, sender diameter.Sender, logger *slog.Logger) *Plugin {
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Plugin{
		cfg: cfg, backend: backend, sender: sender,
		log: logger.With("app", "SWx"),
	}
}

// Name implements diameter.Application.
func (p *Plugin) Name() string { return "SWx" }

// AppID implements diameter.Application.
func (p *Plugin) AppID() uint32 { return AppID }

// VendorID implements diameter.Application.
func (p *Plugin) VendorID() uint32 { return VendorID }

// Commands implements diameter.Application: the requests a 3GPP AAA server
// sends (TS 29.273 8.2.2).
func (p *Plugin) Commands() map[uint32]diameter.Handler {
	return map[uint32]diameter.Handler{
		cmdMultimediaAuth:   diameter.HandlerFunc(p.serveMAR),
		cmdServerAssignment: diameter.HandlerFunc(p.serveSAR),
	}
}

// answer starts a successful answer with Vendor-Specific-Application-Id and
// Auth-Session-State NO_STATE_MAINTAINED (TS 29.273 8.2.2: SWx is
// stateless).
func (p *Plugin) answer(req *diam.Message) *diam.Message {
	a := diameter.NewAnswer(req, diameter.Success)
	addAppAVPs(a)
	return a
}

// errorAnswer answers req for err with the code diameter.ResultFor picks,
// names the registered AAA server when another one holds the user
// (TS 29.273 8.1.2.1.1, 8.1.2.2.1), and logs the failure once, here.
func (p *Plugin) errorAnswer(ctx context.Context, req *diameter.Request, cmd string, imsi hss.IMSI, err error) *diam.Message {
	a := diameter.ErrorAnswer(req.Msg, err)
	addAppAVPs(a)
	// TS 29.273 8.2.2.1/8.2.2.3: MAA and SAA carry {User-Name}, failures too.
	for _, u := range req.Msg.AVP {
		if u.Code == avp.UserName && u.VendorID == 0 {
			a.AddAVP(u)
			break
		}
	}
	var are *hss.AlreadyRegisteredError
	if errors.As(err, &are) {
		a.NewAVP(codeAAAServerName, flagsMV, VendorID, datatype.DiameterIdentity(are.ServerName))
	}
	r := diameter.ResultFor(err)
	level := slog.LevelDebug
	if !r.Experimental && r.Code == diameter.CodeUnableToComply {
		level = slog.LevelWarn
	}
	p.log.Log(ctx, level, "request failed", "cmd", cmd, "imsi", imsi, "peer", req.Peer.OriginHost, "result", r.String(), "error", err)
	return a
}

// userNameAVP echoes the request's User-Name in the answer (TS 29.273
// 8.2.2.1: MAA and SAA carry it).
func userNameAVP(raw string) *diam.AVP {
	return diam.NewAVP(avp.UserName, flagsM, 0, datatype.UTF8String(raw))
}
