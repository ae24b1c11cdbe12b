package rcmext_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/diameter/rcmext"
	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/rcm"
)

// FuzzDecodeBootstrap feeds arbitrary RCM-Bootstrap-Info payloads to the AIR
// decoding path (framing, members, chain, timestamp, then rcm's syntax
// check): never a panic, every error an *diameter.AVPError or wrapping
// rcm.ErrMalformedBootstrap, and whatever decodes re-encodes to the same
// bootstrap.
func FuzzDecodeBootstrap(f *testing.F) {
	ca := newCA(f, "fuzz vendor")
	dev := imei("35000001000099")
	cred, _ := ca.device(f, dev, dev, certOpts{})
	s, err := rcm.NewDeviceSession(cred)
	if err != nil {
		f.Fatal(err)
	}
	b, err := s.Bootstrap(guestIMSI, homePLMN, time.Unix(1767225600, 0))
	if err != nil {
		f.Fatal(err)
	}
	a, err := rcmext.EncodeBootstrap(&b, rcmext.DefaultVendorID)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(a.Data.Serialize())
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0x7e, 0x92, 0x80, 0, 0, 12, 0, 0, 0x7e, 0xd9})
	f.Fuzz(func(t *testing.T, group []byte) {
		got, err := rcmext.DecodeBootstrap(group, rcmext.DefaultVendorID)
		if err != nil {
			var ae *diameter.AVPError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v is not an AVPError", err)
			}
			return
		}
		if err := got.Check(); err != nil && !errors.Is(err, rcm.ErrMalformedBootstrap) {
			t.Fatalf("Check: %v", err)
		}
		re, err := rcmext.EncodeBootstrap(got, rcmext.DefaultVendorID)
		if err != nil {
			return // chain limits EncodeCertChain enforces on output
		}
		again, err := rcmext.DecodeBootstrap(re.Data.Serialize(), rcmext.DefaultVendorID)
		if err != nil {
			t.Fatalf("re-encoded bootstrap does not decode: %v", err)
		}
		if !reflect.DeepEqual(normalise(got), normalise(again)) {
			t.Fatalf("round trip changed the bootstrap")
		}
	})
}

func normalise(b *rcm.Bootstrap) rcm.Bootstrap {
	c := *b
	if len(c.DeviceEphemeral) == 0 {
		c.DeviceEphemeral = nil
	}
	if len(c.Signature) == 0 {
		c.Signature = nil
	}
	return c
}

// FuzzExtensionAIR drives the whole guest AIR path of the extension (decoder,
// rcm.Service verification with certificate parsing and chain building, the
// store, vector generation) with arbitrary RCM-Bootstrap-Info payloads: never
// a panic; a refusal carries no vector; an acceptance always carries the
// binding proof (compat mode is off, so no guest KASME can leave unbound).
func FuzzExtensionAIR(f *testing.F) {
	e := newEnv(f, envOpts{cfg: func(c *rcm.Config) { c.RateLimits = rcm.RateLimits{} }})
	dev := imei("35000001000096")
	cred, _ := e.vendor.device(f, dev, dev, certOpts{})
	s, err := rcm.NewDeviceSession(cred)
	if err != nil {
		f.Fatal(err)
	}
	b, err := s.Bootstrap(guestIMSI, homePLMN, time.Now())
	if err != nil {
		f.Fatal(err)
	}
	a, err := rcmext.EncodeBootstrap(&b, rcmext.DefaultVendorID)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(a.Data.Serialize())
	f.Add([]byte{0, 0, 0x7e, 0x92, 0x80, 0, 0, 16, 0, 0, 0x7e, 0xd9, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, group []byte) {
		msg := air(guestIMSI, 1, diam.NewAVP(rcmext.CodeBootstrapInfo, avp.Vbit, rcmext.DefaultVendorID, datatype.OctetString(group)))
		req := &diameter.Request{Msg: msg, Peer: diameter.PeerInfo{OriginHost: mme1, OriginRealm: mmeRealm}}
		info, extra, err := e.ext.AuthenticationInfo(context.Background(), req,
			hss.AuthInfoRequest{IMSI: guestIMSI, VisitedPLMN: homePLMN, ServingNode: mme1, EUTRAN: 1})
		if err != nil {
			if len(info.EUTRAN)+len(info.UTRAN)+len(info.GERAN) != 0 || len(extra) != 0 {
				t.Fatalf("refusal %v carries vectors or AVPs", err)
			}
			return
		}
		if len(extra) != 1 || extra[0].Code != rcmext.CodeBindingInfo {
			t.Fatalf("accepted guest AIR without RCM-Binding-Info")
		}
	})
}
