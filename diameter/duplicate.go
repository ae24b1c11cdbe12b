package diameter

import (
	"container/list"
	"context"
	"strconv"
	"sync"
	"time"
)

// DuplicateCache keeps serialized answers by request key (Origin-Host and
// End-to-End Identifier) so that a retransmitted request (T bit, RFC 6733
// 5.5.4) gets the same answer without running the handler twice. An
// implementation shared between nodes (Redis) lets a retransmission sent to
// another node after failover be detected too.
type DuplicateCache interface {
	Get(ctx context.Context, key string) ([]byte, bool, error)
	Put(ctx context.Context, key string, answer []byte) error
}

// duplicateKey is the RFC 6733 6.1.3 identity of a request: Origin-Host and
// End-to-End Identifier together are unique for the duplicate window.
func duplicateKey(originHost string, endToEnd uint32) string {
	return originHost + "/" + strconv.FormatUint(uint64(endToEnd), 16)
}

// MemoryDuplicateCache is an in-process DuplicateCache bounded both in time
// (entries expire after the TTL) and in size (least recently used entries
// go first).
type MemoryDuplicateCache struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu    sync.Mutex
	items map[string]*list.Element
	order *list.List // front = most recently used
}

type memoryEntry struct {
	key     string
	answer  []byte
	expires time.Time
}

// NewMemoryDuplicateCache returns a cache keeping at most maxEntries answers
// for ttl each.
func NewMemoryDuplicateCache(ttl time.Duration, maxEntries int) *MemoryDuplicateCache {
	if maxEntries <= 0 {
		maxEntries = 100_000
	}
	return &MemoryDuplicateCache{ttl: ttl, max: maxEntries, now: time.Now,
		items: make(map[string]*list.Element), order: list.New()}
}

// Get returns the answer stored for key if it has not expired.
func (c *MemoryDuplicateCache) Get(_ context.Context, key string) ([]byte, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return nil, false, nil
	}
	e := el.Value.(*memoryEntry)
	if !c.now().Before(e.expires) {
		c.order.Remove(el)
		delete(c.items, key)
		return nil, false, nil
	}
	c.order.MoveToFront(el)
	return e.answer, true, nil
}

// Put stores answer under key; answer must not be modified afterwards.
func (c *MemoryDuplicateCache) Put(_ context.Context, key string, answer []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	exp := c.now().Add(c.ttl)
	if el, ok := c.items[key]; ok {
		e := el.Value.(*memoryEntry)
		e.answer, e.expires = answer, exp
		c.order.MoveToFront(el)
		return nil
	}
	c.items[key] = c.order.PushFront(&memoryEntry{key: key, answer: answer, expires: exp})
	// Evict expired entries from the tail first, then by size.
	for el := c.order.Back(); el != nil; el = c.order.Back() {
		e := el.Value.(*memoryEntry)
		if c.order.Len() <= c.max && c.now().Before(e.expires) {
			break
		}
		c.order.Remove(el)
		delete(c.items, e.key)
	}
	return nil
}

// Len returns the number of stored answers (expired ones included until
// they are evicted).
func (c *MemoryDuplicateCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
