package rcm

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/rcmhss/rcmhss/hss"
)

// Errors of the provisioning domain (RCM.md steps 4 to 8, issue 6).
var (
	// ErrUnknownProvider: no credential provider with this id.
	ErrUnknownProvider = errors.New("unknown credential provider")
	// ErrProviderExists: creating a provider whose id is taken.
	ErrProviderExists = errors.New("credential provider exists")
	// ErrInvalidProvider wraps every problem Provider.Validate reports.
	ErrInvalidProvider = errors.New("invalid credential provider")
	// ErrPoolExhausted: the provider's IMSI or MSISDN pool has no free number.
	ErrPoolExhausted = errors.New("number pool exhausted")
)

// ProviderKind says what sort of credential provider registered (RCM.md
// "Actors"); it is informative and never changes a decision.
type ProviderKind string

const (
	ProviderOperator    ProviderKind = "operator"
	ProviderDeviceMaker ProviderKind = "device_maker"
	ProviderM2M         ProviderKind = "m2m"
	ProviderReseller    ProviderKind = "reseller"
	ProviderUtility     ProviderKind = "utility"
)

// KeyPolicy is how a provider's new subscribers get their OPc (TS 35.206 4.1).
type KeyPolicy string

const (
	// KeyPolicyOPc: OPc = f(K, OP) is computed at provisioning and only OPc
	// is stored with the subscriber and sent to the device; OP stays with the
	// provider.
	KeyPolicyOPc KeyPolicy = "opc"
	// KeyPolicyOP: the subscriber record also keeps OP (the HSS still derives
	// and checks OPc); the device gets OPc all the same, never OP.
	KeyPolicyOP KeyPolicy = "op"
)

// NumberRange is an inclusive range of equal-length digit strings (IMSIs of
// TS 23.003 2.2, MSISDNs of E.164).
type NumberRange struct {
	First string `json:"first"`
	Last  string `json:"last"`
}

func (r NumberRange) bounds() (first, last uint64, err error) {
	if len(r.First) != len(r.Last) || len(r.First) == 0 || len(r.First) > 15 || !digits(r.First) || !digits(r.Last) {
		return 0, 0, errors.New("first and last must be digit strings of one length, at most 15")
	}
	first, _ = strconv.ParseUint(r.First, 10, 64)
	last, _ = strconv.ParseUint(r.Last, 10, 64)
	if first > last {
		return 0, 0, errors.New("first is after last")
	}
	return first, last, nil
}

// Contains reports whether n lies in the range.
func (r NumberRange) Contains(n string) bool {
	f, l, err := r.bounds()
	if err != nil || len(n) != len(r.First) || !digits(n) {
		return false
	}
	v, _ := strconv.ParseUint(n, 10, 64)
	return v >= f && v <= l
}

// NextInRanges returns the smallest number of ranges that is >= from (in
// range order, each range's numbers formatted at its width), and whether one
// exists. Stores use it to allocate from a pool cursor.
func NextInRanges(ranges []NumberRange, from uint64) (string, uint64, bool) {
	for _, r := range ranges {
		f, l, err := r.bounds()
		if err != nil {
			continue
		}
		c := max(from, f)
		if c <= l {
			return fmt.Sprintf("%0*d", len(r.First), c), c, true
		}
	}
	return "", 0, false
}

// PoolKind names one of a provider's number pools.
type PoolKind string

const (
	PoolIMSI   PoolKind = "imsi"
	PoolMSISDN PoolKind = "msisdn"
)

// SubscriptionTemplate is what every subscriber a provider provisions gets:
// its APNs and AMBR (TS 29.272 7.3.35, 7.3.41) and, when MSISDNPool is not
// empty, an MSISDN from that pool.
type SubscriptionTemplate struct {
	APNs             []hss.APNConfiguration `json:"apns"`
	DefaultContextID uint32                 `json:"default_context_id"`
	AMBR             hss.AMBR               `json:"ambr"`
	MSISDNPool       []NumberRange          `json:"msisdn_pool,omitempty"`
}

// Provider is one credential provider (RCM.md "Actors"): its device profiles,
// IMSI pool, key policy and subscription template. Offers and pre-registered
// subscriptions are records of their own that name the provider.
type Provider struct {
	ID         string        `json:"id"`
	Name       string        `json:"name"`
	Kind       ProviderKind  `json:"kind"`
	ProfileIDs []string      `json:"profile_ids"`
	IMSIPool   []NumberRange `json:"imsi_pool"`
	KeyPolicy  KeyPolicy     `json:"key_policy"`
	// OP is the operator variant algorithm configuration field (TS 35.206);
	// it redacts itself when printed or marshalled.
	OP       hss.Key              `json:"-"`
	AMF      [2]byte              `json:"-"`
	Template SubscriptionTemplate `json:"template"`
	// TokenHash is SHA-256 of the provider's admin token; the token itself is
	// never stored.
	TokenHash [32]byte `json:"-"`
}

// Validate reports every problem of the provider at once; each wraps
// ErrInvalidProvider.
func (p *Provider) Validate() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("rcm: %w: "+format, append([]any{ErrInvalidProvider}, a...)...))
	}
	if !validID(p.ID) {
		bad("id: must be 1 to 64 of [A-Za-z0-9._-]")
	}
	switch p.Kind {
	case ProviderOperator, ProviderDeviceMaker, ProviderM2M, ProviderReseller, ProviderUtility:
	default:
		bad("kind: must be operator, device_maker, m2m, reseller or utility")
	}
	for i, id := range p.ProfileIDs {
		if !validID(id) {
			bad("profile_ids[%d]: must be 1 to 64 of [A-Za-z0-9._-]", i)
		}
	}
	if len(p.IMSIPool) == 0 {
		bad("imsi_pool: at least one range is required")
	}
	for i, r := range p.IMSIPool {
		if _, _, err := r.bounds(); err != nil {
			bad("imsi_pool[%d]: %v", i, err)
		} else if _, e1 := hss.ParseIMSI(r.First); e1 != nil {
			bad("imsi_pool[%d]: not an IMSI range (TS 23.003 2.2: 6 to 15 digits)", i)
		}
	}
	for i, r := range p.Template.MSISDNPool {
		if _, _, err := r.bounds(); err != nil {
			bad("template.msisdn_pool[%d]: %v", i, err)
		}
	}
	switch p.KeyPolicy {
	case KeyPolicyOP, KeyPolicyOPc:
	default:
		bad("key_policy: must be op or opc")
	}
	if p.OP.IsZero() {
		bad("op: is required")
	}
	// The template must make a valid subscriber: check it on a stand-in.
	if len(p.IMSIPool) > 0 {
		if _, _, err := p.IMSIPool[0].bounds(); err == nil {
			s := p.subscriber(hss.IMSI(p.IMSIPool[0].First), hss.Key{1}, hss.Key{1}, "")
			if err := s.Validate(); err != nil {
				bad("template: %v", err)
			}
		}
	}
	return errors.Join(errs...)
}

// subscriber builds the new subscriber from the template (RCM.md step 5,
// patent message 662).
func (p *Provider) subscriber(imsi hss.IMSI, k, opc hss.Key, msisdn hss.MSISDN) *hss.Subscriber {
	s := &hss.Subscriber{
		IMSI: imsi, K: k, OPc: opc, AMF: p.AMF, MSISDN: msisdn,
		Status: hss.ServiceGranted, NetworkAccessMode: hss.OnlyPacket,
		AMBR: p.Template.AMBR, DefaultContextID: p.Template.DefaultContextID,
		RoamingAllowed: true,
	}
	s.APNs = append(s.APNs, p.Template.APNs...)
	if p.KeyPolicy == KeyPolicyOP {
		op := p.OP
		s.OP = &op
	}
	return s
}

// Covers reports whether one of the provider's profiles is among ids.
func (p *Provider) coversAny(profileIDs []string) bool {
	for _, a := range p.ProfileIDs {
		for _, b := range profileIDs {
			if a == b {
				return true
			}
		}
	}
	return false
}
