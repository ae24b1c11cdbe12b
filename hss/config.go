package hss

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Vector count limits.
const (
	// DefaultMaxVectors caps the vectors of each kind one request may ask for.
	DefaultMaxVectors = 32
	// MaxMaxVectors is the largest cap Config accepts.
	MaxMaxVectors = 96
)

// Config is the HSS service configuration. Build it from DefaultConfig, or call
// WithDefaults on a partly filled one.
type Config struct {
	// MaxVectors caps the E-UTRAN, UTRAN and GERAN vectors (each kind
	// separately) of one AIR and the vectors of one MAR. 1..96, default 32.
	MaxVectors int
	// SQN tunes sequence-number management (TS 33.102 Annex C).
	SQN SQNConfig
	// HomePLMNs lists the operator's PLMNs as "MCCMNC". When empty, a
	// subscriber's home PLMN is the first 5 or 6 digits of its IMSI that match
	// the visited PLMN.
	HomePLMNs []string
}

// DefaultConfig returns MaxVectors 32, INDBits 5, Delta 2^28 and no HomePLMNs.
func DefaultConfig() Config {
	return Config{MaxVectors: DefaultMaxVectors, SQN: DefaultSQNConfig()}
}

// WithDefaults fills the fields left at their zero value: MaxVectors becomes 32,
// a zero SQNConfig becomes DefaultSQNConfig (INDBits 5, Delta 2^28) and a zero
// Delta alone becomes 2^28. Because INDBits 0 is a valid setting, a zero
// INDBits is kept as 0 whenever Delta is set.
func (c Config) WithDefaults() Config {
	if c.MaxVectors == 0 {
		c.MaxVectors = DefaultMaxVectors
	}
	if c.SQN == (SQNConfig{}) {
		c.SQN = DefaultSQNConfig()
	}
	if c.SQN.Delta == 0 {
		c.SQN.Delta = DefaultDelta
	}
	return c
}

// Validate reports every problem with c at once.
func (c Config) Validate() error {
	var errs []error
	if c.MaxVectors < 1 || c.MaxVectors > MaxMaxVectors {
		errs = append(errs, invalid("max_vectors", fmt.Sprintf("must be 1..%d, got %d", MaxMaxVectors, c.MaxVectors)))
	}
	if err := c.SQN.Validate(); err != nil {
		errs = append(errs, err)
	}
	for i, p := range c.HomePLMNs {
		if _, err := PLMNFromString(p); err != nil {
			errs = append(errs, invalid(fmt.Sprintf("home_plmns[%d]", i), fmt.Sprintf("%q must be 5 or 6 digits (MCC+MNC)", p)))
		}
	}
	return errors.Join(errs...)
}

// Option customises New.
type Option func(*HSS)

// WithRand sets the source of RAND values (default crypto/rand.Reader). Tests
// use it to reproduce vectors; production must keep a CSPRNG (TS 33.102 6.3.2).
func WithRand(r io.Reader) Option { return func(h *HSS) { h.rand = r } }

// WithClock sets the clock used for CreatedAt/UpdatedAt (default time.Now).
func WithClock(now func() time.Time) Option { return func(h *HSS) { h.now = now } }

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(h *HSS) { h.log = l } }
