package rcm

import (
	"errors"
	"fmt"
	"time"

	"github.com/rcmhss/rcmhss/hss"
)

// Binding ties a guest IMSI to the device that authenticated on it (issue 5
// "restricted session"). It is stored with ExpiresAt as its expiry; at expiry
// the HSS cancels the guest registration so the device does not linger.
type Binding struct {
	GuestIMSI       hss.IMSI    `json:"guest_imsi"`
	IMEI            IMEI        `json:"imei"`
	CertFingerprint Fingerprint `json:"cert_fingerprint"`
	ProfileID       string      `json:"profile_id"`
	ProviderID      string      `json:"provider_id"`
	// MMEHost and MMERealm are the serving MME (Origin-Host/Realm of the AIR,
	// then of the ULR); the CLR at expiry goes there.
	MMEHost   string    `json:"mme_host"`
	MMERealm  string    `json:"mme_realm"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// NewBinding binds guest to d, served by the MME host/realm, for lifetime.
func NewBinding(guest hss.IMSI, d *Device, mmeHost, mmeRealm string, now time.Time, lifetime time.Duration) Binding {
	return Binding{
		GuestIMSI: guest, IMEI: d.IMEI, CertFingerprint: d.CertFingerprint,
		ProfileID: d.ProfileID, ProviderID: d.ProviderID,
		MMEHost: mmeHost, MMERealm: mmeRealm,
		CreatedAt: now, ExpiresAt: now.Add(lifetime),
	}
}

// Expired reports whether the binding is over at now.
func (b Binding) Expired(now time.Time) bool { return !now.Before(b.ExpiresAt) }

// ErrGuestULRRejected wraps, together with its cause, every refusal of a ULR
// for a guest IMSI, so that the Diameter table answers 5003 whatever the cause
// (docs/rcm-crypto.md section 7).
var ErrGuestULRRejected = errors.New("guest ulr rejected")

// CheckGuestULR decides a ULR for a guest IMSI. b is the stored binding, nil
// when there is none. Without a binding only compat mode lets the ULR through
// (the ULA then still carries nothing but RestrictedSubscriber).
func CheckGuestULR(b *Binding, terminalIMEI string, now time.Time, compat bool) error {
	if b == nil {
		if compat {
			return nil
		}
		return fmt.Errorf("rcm: ulr: %w: %w", ErrGuestULRRejected, ErrNoBinding)
	}
	return b.CheckULR(terminalIMEI, now)
}

// CheckULR applies the rule for an Update-Location-Request on a bound guest
// IMSI: the binding is live and the ULR's Terminal-Information IMEI (TS 29.272
// 7.3.3/7.3.4, 14 or 15 digits) names the certified device. A ULR without
// Terminal-Information is a mismatch: the MME must tell us which device it
// serves.
func (b Binding) CheckULR(terminalIMEI string, now time.Time) error {
	if b.Expired(now) {
		return fmt.Errorf("rcm: ulr: %w: %w", ErrGuestULRRejected, ErrBindingExpired)
	}
	if !b.IMEI.Matches(terminalIMEI) {
		return fmt.Errorf("rcm: ulr: %w: terminal-information imei is not the bound device: %w", ErrGuestULRRejected, ErrIMEIMismatch)
	}
	return nil
}

// Fixed parameters of the restricted subscription. None comes from input.
const (
	provisioningContextID = 1
	provisioningQCI       = 9  // TS 23.203 6.1.7: lowest-priority non-GBR
	provisioningARP       = 15 // lowest priority; RCM.md step 3 allows a lower priority
)

// RestrictedSubscriber is the only subscription a guest IMSI ever gets (RCM.md
// step 3, patent message 658): one APN, the provisioning APN, with a small
// AMBR, no MSISDN, no static address, E-UTRAN only, no non-3GPP access. It is
// built here from nothing but the IMSI and the guest range so that no admin
// record or request can widen it; the AMBR is clamped to MaxProvisioningAMBR
// even if the configuration was never validated.
func (g GuestRange) RestrictedSubscriber(guest hss.IMSI) *hss.Subscriber {
	ambr := hss.AMBR{UL: clampAMBR(g.AMBR.UL), DL: clampAMBR(g.AMBR.DL)}
	apn := g.APN
	if validateAPN(apn) != nil {
		apn = DefaultConfig().Guest.APN
	}
	return &hss.Subscriber{
		IMSI:              guest,
		K:                 g.K,
		OPc:               g.OPc,
		AMF:               g.AMF,
		Status:            hss.ServiceGranted,
		NetworkAccessMode: hss.OnlyPacket,
		AMBR:              ambr,
		APNs: []hss.APNConfiguration{{
			ContextID: provisioningContextID,
			Name:      apn,
			PDNType:   hss.PDNIPv4v6,
			QCI:       provisioningQCI,
			ARP: hss.ARP{
				PriorityLevel:           provisioningARP,
				PreemptionCapability:    false,
				PreemptionVulnerability: true,
			},
			AMBR: ambr,
		}},
		DefaultContextID: provisioningContextID,
		AccessRestriction: hss.UTRANNotAllowed | hss.GERANNotAllowed | hss.GANNotAllowed |
			hss.IHSPAENotAllowed | hss.HOToNon3GPPNotAllowed | hss.NRAsSecondaryRATNotAllowed,
		// A virgin device may be anywhere: the guest identity roams, but only
		// ever onto the provisioning APN.
		RoamingAllowed: true,
		Non3GPP:        hss.Non3GPPProfile{AccessAllowed: false},
	}
}

func clampAMBR(v uint32) uint32 {
	if v == 0 || v > MaxProvisioningAMBR {
		return MaxProvisioningAMBR
	}
	return v
}
