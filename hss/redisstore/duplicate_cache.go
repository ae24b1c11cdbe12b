package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// DuplicateCache keeps the serialized answers of Diameter requests in Redis
// (it has the methods of diameter.DuplicateCache), shared by every node on
// the same Redis: a request retransmitted with the T flag (RFC 6733 5.5.4)
// to another node, after a relay or MME failed over, is answered there with
// the first node's answer instead of running again (a second AIR would
// reserve new SQNs, a second ULR would register twice). Entries expire with
// the Redis TTL (SET PX), so nothing is left behind.
type DuplicateCache struct {
	rdb    redis.UniversalClient
	ap     *autoPipeline // Put shares the pipelines of the SQN reservations
	prefix string
	ttl    time.Duration
}

// ErrInvalidTTL is returned by NewDuplicateCache for a TTL under 1 ms (PX
// counts milliseconds).
var ErrInvalidTTL = errors.New("redisstore: duplicate cache: ttl must be at least 1ms")

// NewDuplicateCache returns a cache on the store's Redis connections keeping
// each answer for ttl (diameter.duplicate_ttl).
func (s *Store) NewDuplicateCache(ttl time.Duration) (*DuplicateCache, error) {
	if ttl < time.Millisecond {
		return nil, ErrInvalidTTL
	}
	return &DuplicateCache{rdb: s.rdb, ap: s.scripts, prefix: s.prefix + "dup:", ttl: ttl}, nil
}

// key is <prefix>dup:{<key>}: the braces keep each entry whole on one
// Cluster slot whatever the request key holds.
func (c *DuplicateCache) key(k string) string { return c.prefix + "{" + k + "}" }

// Get returns the answer stored for key, if any.
func (c *DuplicateCache) Get(ctx context.Context, key string) ([]byte, bool, error) {
	b, err := c.rdb.Get(ctx, c.key(key)).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("redisstore: duplicate cache get: %w", err)
	}
	return b, true, nil
}

// Put stores answer under key for the TTL.
func (c *DuplicateCache) Put(ctx context.Context, key string, answer []byte) error {
	// Every answer is Put: the SET goes out in the same pipelines as the
	// concurrent requests' reservations instead of a round trip of its own.
	cmd := redis.NewStatusCmd(ctx, "set", c.key(key), answer, "px", c.ttl.Milliseconds())
	if err := c.ap.do(ctx, cmd); err != nil {
		return fmt.Errorf("redisstore: duplicate cache put: %w", err)
	}
	if err := cmd.Err(); err != nil {
		return fmt.Errorf("redisstore: duplicate cache put: %w", err)
	}
	return nil
}
