package loadgen

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"
)

// Config is one load run.
type Config struct {
	// Targets are "tcp://host:port" or "sctp://host:port"; connections are
	// spread over them in turn.
	Targets []string
	// Conns is the number of connections (default 1).
	Conns int
	// Window bounds the requests in flight per connection: the closed-loop
	// window, and in open loop the most a connection queues before the
	// intended times it misses show up as latency (default 64, at most 65536).
	Window int
	// Rate (requests/s) or Ramp selects an open-loop run; with neither the run
	// is closed loop.
	Rate float64
	Ramp *Ramp
	// Duration and Requests bound the run; at least one is required. In open
	// loop, Duration bounds the intended send times, so the number of
	// requests scheduled is exactly the rate integrated over it.
	Duration time.Duration
	Requests uint64
	// Timeout is how long an answer may take before the request counts as
	// timed out (default 5s).
	Timeout time.Duration
	// Mix is the scenarios and their weights (default air).
	Mix Mix
	// ResyncShare is the share of AIRs that carry Re-Synchronization-Info.
	ResyncShare float64
	// ResyncKeys, when set, make the resync AUTS verifiable (see ResyncKeys);
	// without, it is random.
	ResyncKeys *ResyncKeys
	IMSIs      IMSIRange
	Identity   Identity
	// Progress receives a status line per ProgressInterval (nil: none);
	// TerminalProgress rewrites it in place with a carriage return.
	Progress         io.Writer
	TerminalProgress bool
	ProgressInterval time.Duration
}

func (c Config) withDefaults() Config {
	if c.Conns == 0 {
		c.Conns = 1
	}
	if c.Window == 0 {
		c.Window = 64
	}
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
	if len(c.Mix) == 0 {
		c.Mix = Mix{{Scenario: ScenarioAIR, Weight: 1}}
	}
	if c.ProgressInterval == 0 {
		c.ProgressInterval = time.Second
	}
	if c.Identity.OriginHost == "" {
		c.Identity.OriginHost = "diamload.localdomain"
	}
	if c.Identity.OriginRealm == "" {
		c.Identity.OriginRealm = "localdomain"
	}
	if c.Identity.DestinationRealm == "" {
		c.Identity.DestinationRealm = c.Identity.OriginRealm
	}
	return c
}

// OpenLoop reports whether the run is rate driven.
func (c Config) OpenLoop() bool { return c.Rate > 0 || c.Ramp != nil }

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	if len(c.Targets) == 0 {
		errs = append(errs, errors.New("loadgen: config: at least one target is required"))
	}
	for _, t := range c.Targets {
		if _, _, err := parseTarget(t); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Conns < 0 || c.Conns > 4096 {
		errs = append(errs, errors.New("loadgen: config: conns must be in 1..4096"))
	}
	if c.Window < 0 || c.Window > 1<<16 {
		errs = append(errs, errors.New("loadgen: config: window must be in 1..65536"))
	}
	if c.Rate < 0 {
		errs = append(errs, errors.New("loadgen: config: rate must not be negative"))
	}
	if c.Rate > 0 && c.Ramp != nil {
		errs = append(errs, errors.New("loadgen: config: give a rate or a ramp, not both"))
	}
	if c.Duration <= 0 && c.Requests == 0 {
		errs = append(errs, errors.New("loadgen: config: a duration or a number of requests is required, so that the run ends"))
	}
	if c.Duration < 0 || c.Timeout < 0 {
		errs = append(errs, errors.New("loadgen: config: durations must not be negative"))
	}
	if c.ResyncShare < 0 || c.ResyncShare > 1 {
		errs = append(errs, errors.New("loadgen: config: resync share must be in 0..1"))
	}
	if c.IMSIs.Count == 0 || c.IMSIs.Digits == 0 {
		errs = append(errs, errors.New("loadgen: config: an imsi range is required"))
	}
	return errors.Join(errs...)
}

// parseTarget splits "tcp://host:port" into a network and an address.
func parseTarget(s string) (network, addr string, err error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "", "", fmt.Errorf("loadgen: target %q: want tcp://host:port or sctp://host:port", s)
	}
	switch u.Scheme {
	case "tcp", "tcp4", "tcp6", "sctp", "sctp4", "sctp6":
		return u.Scheme, u.Host, nil
	}
	return "", "", fmt.Errorf("loadgen: target %q: unsupported scheme %q (want tcp or sctp)", s, u.Scheme)
}
