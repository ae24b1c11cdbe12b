package s13

import (
	"context"
	"log/slog"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/hss"
)

// Application identity (TS 29.272 7.1.9).
const (
	AppID    uint32 = 16777252
	VendorID uint32 = 10415 // 3GPP
)

// Command and AVP codes (TS 29.272 7.2.19, 7.3).
const (
	cmdMEIdentityCheck      uint32 = 324
	codeTerminalInformation uint32 = 1401 // 7.3.3
	codeIMEI                uint32 = 1402 // 7.3.4
	codeSoftwareVersion     uint32 = 1403 // 7.3.5
	codeEquipmentStatus     uint32 = 1445 // 7.3.51

	noStateMaintained uint32 = 1 // Auth-Session-State (RFC 6733 8.11)
	flagsMV                  = avp.Mbit | avp.Vbit
	flagsM                   = avp.Mbit
)

// Backend is what the S13 plugin needs from the domain. *hss.EIR
// satisfies it.
type Backend interface {
	CheckEquipment(ctx context.Context, req hss.EquipmentCheckRequest) (hss.EquipmentStatus, error)
}

// Plugin is the S13 application.
type Plugin struct {
	backend Backend
	log     *slog.Logger
}

var _ diameter.Application = (*Plugin)(nil)

// New returns the S13 plugin; a nil logger discards.
func New(backend Backend, logger *slog.Logger) *Plugin {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Plugin{backend: backend, log: logger.With("app", "S13")}
}

// Name implements diameter.Application.
func (p *Plugin) Name() string { return "S13" }

// AppID implements diameter.Application.
func (p *Plugin) AppID() uint32 { return AppID }

// VendorID implements diameter.Application.
func (p *Plugin) VendorID() uint32 { return VendorID }

// Commands implements diameter.Application.
func (p *Plugin) Commands() map[uint32]diameter.Handler {
	return map[uint32]diameter.Handler{cmdMEIdentityCheck: diameter.HandlerFunc(p.serveECR)}
}

// OptionalAVPs implements diameter.OptionalAVPs: go-diameter's dictionary
// marks User-Name required in the ECR, TS 29.272 7.2.19 makes it optional (an
// MME may check equipment before it knows the IMSI).
func (p *Plugin) OptionalAVPs() map[uint32][]diameter.AVPKey {
	return map[uint32][]diameter.AVPKey{cmdMEIdentityCheck: {{Code: avp.UserName}}}
}

// addAppAVPs adds what every S13 answer carries (TS 29.272 7.2.20).
func addAppAVPs(m *diam.Message) {
	m.AddAVP(diam.NewAVP(avp.VendorSpecificApplicationID, flagsM, 0, &diam.GroupedAVP{AVP: []*diam.AVP{
		diam.NewAVP(avp.VendorID, flagsM, 0, datatype.Unsigned32(VendorID)),
		diam.NewAVP(avp.AuthApplicationID, flagsM, 0, datatype.Unsigned32(AppID)),
	}}))
	m.AddAVP(diam.NewAVP(avp.AuthSessionState, flagsM, 0, datatype.Enumerated(noStateMaintained)))
}
