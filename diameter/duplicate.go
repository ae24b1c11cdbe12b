package diameter

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
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

// ErrDuplicateTooLarge is returned by MemoryDuplicateCache.Put for a key and
// answer that do not fit in one slab; the answer is not kept.
var ErrDuplicateTooLarge = errors.New("diameter: duplicate cache: answer too large to keep")

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

// MemoryDuplicateCache is an in-process DuplicateCache bounded in time
// (entries expire after the TTL), in count (at most maxEntries answers, the
// least recently used go first) and in bytes (maxEntries x
// duplicateBytesPerEntry, reached only if answers average more than that).
//
// Every answered request is Put, so a busy server keeps the cache full: 100k
// answers live for the whole TTL. Held as objects with pointers, they were
// most of the heap the garbage collector marks on every cycle (a 20-40 ms
// mark phase every ~0.5 s at 30k requests/s, the p99 of issue 7). This cache
// holds no pointer the collector has to follow: records (key and answer
// copied side by side) are appended to a ring of large []byte slabs, and the
// index maps a seeded 64-bit hash of the key to the record's position
// (map[uint64]uint64: neither keys nor values are pointers, so the map is
// not scanned either). The full key stored in the record is compared on Get,
// so a hash collision is a miss, never another request's answer; a Put whose
// key collides with a stored one replaces it (the older request, if
// retransmitted, is handled again, as after expiry).
//
// Records are evicted from the ring's tail: in the order they were stored,
// and a Get that hits moves its record to the head (a copy appended there),
// so the order is least recently used first, as before.
type MemoryDuplicateCache struct {
	ttl time.Duration
	max int
	now func() time.Time
	// hash is the seeded maphash of a key; tests replace it to force
	// collisions.
	hash     func(string) uint64
	slabSize uint64

	mu sync.Mutex
	// index maps the hash of a stored key to the position of its record.
	index map[uint64]uint64
	// slabs is the ring. A slab holds records of one lap only: the head
	// enters a slab once the tail has left it, and the tail gives the slab
	// back (to spare, or to the collector) as it leaves, so memory follows
	// what is stored rather than the byte bound.
	slabs [][]byte
	spare []byte
	// head is where the next record goes and tail is the oldest record, as
	// positions in the infinite byte stream the ring stores (slab
	// (pos/slabSize) mod len(slabs), offset pos mod slabSize); tail <= head
	// and head-tail <= the ring's capacity.
	head, tail uint64
}

const (
	// duplicateSlabSize is the size of one slab, and so (less the record
	// header and the key) of the largest answer kept. Diameter answers are
	// far smaller; the slab is allocated only once used.
	duplicateSlabSize = 1 << 20
	// duplicateBytesPerEntry is the byte budget per entry of maxEntries.
	// An AIA with one vector and its key take ~450 bytes, so the count bound
	// is the one reached in practice.
	duplicateBytesPerEntry = 2 << 10
	// defaultDuplicateEntries is the count bound when none is given.
	defaultDuplicateEntries = 100_000
)

// A record is a header, the key and the answer. The header:
//
//	[0:8]   hash of the key
//	[8:16]  expiry, Unix nanoseconds
//	[16:20] answer length
//	[20:22] key length; recordSkip marks the rest of the slab as unused
const (
	recordHeader = 22
	recordSkip   = 0xffff
	maxKeyLen    = recordSkip - 1
)

// NewMemoryDuplicateCache returns a cache keeping at most maxEntries answers
// (100,000 when maxEntries <= 0) for ttl each.
func NewMemoryDuplicateCache(ttl time.Duration, maxEntries int) *MemoryDuplicateCache {
	if maxEntries <= 0 {
		maxEntries = defaultDuplicateEntries
	}
	// One slab more than the byte bound: the head's slab is partly filled.
	slabs := (uint64(maxEntries)*duplicateBytesPerEntry+duplicateSlabSize-1)/duplicateSlabSize + 1
	return newMemoryDuplicateCache(ttl, maxEntries, duplicateSlabSize, int(slabs))
}

// newMemoryDuplicateCache sets the slab geometry (tests use small slabs); a
// ring has two slabs at least, so that wrapping around does not empty it.
func newMemoryDuplicateCache(ttl time.Duration, maxEntries, slabSize, slabs int) *MemoryDuplicateCache {
	seed := maphash.MakeSeed()
	return &MemoryDuplicateCache{
		ttl: ttl, max: maxEntries, now: time.Now,
		hash:     func(k string) uint64 { return maphash.String(seed, k) },
		slabSize: uint64(slabSize),
		index:    make(map[uint64]uint64),
		slabs:    make([][]byte, max(slabs, 2)),
	}
}

// capacity is the number of bytes the ring holds.
func (c *MemoryDuplicateCache) capacity() uint64 { return c.slabSize * uint64(len(c.slabs)) }

// at returns the bytes of the ring from pos to the end of pos's slab.
func (c *MemoryDuplicateCache) at(pos uint64) []byte {
	return c.slabs[c.slab(pos)][pos%c.slabSize:]
}

// nextSlab returns the start of the slab after pos's.
func (c *MemoryDuplicateCache) nextSlab(pos uint64) uint64 { return pos - pos%c.slabSize + c.slabSize }

// slab returns the index in slabs of the slab holding pos.
func (c *MemoryDuplicateCache) slab(pos uint64) int {
	return int((pos / c.slabSize) % uint64(len(c.slabs)))
}

// moveTail moves the tail forward to pos, giving back the slab it leaves:
// a slab holds one lap of the ring, so nothing in it is live any more.
func (c *MemoryDuplicateCache) moveTail(pos uint64) {
	if pos/c.slabSize != c.tail/c.slabSize {
		i := c.slab(c.tail)
		if c.spare == nil {
			c.spare = c.slabs[i]
		}
		c.slabs[i] = nil
	}
	c.tail = pos
}

// record reads the header of the record at pos; skip reports the end of
// the records in pos's slab.
func (c *MemoryDuplicateCache) record(pos uint64) (h uint64, expires int64, keyLen, ansLen int, skip bool) {
	b := c.at(pos)
	if len(b) < recordHeader {
		return 0, 0, 0, 0, true
	}
	keyLen = int(binary.LittleEndian.Uint16(b[20:22]))
	if keyLen == recordSkip {
		return 0, 0, 0, 0, true
	}
	return binary.LittleEndian.Uint64(b[0:8]), int64(binary.LittleEndian.Uint64(b[8:16])),
		keyLen, int(binary.LittleEndian.Uint32(b[16:20])), false
}

// evictOldest drops the record at the tail (removing it from the index if
// it is still the live record of its key) and reports whether the ring had
// one. Space the head skipped at the end of a slab goes with it.
func (c *MemoryDuplicateCache) evictOldest() bool {
	for c.tail != c.head {
		h, _, keyLen, ansLen, skip := c.record(c.tail)
		if skip {
			c.moveTail(c.nextSlab(c.tail))
			continue
		}
		if p, ok := c.index[h]; ok && p == c.tail {
			delete(c.index, h)
		}
		c.moveTail(c.tail + uint64(recordHeader+keyLen+ansLen))
		return true
	}
	return false
}

// evictExpired drops records from the tail while they are expired or no
// longer live (replaced, moved to the head, collided out), so that memory
// is given back in time order as before.
func (c *MemoryDuplicateCache) evictExpired(now int64) {
	for c.tail != c.head {
		h, expires, _, _, skip := c.record(c.tail)
		if skip {
			c.moveTail(c.nextSlab(c.tail))
			continue
		}
		if p, ok := c.index[h]; ok && p == c.tail && now < expires {
			return
		}
		c.evictOldest()
	}
}

// store appends a record at the head, evicting from the tail what it needs
// room for, and indexes it under h. The caller holds mu and has checked
// that the record fits in a slab.
func (c *MemoryDuplicateCache) store(h uint64, key string, answer []byte, expires int64) {
	size := uint64(recordHeader + len(key) + len(answer))
	pos := c.head
	if c.slabSize-pos%c.slabSize < size {
		pos = c.nextSlab(pos)
	}
	// Make room: the ring holds the bytes from tail to the record's end,
	// and to the end of its slab when the record opens a slab (a slab
	// holds one lap), so everything stored before that end less the
	// capacity goes.
	end := pos + size
	if pos%c.slabSize == 0 {
		end = pos + c.slabSize
	}
	for end-c.tail > c.capacity() && c.evictOldest() {
	}
	if pos != c.head {
		// Mark the rest of the head's slab as skipped, if a header fits.
		if b := c.at(c.head); len(b) >= recordHeader {
			binary.LittleEndian.PutUint16(b[20:22], recordSkip)
		}
	}
	if c.tail == c.head {
		// Empty: restart at pos, leaving the head's slab if pos is in the
		// next one.
		c.moveTail(pos)
	}
	if si := c.slab(pos); c.slabs[si] == nil {
		if c.spare != nil {
			c.slabs[si], c.spare = c.spare, nil
		} else {
			c.slabs[si] = make([]byte, c.slabSize)
		}
	}
	b := c.at(pos)
	binary.LittleEndian.PutUint64(b[0:8], h)
	binary.LittleEndian.PutUint64(b[8:16], uint64(expires))
	binary.LittleEndian.PutUint32(b[16:20], uint32(len(answer)))
	binary.LittleEndian.PutUint16(b[20:22], uint16(len(key)))
	copy(b[recordHeader:], key)
	copy(b[recordHeader+len(key):], answer)
	c.head = pos + size
	c.index[h] = pos
}

// lookup returns the position of the live record of key, if any.
func (c *MemoryDuplicateCache) lookup(h uint64, key string) (pos uint64, expires int64, answer []byte, ok bool) {
	pos, ok = c.index[h]
	if !ok {
		return 0, 0, nil, false
	}
	_, expires, keyLen, ansLen, _ := c.record(pos)
	b := c.at(pos)[recordHeader:]
	if keyLen != len(key) || string(b[:keyLen]) != key {
		// Another key with the same hash.
		return 0, 0, nil, false
	}
	return pos, expires, b[keyLen : keyLen+ansLen], true
}

// Get returns a copy of the answer stored for key if it has not expired.
func (c *MemoryDuplicateCache) Get(_ context.Context, key string) ([]byte, bool, error) {
	h := c.hash(key)
	c.mu.Lock()
	defer c.mu.Unlock()
	_, expires, stored, ok := c.lookup(h, key)
	if !ok {
		return nil, false, nil
	}
	if c.now().UnixNano() >= expires {
		delete(c.index, h)
		return nil, false, nil
	}
	// The copy is taken before the record moves: moving it may evict the
	// slab space it is in.
	answer := append([]byte(nil), stored...)
	c.store(h, key, answer, expires)
	return answer, true, nil
}

// Put stores a copy of answer under key, replacing what key had.
func (c *MemoryDuplicateCache) Put(_ context.Context, key string, answer []byte) error {
	if len(key) > maxKeyLen || uint64(recordHeader+len(key)+len(answer)) > c.slabSize {
		c.mu.Lock()
		// The answer the key had is not the latest one any more.
		if _, _, _, ok := c.lookup(c.hash(key), key); ok {
			delete(c.index, c.hash(key))
		}
		c.mu.Unlock()
		return fmt.Errorf("diameter: duplicate cache: put %d bytes: %w", len(answer), ErrDuplicateTooLarge)
	}
	h := c.hash(key)
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now().UnixNano()
	c.evictExpired(now)
	if _, ok := c.index[h]; !ok {
		for len(c.index) >= c.max && c.evictOldest() {
		}
	}
	c.store(h, key, answer, now+int64(c.ttl))
	return nil
}

// Len returns the number of stored answers (expired ones included until
// they are evicted).
func (c *MemoryDuplicateCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.index)
}
