package loadgen

import (
	"context"
	"log/slog"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"

	"github.com/rcmhss/rcmhss/diameter"
)

// NewStackBaseline returns rcmhss's own Diameter server (package diameter:
// its framing, decoding, validation, duplicate detection and telemetry)
// hosting a stateless S6a application that answers like Baseline: the fixed
// result, and for an AIR the fixed vector, after one Redis INCR when
// cfg.Redis is set. Compared with Baseline it shows what the server stack
// costs; compared with rcmhss, what the HSS logic costs. Any peer is
// accepted: it is a lab tool. The caller Starts and Shuts the server down.
func NewStackBaseline(cfg BaselineConfig, log *slog.Logger, opts ...diameter.Option) (*diameter.Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	srv, err := diameter.NewServer(diameter.Config{
		Listen: cfg.Listen, OriginHost: cfg.OriginHost, OriginRealm: cfg.OriginRealm,
		ProductName: "diamload-baseline", AllowLoopback: true,
		AllowedPeers: []diameter.PeerRule{{OriginHost: "*"}},
	}, append([]diameter.Option{diameter.WithLogger(log)}, opts...)...)
	if err != nil {
		return nil, err
	}
	if err := srv.Register(&stackApp{cfg: cfg, log: log}); err != nil {
		return nil, err
	}
	return srv, nil
}

type stackApp struct {
	cfg BaselineConfig
	log *slog.Logger
}

func (a *stackApp) Name() string     { return "S6a" }
func (a *stackApp) AppID() uint32    { return appS6a }
func (a *stackApp) VendorID() uint32 { return vendor3GPP }

func (a *stackApp) Commands() map[uint32]diameter.Handler {
	h := diameter.HandlerFunc(a.serve)
	return map[uint32]diameter.Handler{cmdAIR: h, cmdULR: h, cmdPUR: h}
}

func (a *stackApp) serve(ctx context.Context, req *diameter.Request) *diam.Message {
	res := diameter.Result{Code: a.cfg.Result.Code, Experimental: a.cfg.Result.Experimental}
	if res.Experimental {
		res.VendorID = vendor3GPP
	}
	if a.cfg.Redis != nil {
		var user string
		if u, err := req.Msg.FindAVP(avp.UserName, 0); err == nil && u != nil {
			if s, ok := u.Data.(datatype.UTF8String); ok {
				user = string(s)
			}
		}
		if err := a.cfg.Redis.Incr(ctx, "diamload:"+user).Err(); err != nil {
			a.log.ErrorContext(ctx, "loadgen: stack baseline: redis incr", "err", err)
			res = diameter.Result{Code: diameter.CodeUnableToComply}
		}
	}
	ans := diameter.NewAnswer(req.Msg, res)
	ans.NewAVP(avp.AuthSessionState, avp.Mbit, 0, datatype.Enumerated(authSessionNoState))
	if req.Msg.Header.CommandCode == cmdAIR && res.Code == diameter.CodeSuccess && !res.Experimental {
		v := func(code uint32, b []byte) *diam.AVP {
			return diam.NewAVP(code, avp.Mbit|avp.Vbit, vendor3GPP, datatype.OctetString(b))
		}
		ans.NewAVP(avp.AuthenticationInfo, avp.Mbit|avp.Vbit, vendor3GPP, &diam.GroupedAVP{AVP: []*diam.AVP{
			diam.NewAVP(avp.EUTRANVector, avp.Mbit|avp.Vbit, vendor3GPP, &diam.GroupedAVP{AVP: []*diam.AVP{
				diam.NewAVP(avp.ItemNumber, avp.Mbit|avp.Vbit, vendor3GPP, datatype.Unsigned32(1)),
				v(avp.RAND, baselineRAND), v(avp.XRES, baselineXRES), v(avp.AUTN, baselineAUTN), v(avp.KASME, baselineKASME),
			}}),
		}})
	}
	return ans
}
