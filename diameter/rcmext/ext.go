package rcmext

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/diameter/s6a"
	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/rcm"
)

// Vectors is what the extension needs from the HSS domain for guest vectors
// and their SQN state. *hss.HSS satisfies it.
type Vectors interface {
	AuthenticationInfo(ctx context.Context, req hss.AuthInfoRequest) (hss.AuthInfo, error)
	GetSubscriber(ctx context.Context, imsi hss.IMSI) (*hss.Subscriber, error)
	CreateSubscriber(ctx context.Context, s *hss.Subscriber) error
}

// State is the part of the RCM store the extension reads itself: it audits
// refusals found before rcm.Service runs (undecodable bootstrap AVPs) and
// reads the binding a ULR moves. rcm.Store satisfies it.
type State interface {
	AppendAudit(ctx context.Context, r rcm.AuditRecord) (rcm.AuditEntry, error)
	GetBinding(ctx context.Context, guest hss.IMSI) (rcm.Binding, error)
}

// ErrGuestRecordMismatch: the HSS record behind a guest IMSI does not hold the
// configured guest K/OPc/AMF (someone changed it behind the admin guard); no
// vector is produced from it.
var ErrGuestRecordMismatch = errors.New("guest subscriber record does not match the guest range")

// Extension is the RCM s6a.Extension. Build it with New, set it as
// s6a.Config.Extension, and Run it for binding expiry.
type Extension struct {
	cfg     Config
	svc     *rcm.Service
	vectors Vectors
	audit   State
	sender  diameter.Sender
	log     *slog.Logger
	clr     *clrBuilder
	now     func() time.Time
}

var _ s6a.Extension = (*Extension)(nil)

// New builds the extension. sender may be nil only if no CLR is ever needed
// (tests); CLRs then fail with a logged error.
func New(cfg Config, svc *rcm.Service, vectors Vectors, audit State, sender diameter.Sender, log *slog.Logger) (*Extension, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if svc == nil || vectors == nil || audit == nil || log == nil {
		return nil, errors.New("rcmext: new: service, vectors, state and logger are required")
	}
	cfg = cfg.withDefaults()
	return &Extension{cfg: cfg, svc: svc, vectors: vectors, audit: audit, sender: sender,
		log: log.With("ext", "RCM"), clr: newCLRBuilder(cfg.OriginHost, cfg.OriginRealm), now: time.Now}, nil
}

// Claims implements s6a.Extension: every IMSI of a guest range, so that a
// guest identity never reaches the normal subscriber path.
func (x *Extension) Claims(imsi hss.IMSI) bool { return x.svc.IsGuest(imsi) }

// AuthenticationInfo implements s6a.Extension (RCM.md steps 1-2).
func (x *Extension) AuthenticationInfo(ctx context.Context, req *diameter.Request, air hss.AuthInfoRequest) (hss.AuthInfo, []*diam.AVP, error) {
	g := rcm.GuestAIR{IMSI: air.IMSI, VisitedPLMN: air.VisitedPLMN, MMEHost: req.Peer.OriginHost, MMERealm: req.Peer.OriginRealm}
	if air.ServingNode != "" {
		g.MMEHost = air.ServingNode
	}
	ba, err := findBootstrap(req.Msg, x.cfg.VendorID)
	if err == nil && ba != nil {
		g.Bootstrap, err = DecodeBootstrap(avpData(ba), x.cfg.VendorID)
	}
	if err != nil {
		x.auditRejected(ctx, air.IMSI, err)
		return hss.AuthInfo{}, nil, err
	}
	ga, err := x.svc.AuthenticateGuest(ctx, g)
	if err != nil {
		if errors.Is(err, rcm.ErrMalformedBootstrap) && ba != nil {
			// RFC 6733 7.5: name the AVP whose value was refused.
			return hss.AuthInfo{}, nil, &diameter.AVPError{Code: diameter.CodeInvalidAVPValue, AVP: ba, Reason: "malformed rcm-bootstrap-info"}
		}
		return hss.AuthInfo{}, nil, err
	}
	if err := x.ensureGuestRecord(ctx, air.IMSI); err != nil {
		return hss.AuthInfo{}, nil, err
	}
	info, err := x.vectors.AuthenticationInfo(ctx, rcm.GuestVectorRequest(air))
	if err != nil {
		return hss.AuthInfo{}, nil, err
	}
	// No guest KASME leaves the HSS for a verified attach.
	ga.BindVectors(info.EUTRAN)
	var extra []*diam.AVP
	if p := ga.Proof(); p != nil {
		bi, err := bindingInfo(p, x.cfg.VendorID)
		if err != nil {
			return hss.AuthInfo{}, nil, fmt.Errorf("rcmext: binding info: %w", err)
		}
		extra = append(extra, bi)
	}
	if r := ga.Replaced; r != nil && r.MMEHost != g.MMEHost {
		// Another MME still serves the guest IMSI for the displaced device.
		prev := *r
		go x.cancel(context.WithoutCancel(ctx), prev)
	}
	return info, extra, nil
}

// auditRejected records a refusal that happened before rcm.Service ran.
func (x *Extension) auditRejected(ctx context.Context, imsi hss.IMSI, err error) {
	cause := fmt.Errorf("rcmext: %w: %v", rcm.ErrMalformedBootstrap, err)
	if _, aerr := x.audit.AppendAudit(ctx, rcm.NewAuditRecord(x.now(), rcm.AuditRejected, imsi, "", cause)); aerr != nil {
		x.log.ErrorContext(ctx, "rcm audit append failed", "err", aerr)
	}
}

// ensureGuestRecord makes sure the HSS holds the guest record that carries
// the guest IMSI's SQN state, created from the guest range alone, and that
// its key material is the guest range's.
func (x *Extension) ensureGuestRecord(ctx context.Context, imsi hss.IMSI) error {
	want := x.svc.Config().Guest.RestrictedSubscriber(imsi)
	s, err := x.vectors.GetSubscriber(ctx, imsi)
	switch {
	case errors.Is(err, hss.ErrUnknownSubscriber):
		err = x.vectors.CreateSubscriber(ctx, want)
		if err == nil || errors.Is(err, hss.ErrSubscriberExists) {
			return nil
		}
		return fmt.Errorf("rcmext: guest record: %w", err)
	case err != nil:
		return fmt.Errorf("rcmext: guest record: %w", err)
	}
	if s.K != want.K || s.OPc != want.OPc || s.AMF != want.AMF {
		x.log.ErrorContext(ctx, "guest record key material differs from the guest range; refusing vectors", "imsi", imsi)
		return fmt.Errorf("rcmext: guest record: %w: %w", ErrGuestRecordMismatch, hss.ErrAuthDataUnavailable)
	}
	return nil
}

// UpdateLocation implements s6a.Extension (RCM.md step 3): the restricted
// subscription or a refusal, never what the store holds for the IMSI. When
// the ULR comes from another MME than the one the binding names, that MME is
// returned for cancellation, and the S6a plugin sends it the CLR of TS 29.272
// 5.2.1.1.3 as for any subscriber.
func (x *Extension) UpdateLocation(ctx context.Context, req *diameter.Request, ulr hss.UpdateLocationRequest) (hss.UpdateLocationResult, error) {
	prev, perr := x.audit.GetBinding(ctx, ulr.IMSI)
	sub, err := x.svc.UpdateLocation(ctx, rcm.GuestULR{IMSI: ulr.IMSI, Host: ulr.Host, Realm: ulr.Realm, IMEI: ulr.IMEI})
	if err != nil {
		return hss.UpdateLocationResult{}, err
	}
	res := hss.UpdateLocationResult{Subscriber: sub}
	if perr == nil && prev.MMEHost != "" && prev.MMEHost != ulr.Host {
		res.Cancel = &hss.MMERegistration{Host: prev.MMEHost, Realm: prev.MMERealm, ULRFlags: hss.ULRS6aS6dIndicator}
	}
	return res, nil
}
