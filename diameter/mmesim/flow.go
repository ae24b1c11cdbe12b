package mmesim

import (
	"context"
	"crypto/subtle"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/rcm"
)

// Device is one simulated RCM device: its bootstrap files, the guest identity
// it attaches with and where its provisioning server is.
type Device struct {
	Cred      rcm.DeviceCredentials
	GuestIMSI hss.IMSI
	// Guest is the well-known guest USIM (guest K/OPc).
	Guest rcm.USIM
	// HSSRoots are the roots the device pins for the HSS RCM certificate,
	// ServerRoots those for the provisioning server's TLS certificate.
	HSSRoots, ServerRoots *x509.CertPool
	ProvisioningURL       string
	// Decide answers each offer (accept or decline, activation code).
	Decide func(rcm.OfferView) rcm.OfferDecision
	// CLRTimeout bounds the wait for the CLR after confirmation (default 10s).
	CLRTimeout time.Duration
}

// Result is what a completed run produced.
type Result struct {
	NewIMSI    hss.IMSI
	ProviderID string
	Declined   int
}

// ErrFlow wraps every failed check of the flow (an unexpected answer, a key
// that does not match).
var ErrFlow = errors.New("rcm flow check failed")

func flowErr(step, format string, a ...any) error {
	return fmt.Errorf("mmesim: %s: %w: %s", step, ErrFlow, fmt.Sprintf(format, a...))
}

// Run plays RCM.md figure 6 for d through mme, telling say each step as it
// happens: provisioning attach with the bootstrap AVPs (652), HSS and device
// authentication with KASME_bound checked on both sides (654/656), the
// restricted ULA (658), provisioning over mutual TLS (660), confirmation and
// swap (662/664), the CLR (666) and the attach with the new IMSI (668).
func Run(ctx context.Context, mme *MME, d Device, say func(string)) (*Result, error) {
	if say == nil {
		say = func(string) {}
	}
	visited := mme.cfg.VisitedPLMN
	say(fmt.Sprintf("[652] power on without subscription: provisioning attach, guest IMSI %s, IMEI %s", d.GuestIMSI.Masked(), d.Cred.IMEI))
	sess, err := rcm.NewDeviceSession(d.Cred)
	if err != nil {
		return nil, err
	}
	boot, err := sess.Bootstrap(d.GuestIMSI, visited, time.Now())
	if err != nil {
		return nil, err
	}
	aia, err := mme.AIR(ctx, d.GuestIMSI, 1, &boot)
	if err != nil {
		return nil, err
	}
	if aia.Result != diameter.Success || len(aia.Vectors) != 1 || aia.Proof == nil {
		return nil, flowErr("guest AIR", "result %v, %d vectors, binding info %v", aia.Result, len(aia.Vectors), aia.Proof != nil)
	}
	v := aia.Vectors[0]
	res, kasmeGuest, err := d.Guest.Authenticate(v.RAND, v.AUTN, visited)
	if err != nil {
		return nil, flowErr("guest AKA", "%v", err)
	}
	if subtle.ConstantTimeCompare(res[:], v.XRES) != 1 {
		return nil, flowErr("guest AKA", "RES differs from XRES")
	}
	say("[654] guest AKA: AUTN verified with the guest K/OPc, RES == XRES")
	kb, err := sess.Finish(aia.Proof.HSSEphemeral, aia.Proof.Signature, aia.Proof.CertChain, d.HSSRoots, kasmeGuest, v.RAND)
	if err != nil {
		return nil, flowErr("HSS authentication", "%v", err)
	}
	if kb != v.KASME {
		return nil, flowErr("bound KASME", "the device's KASME_bound differs from the AIA's KASME")
	}
	if kb == kasmeGuest {
		return nil, flowErr("bound KASME", "the AIA carries the public KASME_guest")
	}
	say("[656] HSS signature verified against the pinned root; device KASME_bound == AIA KASME (not KASME_guest)")
	ula, err := mme.ULR(ctx, d.GuestIMSI, d.Cred.IMEI)
	if err != nil {
		return nil, err
	}
	if ula.Result != diameter.Success || len(ula.APNs) != 1 || ula.MSISDN != "" {
		return nil, flowErr("guest ULR", "result %v, APNs %v, MSISDN %q: want the restricted subscription", ula.Result, ula.APNs, ula.MSISDN)
	}
	say(fmt.Sprintf("[658] restricted session: ULA grants only APN %q", ula.APNs[0]))

	pc, err := rcm.NewProvisioningClient(d.ProvisioningURL, d.Cred, d.ServerRoots)
	if err != nil {
		return nil, err
	}
	pr, err := pc.Provision(ctx, d.GuestIMSI, d.Decide, func(s string) { say("[660] " + s) })
	if err != nil {
		if errors.Is(err, rcm.ErrNoProviderAvailable) {
			say("[660] no credential provider available: the network detaches the device")
		}
		return nil, err
	}
	creds := pr.Credentials
	say("[662] credentials installed in the USIM; confirming")
	cv, err := pc.Confirm(ctx, pr.SessionID)
	if err != nil {
		return nil, err
	}
	if cv.State != rcm.StateSwapped {
		return nil, flowErr("confirm", "session state %s, want swapped", cv.State)
	}
	say("[664] swap done: new subscriber active, guest binding removed")
	wait := d.CLRTimeout
	if wait <= 0 {
		wait = 10 * time.Second
	}
	cctx, cancel := context.WithTimeout(ctx, wait)
	_, err = mme.WaitCLR(cctx, d.GuestIMSI)
	cancel()
	if err != nil {
		return nil, flowErr("detach", "%v", err)
	}
	say("[666] MME received Cancel-Location-Request for the guest IMSI: device detached")

	old, err := mme.AIR(ctx, d.GuestIMSI, 1, nil)
	if err != nil {
		return nil, err
	}
	if old.Result == diameter.Success && len(old.Vectors) > 0 {
		return nil, flowErr("guest after swap", "the guest identity without bootstrap still gets vectors")
	}
	aia, err = mme.AIR(ctx, creds.IMSI, 1, nil)
	if err != nil {
		return nil, err
	}
	if aia.Result != diameter.Success || len(aia.Vectors) != 1 {
		return nil, flowErr("re-attach AIR", "result %v, %d vectors", aia.Result, len(aia.Vectors))
	}
	v = aia.Vectors[0]
	res, kasme, err := rcm.USIM{K: creds.K, OPc: creds.OPc}.Authenticate(v.RAND, v.AUTN, visited)
	if err != nil {
		return nil, flowErr("re-attach AKA", "%v", err)
	}
	if subtle.ConstantTimeCompare(res[:], v.XRES) != 1 || kasme != v.KASME {
		return nil, flowErr("re-attach AKA", "RES or KASME from the new keys differ from the AIA")
	}
	ula, err = mme.ULR(ctx, creds.IMSI, d.Cred.IMEI)
	if err != nil {
		return nil, err
	}
	if ula.Result != diameter.Success {
		return nil, flowErr("re-attach ULR", "result %v", ula.Result)
	}
	say(fmt.Sprintf("[668] attached with IMSI %s: AUTN verified with the new K/OPc, RES == XRES, KASME matches; APNs %v", creds.IMSI.Masked(), ula.APNs))
	return &Result{NewIMSI: creds.IMSI, ProviderID: creds.ProviderID, Declined: len(pr.Declined)}, nil
}
