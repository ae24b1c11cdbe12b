package rcmext_test

import (
	"testing"
	"time"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/diameter/rcmext"
	"github.com/rcmhss/rcmhss/rcm"
)

// BenchmarkDecodeBootstrap is the AIR decoding path of a real bootstrap
// (one device certificate).
func BenchmarkDecodeBootstrap(b *testing.B) {
	ca := newCA(b, "bench vendor")
	dev := imei("35000001000098")
	cred, _ := ca.device(b, dev, dev, certOpts{})
	s, err := rcm.NewDeviceSession(cred)
	if err != nil {
		b.Fatal(err)
	}
	boot, err := s.Bootstrap(guestIMSI, homePLMN, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	a, err := rcmext.EncodeBootstrap(&boot, rcmext.DefaultVendorID)
	if err != nil {
		b.Fatal(err)
	}
	raw := a.Data.Serialize()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rcmext.DecodeBootstrap(raw, rcmext.DefaultVendorID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProvisioningAIR is a whole provisioning attach's AIR over TCP:
// decode, chain and signature verification, replay and rate checks, ECDH,
// HSS signature, 1 vector, KASME binding. Each iteration needs a fresh
// device transcript (the replay cache refuses repeats); making it is outside
// the timer.
func BenchmarkProvisioningAIR(b *testing.B) {
	e := newEnv(b, envOpts{cfg: func(c *rcm.Config) {
		c.RateLimits = rcm.RateLimits{} // measure the verification, not the limiter
	}})
	dev := imei("35000001000097")
	cred, _ := e.vendor.device(b, dev, dev, certOpts{})
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		s, err := rcm.NewDeviceSession(cred)
		if err != nil {
			b.Fatal(err)
		}
		boot, err := s.Bootstrap(guestIMSI, homePLMN, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		a, _ := rcmext.EncodeBootstrap(&boot, rcmext.DefaultVendorID)
		req := air(guestIMSI, 1, a)
		b.StartTimer()
		ans := e.do(b, mme1, req)
		if r, _ := diameter.ResultOf(ans); r != diameter.Success {
			b.Fatalf("result %v", r)
		}
	}
}
