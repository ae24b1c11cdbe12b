package rcmext

import (
	"errors"
	"time"
)

// DefaultVendorID is the Vendor-Id of dict/rcm.xml: 32473, the IANA
// enterprise number reserved for documentation (RFC 5612).
const DefaultVendorID = 32473

// Config is the RCM extension's Diameter configuration.
type Config struct {
	// VendorID is the Vendor-Id of the RCM AVPs (0: DefaultVendorID).
	VendorID uint32
	// OriginHost and OriginRealm identify this HSS in the CLRs it sends.
	OriginHost  string
	OriginRealm string
	// ExpiryInterval is how often Run looks for expired bindings (0: 5s).
	ExpiryInterval time.Duration
	// ExpiryBatch bounds the bindings expired per tick (0: 100).
	ExpiryBatch int
	// RequestTimeout bounds each CLR (0: 5s).
	RequestTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.VendorID == 0 {
		c.VendorID = DefaultVendorID
	}
	if c.ExpiryInterval == 0 {
		c.ExpiryInterval = 5 * time.Second
	}
	if c.ExpiryBatch == 0 {
		c.ExpiryBatch = 100
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 5 * time.Second
	}
	return c
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.OriginHost == "" || c.OriginRealm == "" {
		errs = append(errs, errors.New("rcmext: config: origin host and realm are required"))
	}
	if c.VendorID == 10415 {
		// 3GPP's own AVP codes would be shadowed.
		errs = append(errs, errors.New("rcmext: config: vendor id must not be 3GPP's 10415"))
	}
	if c.ExpiryInterval < 0 || c.ExpiryBatch < 0 || c.RequestTimeout < 0 {
		errs = append(errs, errors.New("rcmext: config: interval, batch and timeout must not be negative"))
	}
	return errors.Join(errs...)
}
