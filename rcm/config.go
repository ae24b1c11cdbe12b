package rcm

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rcmhss/rcmhss/hss"
)

// MaxProvisioningAMBR caps, in bit/s each way, the AMBR a guest subscription can
// ever carry. Validate rejects a larger configured value and
// RestrictedSubscriber clamps to it anyway, so no configuration path widens a
// provisioning session beyond "enough to reach the RCM server".
const MaxProvisioningAMBR = 1_000_000

// IMSIRange is one set of guest identities: every IMSI that starts with Prefix,
// or, when Prefix is empty, every IMSI of the same length as First and Last
// between them inclusive.
type IMSIRange struct {
	Prefix string   `json:"prefix,omitempty"`
	First  hss.IMSI `json:"first,omitempty"`
	Last   hss.IMSI `json:"last,omitempty"`
}

// Contains reports whether imsi is in the range.
func (r IMSIRange) Contains(imsi hss.IMSI) bool {
	if r.Prefix != "" {
		return strings.HasPrefix(string(imsi), r.Prefix)
	}
	// Equal length digit strings compare lexicographically as numbers do.
	return len(imsi) == len(r.First) && len(imsi) == len(r.Last) &&
		imsi >= r.First && imsi <= r.Last
}

func (r IMSIRange) validate(field string) []error {
	var errs []error
	switch {
	case r.Prefix != "" && (r.First != "" || r.Last != ""):
		errs = append(errs, fmt.Errorf("%s: give either prefix or first/last, not both", field))
	case r.Prefix != "":
		// A prefix shorter than MCC+MNC would claim whole countries' subscribers.
		if len(r.Prefix) < 5 || len(r.Prefix) > 15 || !digits(r.Prefix) {
			errs = append(errs, fmt.Errorf("%s.prefix: must be 5 to 15 digits (at least MCC+MNC)", field))
		}
	default:
		if _, err := hss.ParseIMSI(string(r.First)); err != nil {
			errs = append(errs, fmt.Errorf("%s.first: %w", field, err))
		}
		if _, err := hss.ParseIMSI(string(r.Last)); err != nil {
			errs = append(errs, fmt.Errorf("%s.last: %w", field, err))
		}
		if len(r.First) != len(r.Last) {
			errs = append(errs, fmt.Errorf("%s: first and last must have the same length", field))
		} else if r.First > r.Last {
			errs = append(errs, fmt.Errorf("%s: first is after last", field))
		}
	}
	return errs
}

// GuestRange is the well-known guest credential every RCM-capable device ships
// with (RCM.md "Actors"): the guest IMSI ranges, the shared AKA material, and
// the provisioning APN that is all a guest subscription can reach.
type GuestRange struct {
	Ranges []IMSIRange `json:"ranges"`
	// K and OPc are public by design: every RCM device holds them. That is why a
	// guest vector is only usable once bound to the device (see BindKASME).
	K   hss.Key `json:"-"`
	OPc hss.Key `json:"-"`
	AMF [2]byte `json:"-"`
	// APN is the provisioning APN (TS 23.003 9.1 network identifier) whose PGW
	// policy reaches only the RCM server.
	APN  string   `json:"apn"`
	AMBR hss.AMBR `json:"ambr"`
}

// Contains reports whether imsi is a guest identity.
func (g GuestRange) Contains(imsi hss.IMSI) bool {
	for _, r := range g.Ranges {
		if r.Contains(imsi) {
			return true
		}
	}
	return false
}

// Material is the authentication material for guest vectors.
func (g GuestRange) Material() hss.AuthMaterial {
	return hss.AuthMaterial{K: g.K, OPc: g.OPc, AMF: g.AMF}
}

// RateLimit allows Limit attempts per Window; Limit 0 switches it off.
type RateLimit struct {
	Limit  int           `json:"limit"`
	Window time.Duration `json:"window"`
}

// RateLimits bound provisioning attempts (issue 5 "abuse limits"): per device,
// per device type and per guest IMSI (all devices share the guest identities,
// so that limit is the coarse one).
type RateLimits struct {
	PerIMEI RateLimit `json:"per_imei"`
	PerTAC  RateLimit `json:"per_tac"`
	PerIMSI RateLimit `json:"per_imsi"`
}

// Config is the RCM configuration of the HSS.
type Config struct {
	Guest GuestRange `json:"guest"`
	// BindingLifetime is how long a guest IMSI stays bound to the device that
	// authenticated; at expiry the HSS cancels the guest registration (CLR).
	BindingLifetime time.Duration `json:"binding_lifetime"`
	// TimestampWindow is the largest accepted |now - bootstrap timestamp|.
	TimestampWindow time.Duration `json:"timestamp_window"`
	// Compat, off by default, lets a guest AIR without bootstrap AVPs get a plain
	// guest vector (for MMEs that cannot carry them). Device authentication then
	// rests on the RCM server's mutual TLS only; see docs/rcm-crypto.md.
	Compat     bool       `json:"compat"`
	RateLimits RateLimits `json:"rate_limits"`
}

// DefaultConfig returns the defaults with no guest range: the operator must
// configure ranges and keys before RCM can be switched on.
func DefaultConfig() Config {
	return Config{
		Guest: GuestRange{
			APN:  "rcm.provisioning",
			AMBR: hss.AMBR{UL: 256_000, DL: 256_000},
		},
		BindingLifetime: 10 * time.Minute,
		TimestampWindow: 2 * time.Minute,
		RateLimits: RateLimits{
			PerIMEI: RateLimit{Limit: 10, Window: time.Hour},
			PerTAC:  RateLimit{Limit: 1000, Window: time.Minute},
			PerIMSI: RateLimit{Limit: 6000, Window: time.Minute},
		},
	}
}

// Validate reports every problem at once, each wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	var errs []error
	if len(c.Guest.Ranges) == 0 {
		errs = append(errs, errors.New("guest.ranges: at least one guest imsi range is required"))
	}
	for i, r := range c.Guest.Ranges {
		errs = append(errs, r.validate(fmt.Sprintf("guest.ranges[%d]", i))...)
	}
	if c.Guest.K.IsZero() {
		errs = append(errs, errors.New("guest.k: is required"))
	}
	if c.Guest.OPc.IsZero() {
		errs = append(errs, errors.New("guest.opc: is required"))
	}
	if err := validateAPN(c.Guest.APN); err != nil {
		errs = append(errs, fmt.Errorf("guest.apn: %w", err))
	}
	for _, v := range []struct {
		name string
		bps  uint32
	}{{"guest.ambr.ul", c.Guest.AMBR.UL}, {"guest.ambr.dl", c.Guest.AMBR.DL}} {
		if v.bps == 0 || v.bps > MaxProvisioningAMBR {
			errs = append(errs, fmt.Errorf("%s: must be 1..%d bit/s", v.name, MaxProvisioningAMBR))
		}
	}
	if c.BindingLifetime <= 0 || c.BindingLifetime > 24*time.Hour {
		errs = append(errs, errors.New("binding_lifetime: must be positive and at most 24h"))
	}
	if c.TimestampWindow < time.Second || c.TimestampWindow > time.Hour {
		errs = append(errs, errors.New("timestamp_window: must be 1s..1h"))
	}
	for _, l := range []struct {
		name string
		l    RateLimit
	}{{"rate_limits.per_imei", c.RateLimits.PerIMEI}, {"rate_limits.per_tac", c.RateLimits.PerTAC}, {"rate_limits.per_imsi", c.RateLimits.PerIMSI}} {
		if l.l.Limit < 0 {
			errs = append(errs, fmt.Errorf("%s.limit: must not be negative", l.name))
		}
		if l.l.Limit > 0 && l.l.Window <= 0 {
			errs = append(errs, fmt.Errorf("%s.window: must be positive when a limit is set", l.name))
		}
	}
	for i := range errs {
		errs[i] = fmt.Errorf("rcm: %w: %w", ErrInvalidConfig, errs[i])
	}
	return errors.Join(errs...)
}

// validateAPN checks a TS 23.003 9.1 APN network identifier: dot-separated
// labels of letters, digits and hyphens, at most 63 characters in all here
// (9.1: the network identifier), no wildcard.
func validateAPN(apn string) error {
	if apn == "" || len(apn) > 63 {
		return errors.New("must be 1 to 63 characters")
	}
	for _, label := range strings.Split(apn, ".") {
		if label == "" {
			return errors.New("empty label")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("label %q: only letters, digits and '-' are allowed", label)
			}
		}
	}
	return nil
}
