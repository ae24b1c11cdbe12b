package diameter

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Config is the server's own configuration, validated by Validate.
type Config struct {
	// Listen holds one URL per listener: "tcp://127.0.0.1:3868",
	// "sctp://0.0.0.0:3868". Port 0 picks a free port (see Server.Addrs).
	Listen []string
	// OriginHost and OriginRealm are this node's DiameterIdentity (RFC 6733 6.3, 6.4).
	OriginHost, OriginRealm string
	// ProductName is advertised in the CEA (default "rcmhss").
	ProductName string
	// AllowedPeers lists the peers accepted at CER, by Origin-Host and/or
	// Origin-Realm pattern. With none, only loopback peers are accepted, and
	// only when AllowLoopback is set.
	AllowedPeers []PeerRule
	// AllowLoopback accepts any peer connecting from 127.0.0.0/8 or ::1 (lab
	// default).
	AllowLoopback bool
	// WatchdogInterval is Tw (RFC 3539 3.4.1), default 30s, at least 1s.
	WatchdogInterval time.Duration
	// RequestTimeout bounds Send when the context has no earlier deadline
	// (default 5s).
	RequestTimeout time.Duration
	// DuplicateTTL is how long answers are kept to answer retransmissions
	// (RFC 6733 5.5.4, default 60s).
	DuplicateTTL time.Duration
	// ForwardAttemptTimeout bounds one attempt of a request forwarded to the
	// node holding the peer's connection (WithForwarder, default 1s): when
	// the owner has not answered by then, Send looks it up again and retries
	// until its overall deadline.
	ForwardAttemptTimeout time.Duration
}

// PeerRule matches a peer at CER. Each non-empty field is a pattern: an
// exact DiameterIdentity (case-insensitive) or "*.suffix", which matches any
// name ending in ".suffix". A rule with both fields set needs both to match.
type PeerRule struct {
	OriginHost  string
	OriginRealm string
}

func matchPattern(pattern, name string) bool {
	pattern, name = strings.ToLower(pattern), strings.ToLower(name)
	if suffix, ok := strings.CutPrefix(pattern, "*"); ok {
		return strings.HasSuffix(name, suffix) && len(name) > len(suffix)
	}
	return pattern == name
}

// Match reports whether a peer with this Origin-Host and Origin-Realm
// matches r.
func (r PeerRule) Match(host, realm string) bool {
	if r.OriginHost == "" && r.OriginRealm == "" {
		return false
	}
	if r.OriginHost != "" && !matchPattern(r.OriginHost, host) {
		return false
	}
	if r.OriginRealm != "" && !matchPattern(r.OriginRealm, realm) {
		return false
	}
	return true
}

const (
	defaultProductName      = "rcmhss"
	defaultWatchdogInterval = 30 * time.Second
	defaultRequestTimeout   = 5 * time.Second
	defaultDuplicateTTL     = 60 * time.Second
	defaultForwardAttempt   = time.Second
)

func (c Config) withDefaults() Config {
	if c.ProductName == "" {
		c.ProductName = defaultProductName
	}
	if c.WatchdogInterval == 0 {
		c.WatchdogInterval = defaultWatchdogInterval
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = defaultRequestTimeout
	}
	if c.DuplicateTTL == 0 {
		c.DuplicateTTL = defaultDuplicateTTL
	}
	if c.ForwardAttemptTimeout == 0 {
		c.ForwardAttemptTimeout = defaultForwardAttempt
	}
	return c
}

// Validate reports every problem of c at once. Zero durations and an empty
// ProductName take their defaults and are valid.
func (c Config) Validate() error {
	var errs []error
	if len(c.Listen) == 0 {
		errs = append(errs, errors.New("diameter: config: no listen address"))
	}
	for _, l := range c.Listen {
		if _, _, err := parseListen(l); err != nil {
			errs = append(errs, fmt.Errorf("diameter: config: listen %q: %w", l, err))
		}
	}
	if c.OriginHost == "" {
		errs = append(errs, errors.New("diameter: config: origin host is empty"))
	}
	if c.OriginRealm == "" {
		errs = append(errs, errors.New("diameter: config: origin realm is empty"))
	}
	if len(c.AllowedPeers) == 0 && !c.AllowLoopback {
		errs = append(errs, errors.New("diameter: config: no allowed peers and loopback not allowed: no peer could connect"))
	}
	for i, r := range c.AllowedPeers {
		if r.OriginHost == "" && r.OriginRealm == "" {
			errs = append(errs, fmt.Errorf("diameter: config: allowed peer %d: neither origin host nor origin realm", i))
		}
	}
	// RFC 3539 3.4.1 sets 6s as the floor for Tw on the wire; tests use
	// shorter intervals, so only sub-second values are refused.
	if c.WatchdogInterval != 0 && c.WatchdogInterval < time.Second {
		errs = append(errs, fmt.Errorf("diameter: config: watchdog interval %v below 1s", c.WatchdogInterval))
	}
	if c.RequestTimeout < 0 {
		errs = append(errs, fmt.Errorf("diameter: config: negative request timeout %v", c.RequestTimeout))
	}
	if c.DuplicateTTL < 0 {
		errs = append(errs, fmt.Errorf("diameter: config: negative duplicate ttl %v", c.DuplicateTTL))
	}
	if c.ForwardAttemptTimeout < 0 {
		errs = append(errs, fmt.Errorf("diameter: config: negative forward attempt timeout %v", c.ForwardAttemptTimeout))
	}
	return errors.Join(errs...)
}

// parseListen splits "tcp://host:port" into the network and address.
func parseListen(s string) (network, addr string, err error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", "", err
	}
	switch u.Scheme {
	case "tcp", "tcp4", "tcp6", "sctp", "sctp4", "sctp6":
	default:
		return "", "", fmt.Errorf("unsupported scheme %q (want tcp or sctp)", u.Scheme)
	}
	if _, _, err := net.SplitHostPort(u.Host); err != nil {
		return "", "", err
	}
	return u.Scheme, u.Host, nil
}
