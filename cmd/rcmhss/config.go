package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/viper"
)

// envPrefix prefixes every environment override: key diameter.origin_host is
// RCMHSS_DIAMETER_ORIGIN_HOST.
const envPrefix = "RCMHSS"

// defaultConfigPath is where `go run ./cmd/rcmhss` finds the lab configuration
// when started from the repository root.
const defaultConfigPath = "configs/rcmhss.yaml"

// Config is the whole file. Its sections are converted into each package's own
// typed Config (wiring.go); only this file knows about viper.
type Config struct {
	Diameter  DiameterSection  `mapstructure:"diameter"`
	Admin     AdminSection     `mapstructure:"admin"`
	Redis     RedisSection     `mapstructure:"redis"`
	HSS       HSSSection       `mapstructure:"hss"`
	Security  SecuritySection  `mapstructure:"security"`
	S6a       S6aSection       `mapstructure:"s6a"`
	SWx       SWxSection       `mapstructure:"swx"`
	S13       S13Section       `mapstructure:"s13"`
	Telemetry TelemetrySection `mapstructure:"telemetry"`
	RCM       RCMSection       `mapstructure:"rcm"`
	Log       LogSection       `mapstructure:"log"`

	// File is the configuration file read, "" when only defaults and the
	// environment apply.
	File string `mapstructure:"-"`
}

// DiameterSection configures the Diameter base server (RFC 6733).
type DiameterSection struct {
	// Listen holds tcp://host:port and sctp://host:port URLs.
	Listen           []string      `mapstructure:"listen"`
	OriginHost       string        `mapstructure:"origin_host"`
	OriginRealm      string        `mapstructure:"origin_realm"`
	ProductName      string        `mapstructure:"product_name"`
	AllowedPeers     []PeerSection `mapstructure:"allowed_peers"`
	AllowLoopback    bool          `mapstructure:"allow_loopback"`
	WatchdogInterval time.Duration `mapstructure:"watchdog_interval"`
	RequestTimeout   time.Duration `mapstructure:"request_timeout"`
	DuplicateTTL     time.Duration `mapstructure:"duplicate_ttl"`
	// ForwardRequests sends a CLR, IDR, DSR, PPR or RTR for a peer connected
	// to another node through that node (Redis peer directory,
	// docs/FAILOVER.md); it applies only with Redis.
	ForwardRequests bool `mapstructure:"forward_requests"`
	// ForwardAttemptTimeout bounds one forwarding attempt; attempts go on
	// until the request's own timeout.
	ForwardAttemptTimeout time.Duration `mapstructure:"forward_attempt_timeout"`
}

// PeerSection is one allow-list entry checked at CER (RFC 6733 5.3).
type PeerSection struct {
	Host  string `mapstructure:"host"`
	Realm string `mapstructure:"realm"`
}

// AdminSection configures the HTTP listener of the admin API, /metrics and health.
type AdminSection struct {
	Listen string `mapstructure:"listen"`
	Token  string `mapstructure:"token"`
}

// RedisSection selects the store: empty Addr means the embedded in-process store.
type RedisSection struct {
	// Addr is one address, or several comma-separated (Sentinel or Cluster seeds).
	Addr       string `mapstructure:"addr"`
	MasterName string `mapstructure:"master_name"`
	Username   string `mapstructure:"username"`
	Password   string `mapstructure:"password"`
	DB         int    `mapstructure:"db"`
	Cluster    bool   `mapstructure:"cluster"`
	KeyPrefix  string `mapstructure:"key_prefix"`
	// Zero timeouts and pool size take go-redis defaults.
	DialTimeout time.Duration `mapstructure:"dial_timeout"`
	ReadTimeout time.Duration `mapstructure:"read_timeout"`
	PoolSize    int           `mapstructure:"pool_size"`
	// PeerTTL is how long the peers of a node that stopped refreshing them
	// (it died) stay in the peer directory.
	PeerTTL time.Duration `mapstructure:"peer_ttl"`
	// FailoverSEQJump turns on the failover guard (docs/FAILOVER.md): the
	// first SQN reservation of a subscriber on a Redis primary other than the
	// one that made its previous reservation first moves SEQ forward by this
	// many steps, so that a reservation lost with asynchronous replication is
	// never issued again. 0 turns the guard off.
	FailoverSEQJump uint64 `mapstructure:"failover_seq_jump"`
	// SharedAnswers keeps every Diameter answer in Redis for
	// diameter.duplicate_ttl, so that a retransmission (T flag) that reaches
	// another node gets the first node's answer byte for byte. Off, the
	// request claims (always on with Redis) still keep that retransmission
	// from changing state twice: it gets an answer built from the same SQN
	// reservation. On costs one SET of the answer per request.
	SharedAnswers bool `mapstructure:"shared_answers"`
}

// Addrs splits Addr.
func (r RedisSection) Addrs() []string {
	var out []string
	for a := range strings.SplitSeq(r.Addr, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// HSSSection configures the HSS core.
type HSSSection struct {
	MaxVectors int        `mapstructure:"max_vectors"`
	SQN        SQNSection `mapstructure:"sqn"`
	HomePLMNs  []string   `mapstructure:"home_plmns"`
}

// SQNSection is the TS 33.102 Annex C profile.
type SQNSection struct {
	INDBits uint8  `mapstructure:"ind_bits"`
	Delta   uint64 `mapstructure:"delta"`
}

// SecuritySection holds the key-encryption key that seals K, OP and OPc at rest.
type SecuritySection struct {
	KEKFile            string `mapstructure:"kek_file"`
	KEK                string `mapstructure:"kek"`
	AllowPlaintextKeys bool   `mapstructure:"allow_plaintext_keys"`
}

// S6aSection switches the S6a application (TS 29.272) on or off.
type S6aSection struct {
	Enabled bool `mapstructure:"enabled"`
	// SupportedFeatures is the Feature-List (Feature-List-ID 1) offered in ULA
	// (TS 29.272 7.3.10).
	SupportedFeatures uint32 `mapstructure:"supported_features"`
	// RequestTimeout bounds each CLR, IDR and DSR we originate.
	RequestTimeout time.Duration `mapstructure:"request_timeout"`
}

// SWxSection switches the SWx application (TS 29.273, 3GPP AAA server to HSS)
// on or off.
type SWxSection struct {
	Enabled bool `mapstructure:"enabled"`
	// RequestTimeout bounds each PPR and RTR we originate.
	RequestTimeout time.Duration `mapstructure:"request_timeout"`
}

// S13Section switches the S13 application (TS 29.272 5.3, MME to EIR) on or
// off and says how an IMEI on no list is answered.
type S13Section struct {
	Enabled bool `mapstructure:"enabled"`
	// UnknownEquipment is "white" (answer WHITELISTED) or "unknown" (answer
	// DIAMETER_ERROR_EQUIPMENT_UNKNOWN 5422).
	UnknownEquipment string `mapstructure:"unknown_equipment"`
}

// TelemetrySection configures traces; metrics are always on /metrics.
type TelemetrySection struct {
	OTLPEndpoint string `mapstructure:"otlp_endpoint"`
	ServiceName  string `mapstructure:"service_name"`
}

// LogSection configures the JSON log on stderr.
type LogSection struct {
	Level string `mapstructure:"level"`
}

// defaults are the built-in values of every key. They are safe for production
// (no token, no plaintext keys): the lab file configs/rcmhss.yaml relaxes them.
// Every key is listed so that every key can be overridden from the environment.
var defaults = map[string]any{
	"diameter.listen":            []string{"tcp://127.0.0.1:3868", "sctp://127.0.0.1:3868"},
	"diameter.origin_host":       "hss.rcmhss.localdomain",
	"diameter.origin_realm":      "rcmhss.localdomain",
	"diameter.product_name":      "rcmhss",
	"diameter.allowed_peers":     []any{},
	"diameter.allow_loopback":    false,
	"diameter.watchdog_interval": "30s",
	"diameter.request_timeout":   "10s",
	"diameter.duplicate_ttl":     "60s",
	"admin.listen":               "127.0.0.1:8080",
	"admin.token":                "",
	"redis.addr":                 "",
	"redis.master_name":          "",
	"redis.username":             "",
	"redis.password":             "",
	"redis.db":                   0,
	"redis.cluster":              false,
	"redis.key_prefix":           "rcmhss:",
	"redis.dial_timeout":         "5s",
	"redis.read_timeout":         "3s",
	"redis.pool_size":            0,
	// Cross-node requests (docs/FAILOVER.md): on whenever Redis is.
	"diameter.forward_requests":        true,
	"diameter.forward_attempt_timeout": "1s",
	"redis.peer_ttl":                   "5s",
	// On by default: an SQN issued twice breaks TS 33.102's replay
	// protection, which matters more than the guard's ~20 µs of Redis CPU per
	// reservation. 4096 exceeds by far the reservations one subscriber gets
	// during a replication lag and stays 2^16 times below Delta (2^28).
	"redis.failover_seq_jump":       uint64(4096),
	"redis.shared_answers":          false,
	"hss.max_vectors":               32,
	"hss.sqn.ind_bits":              5,
	"hss.sqn.delta":                 uint64(1) << 28,
	"hss.home_plmns":                []string{},
	"security.kek_file":             "",
	"security.kek":                  "",
	"security.allow_plaintext_keys": false,
	"s6a.enabled":                   true,
	"s6a.supported_features":        0,
	"s6a.request_timeout":           "5s",
	"swx.enabled":                   true,
	"swx.request_timeout":           "5s",
	"s13.enabled":                   true,
	"s13.unknown_equipment":         "white",
	"telemetry.otlp_endpoint":       "",
	"telemetry.service_name":        "rcmhss",
	"log.level":                     "info",
}

func init() {
	for _, m := range []map[string]any{rcmDefaults, rcmProvisioningDefaults} {
		for k, v := range m {
			defaults[k] = v
		}
	}
}

// ErrConfig wraps every configuration problem.
var ErrConfig = errors.New("invalid configuration")

// LoadConfig reads path (YAML) over the built-in defaults, then applies RCMHSS_*
// environment overrides. A missing file is an error unless path is the default
// path, so that an explicit --config typo is never silently ignored.
func LoadConfig(path string, explicit bool) (Config, error) {
	v := viper.New()
	v.SetEnvPrefix(envPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	// A variable set to "" counts: RCMHSS_REDIS_ADDR= selects the embedded
	// store even when the file names a Redis.
	v.AllowEmptyEnv(true)
	for k, d := range defaults {
		v.SetDefault(k, d)
		// AutomaticEnv only sees keys viper already knows from the file; binding
		// each default makes every key overridable whatever the file holds.
		if err := v.BindEnv(k); err != nil {
			return Config{}, fmt.Errorf("config: bind %s: %w", k, err)
		}
	}
	v.SetConfigFile(path)
	v.SetConfigType("yaml")
	file := path
	if err := v.ReadInConfig(); err != nil {
		var notFound *os.PathError
		if explicit || !errors.As(err, &notFound) {
			return Config{}, fmt.Errorf("config: read %s: %w", path, err)
		}
		file = ""
	}
	var unknown []error
	for _, k := range v.AllKeys() {
		if _, ok := defaults[k]; !ok {
			unknown = append(unknown, fmt.Errorf("config: unknown key %q: %w", k, ErrConfig))
		}
	}
	if err := errors.Join(unknown...); err != nil {
		return Config{}, err
	}
	var c Config
	if err := v.UnmarshalExact(&c); err != nil {
		return Config{}, fmt.Errorf("config: decode: %w: %w", ErrConfig, err)
	}
	c.File = file
	// An env var holding "a,b" reaches a list key as one string; split it.
	c.Diameter.Listen = splitList(c.Diameter.Listen)
	c.HSS.HomePLMNs = splitList(c.HSS.HomePLMNs)
	c.RCM.GuestRanges = splitList(c.RCM.GuestRanges)
	c.RCM.VendorCAFiles = splitList(c.RCM.VendorCAFiles)
	c.RCM.VendorTACs = splitList(c.RCM.VendorTACs)
	c.RCM = c.RCM.withDemo()
	return c, nil
}

func splitList(in []string) []string {
	out := []string{}
	for _, s := range in {
		for p := range strings.SplitSeq(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// Validate checks what belongs to the binary itself (admin listener, token,
// security, log level); each package validates its own Config.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("config: %s: %s: %w", key, fmt.Sprintf(format, args...), ErrConfig))
	}
	if _, _, err := net.SplitHostPort(c.Admin.Listen); err != nil {
		bad("admin.listen", "must be host:port")
	}
	if c.Admin.Token == "" {
		bad("admin.token", "is required: the admin API never runs unauthenticated (set RCMHSS_ADMIN_TOKEN)")
	} else if len(c.Admin.Token) < 16 {
		bad("admin.token", "must be at least 16 characters")
	}
	if c.Security.KEK != "" && c.Security.KEKFile != "" {
		bad("security", "set kek or kek_file, not both")
	}
	if c.Security.KEK == "" && c.Security.KEKFile == "" && !c.Security.AllowPlaintextKeys {
		bad("security", "no key-encryption key: set security.kek_file or RCMHSS_SECURITY_KEK, or allow_plaintext_keys for a lab")
	}
	if _, err := c.LogLevel(); err != nil {
		bad("log.level", "must be debug, info, warn or error")
	}
	for i, l := range c.Diameter.Listen {
		if !slices.ContainsFunc([]string{"tcp://", "sctp://"}, func(p string) bool { return strings.HasPrefix(l, p) }) {
			bad(fmt.Sprintf("diameter.listen[%d]", i), "must be tcp://host:port or sctp://host:port")
		}
	}
	return errors.Join(errs...)
}

// LogLevel parses log.level.
func (c Config) LogLevel() (slog.Level, error) {
	var l slog.Level
	err := l.UnmarshalText([]byte(c.Log.Level))
	return l, err
}

// KEK returns the key-encryption key text from security.kek or the file named
// by security.kek_file ("" when none is configured).
func (c Config) KEK() (string, error) {
	if c.Security.KEKFile == "" {
		return c.Security.KEK, nil
	}
	b, err := os.ReadFile(c.Security.KEKFile)
	if err != nil {
		return "", fmt.Errorf("config: security.kek_file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}
