package diameter

import (
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
// End-to-End Identifier together are unique for the duplicate window. It
// is built with one allocation: every application request pays for it.
func duplicateKey(originHost string, endToEnd uint32) string {
	var buf [256]byte
	b := append(buf[:0], originHost...)
	b = append(b, '/')
	b = strconv.AppendUint(b, uint64(endToEnd), 16)
	return string(b)
}

// MemoryDuplicateCache is an in-process DuplicateCache bounded both in time
// (entries expire after the TTL) and in size (least recently used entries
// go first).
//
// Every answered request is Put, so Put is on the hot path: entries form an
// intrusive LRU list (no list element besides the entry) and the entry an
// eviction frees is reused by the Put that caused it, so a full cache
// stores an answer without allocating anything but the map slot.
type MemoryDuplicateCache struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu    sync.Mutex
	items map[string]*memoryEntry
	// root is the sentinel of the LRU ring: root.next is the most recently
	// used entry, root.prev the least.
	root memoryEntry
	n    int
}

type memoryEntry struct {
	key        string
	answer     []byte
	expires    time.Time
	prev, next *memoryEntry
}

// NewMemoryDuplicateCache returns a cache keeping at most maxEntries answers
// for ttl each.
func NewMemoryDuplicateCache(ttl time.Duration, maxEntries int) *MemoryDuplicateCache {
	if maxEntries <= 0 {
		maxEntries = 100_000
	}
	c := &MemoryDuplicateCache{ttl: ttl, max: maxEntries, now: time.Now,
		items: make(map[string]*memoryEntry)}
	c.root.next, c.root.prev = &c.root, &c.root
	return c
}

func (c *MemoryDuplicateCache) unlink(e *memoryEntry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
	c.n--
}

func (c *MemoryDuplicateCache) pushFront(e *memoryEntry) {
	e.prev, e.next = &c.root, c.root.next
	c.root.next.prev = e
	c.root.next = e
	c.n++
}

// Get returns the answer stored for key if it has not expired.
func (c *MemoryDuplicateCache) Get(_ context.Context, key string) ([]byte, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[key]
	if !ok {
		return nil, false, nil
	}
	if !c.now().Before(e.expires) {
		c.unlink(e)
		delete(c.items, key)
		return nil, false, nil
	}
	c.unlink(e)
	c.pushFront(e)
	return e.answer, true, nil
}

// Put stores answer under key; answer must not be modified afterwards.
func (c *MemoryDuplicateCache) Put(_ context.Context, key string, answer []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	exp := now.Add(c.ttl)
	if e, ok := c.items[key]; ok {
		e.answer, e.expires = answer, exp
		c.unlink(e)
		c.pushFront(e)
		return nil
	}
	// Evict expired entries from the tail first, then by size; keep one
	// evicted entry for the new answer.
	var free *memoryEntry
	for e := c.root.prev; e != &c.root; e = c.root.prev {
		if c.n < c.max && now.Before(e.expires) {
			break
		}
		c.unlink(e)
		delete(c.items, e.key)
		free = e
	}
	if free == nil {
		free = new(memoryEntry)
	}
	*free = memoryEntry{key: key, answer: answer, expires: exp}
	c.pushFront(free)
	c.items[key] = free
	return nil
}

// Len returns the number of stored answers (expired ones included until
// they are evicted).
func (c *MemoryDuplicateCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}
