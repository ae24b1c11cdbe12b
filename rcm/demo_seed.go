package rcm

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/rcmhss/rcmhss/hss"
)

// Demo identities SeedDemo registers.
const (
	DemoProviderID = "demo-operator"
	DemoProfileID  = "demo-devices"
)

// DemoOP is the demo provider's OP: TS 35.208 test set 1's OP, public, for
// demos only.
var DemoOP = hss.Key{0xcd, 0xc2, 0x02, 0xd5, 0x12, 0x3e, 0x20, 0xf6, 0x2b, 0x6d, 0x67, 0x6a, 0xc7, 0x2c, 0xb3, 0x18}

// SeedDemo registers, for the demo out of the box, a device profile trusting
// vendorCA for every device with one of tacs, and a demo operator owning it
// with an IMSI pool (001 01 00001xxxxx), an MSISDN pool, an internet APN and
// two offers ("basic", free with a data cap; "plus", yearly). Records that
// already exist are left as they are, so that every node may run it at start.
func SeedDemo(ctx context.Context, st Store, ps ProvisioningStore, vendorCA *x509.Certificate, tacs []string) error {
	prof := DeviceProfile{ID: DemoProfileID, ProviderID: DemoProviderID, VendorCAs: [][]byte{vendorCA.Raw}, Coverage: Coverage{TACs: tacs}}
	if err := prof.Validate(); err != nil {
		return fmt.Errorf("rcm: seed demo: %w", err)
	}
	if err := st.CreateProfile(ctx, prof); err != nil && !errors.Is(err, ErrProfileExists) {
		return fmt.Errorf("rcm: seed demo: %w", err)
	}
	ambr := hss.AMBR{UL: 5_000_000, DL: 20_000_000}
	p := Provider{ID: DemoProviderID, Name: "Demo operator", Kind: ProviderOperator, ProfileIDs: []string{DemoProfileID},
		IMSIPool: []NumberRange{{First: "001010000100000", Last: "001010000199999"}}, KeyPolicy: KeyPolicyOPc, OP: DemoOP, AMF: [2]byte{0x80, 0x00},
		Template: SubscriptionTemplate{
			APNs: []hss.APNConfiguration{{ContextID: 1, Name: "internet", PDNType: hss.PDNIPv4v6, QCI: 9,
				ARP: hss.ARP{PriorityLevel: 8, PreemptionVulnerability: true}, AMBR: ambr}},
			DefaultContextID: 1, AMBR: ambr,
			MSISDNPool: []NumberRange{{First: "15550100000", Last: "15550199999"}},
		}}
	if err := p.Validate(); err != nil {
		return fmt.Errorf("rcm: seed demo: %w", err)
	}
	if err := ps.CreateProvider(ctx, p); err != nil && !errors.Is(err, ErrProviderExists) {
		return fmt.Errorf("rcm: seed demo: %w", err)
	}
	for _, o := range []Offer{
		{ID: "basic", ProviderID: DemoProviderID, PlanName: "Basic", Terms: "1 GB, no expiry", Price: Price{Currency: "EUR"}, DataCapBytes: 1 << 30},
		{ID: "plus", ProviderID: DemoProviderID, PlanName: "Plus", Terms: "unlimited, 12 months", Price: Price{Amount: 999, Currency: "EUR"}, Duration: 365 * 24 * time.Hour},
	} {
		if _, err := ps.GetOffer(ctx, o.ProviderID, o.ID); err == nil {
			continue
		} else if !errors.Is(err, ErrUnknownOffer) {
			return fmt.Errorf("rcm: seed demo: %w", err)
		}
		if err := ps.PutOffer(ctx, o); err != nil {
			return fmt.Errorf("rcm: seed demo: %w", err)
		}
	}
	return nil
}
