package redisstore

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Config selects and tunes the Redis deployment.
//
//   - single Redis: Addrs holds one address;
//   - Sentinel: MasterName is set and Addrs are the sentinels;
//   - Cluster: Cluster is true and Addrs are seed nodes.
type Config struct {
	Addrs      []string
	MasterName string
	Username   string
	Password   string
	DB         int
	Cluster    bool
	// KeyPrefix namespaces every key, e.g. "rcmhss:"; it may not contain braces
	// (they would change the Cluster hash tag).
	KeyPrefix   string
	DialTimeout time.Duration
	ReadTimeout time.Duration
	// PoolSize is the number of connections per node (0: go-redis default,
	// 10 per CPU).
	PoolSize int
	// FailoverSEQJump, when not zero, turns on the failover guard
	// (failover_guard.go): the first reservation of a subscriber on a Redis
	// primary other than the one that made its last reservation (a promoted
	// replica, a restarted server) first moves SEQ forward by this many
	// steps, so that reservations lost with asynchronous replication are
	// never issued again. It must exceed the reservations one subscriber can
	// get during the replication lag, and stay well below the USIM's Delta
	// (TS 33.102 C.2.1).
	FailoverSEQJump uint64
	// RequestClaimTTL, when not zero, makes the SQN reservations and MME
	// registrations of a request idempotent across nodes for this long: the
	// request key of the context (hss.WithRequestKey: Origin-Host and
	// End-to-End Identifier) is recorded with the change in the same script,
	// and another copy of the same request (a retransmission a relay sent to
	// another node, the original a frozen node runs late) gets the same
	// reservation back and changes nothing (request_claim.go).
	RequestClaimTTL time.Duration
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if len(c.Addrs) == 0 {
		errs = append(errs, errors.New("redisstore: config: at least one address is required"))
	}
	for i, a := range c.Addrs {
		if a == "" || !strings.Contains(a, ":") {
			errs = append(errs, fmt.Errorf("redisstore: config: addrs[%d] %q is not host:port", i, a))
		}
	}
	if c.Cluster && c.MasterName != "" {
		errs = append(errs, errors.New("redisstore: config: cluster and master_name (sentinel) are exclusive"))
	}
	if !c.Cluster && c.MasterName == "" && len(c.Addrs) > 1 {
		errs = append(errs, errors.New("redisstore: config: several addresses need cluster: true or a sentinel master_name"))
	}
	if c.Cluster && c.DB != 0 {
		errs = append(errs, errors.New("redisstore: config: a cluster has only db 0"))
	}
	if c.DB < 0 {
		errs = append(errs, fmt.Errorf("redisstore: config: db must not be negative, got %d", c.DB))
	}
	if strings.ContainsAny(c.KeyPrefix, "{}") {
		errs = append(errs, errors.New("redisstore: config: key_prefix must not contain '{' or '}'"))
	}
	if c.DialTimeout < 0 || c.ReadTimeout < 0 {
		errs = append(errs, errors.New("redisstore: config: timeouts must not be negative"))
	}
	if c.RequestClaimTTL != 0 && c.RequestClaimTTL < time.Millisecond {
		errs = append(errs, fmt.Errorf("redisstore: config: request claim ttl must be 0 (off) or at least 1ms, got %v", c.RequestClaimTTL))
	}
	if c.PoolSize < 0 {
		errs = append(errs, fmt.Errorf("redisstore: config: pool_size must not be negative, got %d", c.PoolSize))
	}
	return errors.Join(errs...)
}

// client builds the go-redis client for the configured deployment.
func (c Config) client() redis.UniversalClient {
	return redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:         c.Addrs,
		MasterName:    c.MasterName,
		Username:      c.Username,
		Password:      c.Password,
		DB:            c.DB,
		IsClusterMode: c.Cluster,
		DialTimeout:   c.DialTimeout,
		ReadTimeout:   c.ReadTimeout,
		WriteTimeout:  c.ReadTimeout,
		PoolSize:      c.PoolSize,
	})
}
