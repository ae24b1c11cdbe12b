package diameter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

func TestMemoryDuplicateCache(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1000, 0)
	c := NewMemoryDuplicateCache(time.Minute, 3)
	c.now = func() time.Time { return now }
	if _, ok, _ := c.Get(ctx, "a"); ok {
		t.Fatal("hit on an empty cache")
	}
	for i, k := range []string{"a", "b", "c"} {
		c.Put(ctx, k, []byte{byte(i)})
	}
	if b, ok, _ := c.Get(ctx, "a"); !ok || b[0] != 0 {
		t.Fatalf("a = %v %v", b, ok)
	}
	// "b" is now the least recently used and goes first.
	c.Put(ctx, "d", []byte{3})
	if _, ok, _ := c.Get(ctx, "b"); ok {
		t.Fatal("b survived eviction")
	}
	if c.Len() != 3 {
		t.Fatalf("len %d", c.Len())
	}
	now = now.Add(time.Minute)
	if _, ok, _ := c.Get(ctx, "a"); ok {
		t.Fatal("expired entry returned")
	}
	c.Put(ctx, "e", []byte{4})
	if c.Len() != 1 {
		t.Fatalf("expired entries kept: len %d", c.Len())
	}
}

func TestDuplicateKey(t *testing.T) {
	if duplicateKey("mme1", 1) == duplicateKey("mme2", 1) || duplicateKey("mme1", 1) == duplicateKey("mme1", 2) {
		t.Fatal("keys collide")
	}
	if got := duplicateKey("mme1", 0xabc); got != fmt.Sprintf("mme1/%x", 0xabc) {
		t.Fatal(got)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{Listen: []string{"tcp://127.0.0.1:0", "sctp://0.0.0.0:3868"}, OriginHost: "h", OriginRealm: "r", AllowLoopback: true}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := Config{Listen: []string{"udp://x:1", "tcp://nohost"}, WatchdogInterval: time.Millisecond,
		AllowedPeers: []PeerRule{{}}, RequestTimeout: -1}
	err := bad.Validate()
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, want := range []string{"udp", "nohost", "origin host", "origin realm", "allowed peer 0", "watchdog", "request timeout"} {
		if !contains(err.Error(), want) {
			t.Errorf("error does not mention %q: %v", want, err)
		}
	}
	if err := (Config{Listen: []string{"tcp://127.0.0.1:0"}, OriginHost: "h", OriginRealm: "r"}).Validate(); err == nil {
		t.Fatal("config admitting no peer accepted")
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestPeerRuleMatch(t *testing.T) {
	cases := []struct {
		rule        PeerRule
		host, realm string
		want        bool
	}{
		{PeerRule{OriginHost: "mme1.epc"}, "MME1.epc", "x", true},
		{PeerRule{OriginHost: "mme1.epc"}, "mme2.epc", "x", false},
		{PeerRule{OriginRealm: "*.mnc001.mcc001.3gppnetwork.org"}, "h", "epc.mnc001.mcc001.3gppnetwork.org", true},
		{PeerRule{OriginRealm: "*.mnc001.mcc001.3gppnetwork.org"}, "h", "mnc001.mcc001.3gppnetwork.org", false},
		{PeerRule{OriginRealm: "*.org"}, "h", "evil-org", false},
		{PeerRule{OriginHost: "*.epc", OriginRealm: "lab"}, "mme.epc", "other", false},
		{PeerRule{OriginHost: "*.epc", OriginRealm: "lab"}, "mme.epc", "lab", true},
		{PeerRule{}, "h", "r", false},
	}
	for _, tc := range cases {
		if got := tc.rule.Match(tc.host, tc.realm); got != tc.want {
			t.Errorf("%+v.Match(%q, %q) = %v", tc.rule, tc.host, tc.realm, got)
		}
	}
}

// answerFor is a distinct answer for key, of a length that varies with it.
func answerFor(key string, n int) []byte {
	b := make([]byte, 0, n+len(key))
	b = append(b, key...)
	for len(b) < n {
		b = append(b, byte(len(b)))
	}
	return b
}

func TestMemoryDuplicateCacheHashCollision(t *testing.T) {
	ctx := context.Background()
	c := NewMemoryDuplicateCache(time.Minute, 10)
	// Every key has the same hash.
	c.hash = func(string) uint64 { return 42 }
	if err := c.Put(ctx, "mme1/1", []byte("answer 1")); err != nil {
		t.Fatal(err)
	}
	if b, ok, _ := c.Get(ctx, "mme2/1"); ok {
		t.Fatalf("another key with the same hash got %q", b)
	}
	if b, ok, _ := c.Get(ctx, "mme1/1"); !ok || string(b) != "answer 1" {
		t.Fatalf("mme1/1 = %q %v", b, ok)
	}
	// A colliding Put replaces the older key: the older one misses, it
	// never gets the newer answer.
	if err := c.Put(ctx, "mme2/1", []byte("answer 2")); err != nil {
		t.Fatal(err)
	}
	if b, ok, _ := c.Get(ctx, "mme1/1"); ok {
		t.Fatalf("replaced key got %q", b)
	}
	if b, ok, _ := c.Get(ctx, "mme2/1"); !ok || string(b) != "answer 2" {
		t.Fatalf("mme2/1 = %q %v", b, ok)
	}
	// Same length, same hash, different bytes.
	if b, ok, _ := c.Get(ctx, "mme3/1"); ok {
		t.Fatalf("mme3/1 got %q", b)
	}
	if c.Len() != 1 {
		t.Fatalf("len %d, want 1", c.Len())
	}
}

func TestMemoryDuplicateCacheEvictsLeastRecentlyUsed(t *testing.T) {
	ctx := context.Background()
	const max = 100
	c := NewMemoryDuplicateCache(time.Minute, max)
	key := func(i int) string { return duplicateKey("mme.epc", uint32(i)) }
	for i := range max {
		c.Put(ctx, key(i), answerFor(key(i), 50+i))
	}
	// Touch the first ten: they become the most recently used.
	for i := range 10 {
		if b, ok, _ := c.Get(ctx, key(i)); !ok || string(b) != string(answerFor(key(i), 50+i)) {
			t.Fatalf("%s = %q %v", key(i), b, ok)
		}
	}
	// Twenty new entries push out the twenty least recently used: 10..29.
	for i := max; i < max+20; i++ {
		c.Put(ctx, key(i), answerFor(key(i), 50+i))
	}
	if c.Len() != max {
		t.Fatalf("len %d, want %d", c.Len(), max)
	}
	for i := range max + 20 {
		_, ok, _ := c.Get(ctx, key(i))
		if want := i < 10 || i >= 30; ok != want {
			t.Errorf("%s present %v, want %v", key(i), ok, want)
		}
	}
}

func TestMemoryDuplicateCacheExpiry(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1000, 0)
	c := NewMemoryDuplicateCache(10*time.Second, 100)
	c.now = func() time.Time { return now }
	c.Put(ctx, "old", []byte("o"))
	now = now.Add(5 * time.Second)
	c.Put(ctx, "new", []byte("n"))
	now = now.Add(5*time.Second - time.Nanosecond)
	if _, ok, _ := c.Get(ctx, "old"); !ok {
		t.Fatal("entry gone before its TTL")
	}
	now = now.Add(time.Nanosecond)
	if _, ok, _ := c.Get(ctx, "old"); ok {
		t.Fatal("entry returned at its TTL")
	}
	if _, ok, _ := c.Get(ctx, "new"); !ok {
		t.Fatal("unexpired entry gone")
	}
	// A Put gives back what has expired, without the count bound pressing.
	now = now.Add(5 * time.Second)
	c.Put(ctx, "newest", []byte("x"))
	if c.Len() != 1 {
		t.Fatalf("len %d after expiry, want 1", c.Len())
	}
	// A stored answer is replaced, with a fresh TTL.
	c.Put(ctx, "newest", []byte("y"))
	now = now.Add(9 * time.Second)
	if b, ok, _ := c.Get(ctx, "newest"); !ok || string(b) != "y" {
		t.Fatalf("newest = %q %v", b, ok)
	}
}

func TestMemoryDuplicateCacheCopies(t *testing.T) {
	ctx := context.Background()
	c := NewMemoryDuplicateCache(time.Minute, 10)
	in := []byte("answer")
	c.Put(ctx, "k", in)
	in[0] = 'X'
	out, ok, _ := c.Get(ctx, "k")
	if !ok || string(out) != "answer" {
		t.Fatalf("k = %q %v after the caller reused its buffer", out, ok)
	}
	out[0] = 'Y'
	if again, _, _ := c.Get(ctx, "k"); string(again) != "answer" {
		t.Fatalf("k = %q after the caller modified a returned answer", again)
	}
}

func TestMemoryDuplicateCacheTooLarge(t *testing.T) {
	ctx := context.Background()
	c := newMemoryDuplicateCache(time.Minute, 10, 256, 2)
	c.Put(ctx, "k", []byte("first"))
	err := c.Put(ctx, "k", make([]byte, 256))
	if !errors.Is(err, ErrDuplicateTooLarge) {
		t.Fatalf("err = %v, want ErrDuplicateTooLarge", err)
	}
	if b, ok, _ := c.Get(ctx, "k"); ok {
		t.Fatalf("k = %q: an answer older than the one put", b)
	}
	if err := c.Put(ctx, string(make([]byte, 1<<16)), []byte("a")); !errors.Is(err, ErrDuplicateTooLarge) {
		t.Fatalf("64 KiB key: err = %v", err)
	}
}

// TestMemoryDuplicateCacheRing runs small slabs through many laps of the
// ring against a model (the last answer put per key). After every
// operation, each key the model has is checked without touching the LRU
// order: if the cache has it, it has the last answer put; if not, the key
// was evicted for a reason: max other keys were stored since it was (count
// bound, least recently used first), or the ring wrote more than its
// capacity less a slab since (byte bound). The ring also keeps no more
// slabs than it spans.
func TestMemoryDuplicateCacheRing(t *testing.T) {
	ctx := context.Background()
	const (
		max      = 40
		keys     = 120
		slabSize = 512
		slabs    = 6
	)
	c := newMemoryDuplicateCache(time.Minute, max, slabSize, slabs)
	rng := rand.New(rand.NewPCG(1, 2))
	model := map[string][]byte{}
	// When each key was last stored (put, or moved by a Get): operation
	// number and ring position.
	storedOp := map[string]int{}
	storedAt := map[string]uint64{}
	stored := func(op int, key string) {
		storedOp[key] = op
		storedAt[key] = c.index[c.hash(key)]
	}
	for op := range 5000 {
		key := duplicateKey("mme", uint32(rng.IntN(keys)))
		if rng.IntN(4) == 0 {
			b, ok, _ := c.Get(ctx, key)
			if ok {
				if string(b) != string(model[key]) {
					t.Fatalf("op %d: %s = %q, want %q", op, key, b, model[key])
				}
				stored(op, key)
			}
		} else {
			// Sizes from tiny to a whole slab, so records end slabs unevenly.
			n := 1 + rng.IntN(200)
			if rng.IntN(20) == 0 {
				n = slabSize - recordHeader - len(key)
			}
			ans := answerFor(key, n)
			if err := c.Put(ctx, key, ans); err != nil {
				t.Fatalf("op %d: put %d bytes: %v", op, n, err)
			}
			model[key] = ans
			stored(op, key)
		}
		if c.Len() > max {
			t.Fatalf("op %d: len %d > %d", op, c.Len(), max)
		}
		ops := make([]int, 0, len(storedOp))
		for _, o := range storedOp {
			ops = append(ops, o)
		}
		slices.Sort(ops)
		for k, want := range model {
			if _, _, b, ok := c.lookup(c.hash(k), k); ok {
				if string(b) != string(want) {
					t.Fatalf("op %d: %s = %q, want %q", op, k, b, want)
				}
				continue
			}
			// Keys stored after k (ops holds one distinct number per key).
			i, _ := slices.BinarySearch(ops, storedOp[k]+1)
			newer := len(ops) - i
			if newer < max && c.head-storedAt[k] <= c.capacity()-slabSize {
				t.Fatalf("op %d: %s evicted with %d keys stored since and %d bytes written since", op, k, newer, c.head-storedAt[k])
			}
		}
		if c.head-c.tail > c.capacity() {
			t.Fatalf("op %d: ring spans %d bytes > %d", op, c.head-c.tail, c.capacity())
		}
		held := 0
		for _, s := range c.slabs {
			if s != nil {
				held++
			}
		}
		if want := int((c.head-1)/slabSize - c.tail/slabSize + 1); c.head > c.tail && held > want {
			t.Fatalf("op %d: %d slabs held, the ring spans %d", op, held, want)
		}
	}
	if laps := c.head / (slabs * slabSize); laps < 50 {
		t.Fatalf("the test went round the ring %d times only", laps)
	}
}

// TestMemoryDuplicateCacheHoldsNoPointers checks what the cache is for:
// however many answers it stores, the collector sees a handful of objects
// (slabs and the index), not one or more per answer.
func TestMemoryDuplicateCacheHoldsNoPointers(t *testing.T) {
	ctx := context.Background()
	const n = 20_000
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	c := NewMemoryDuplicateCache(time.Minute, n)
	for i := range n {
		c.Put(ctx, duplicateKey("mme.epc", uint32(i)), make([]byte, 300))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if c.Len() != n {
		t.Fatalf("len %d", c.Len())
	}
	// The intrusive LRU it replaced held 3 objects per answer (entry, key,
	// answer): 60,000 here.
	if objs := int64(after.HeapObjects) - int64(before.HeapObjects); objs > n/20 {
		t.Fatalf("%d live heap objects for %d answers", objs, n)
	}
	runtime.KeepAlive(c)
}

func TestMemoryDuplicateCacheConcurrent(t *testing.T) {
	ctx := context.Background()
	c := newMemoryDuplicateCache(time.Minute, 200, 4096, 4)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 3000 {
				// Half the keys are shared between goroutines; every answer
				// put for a key starts with the key.
				k := duplicateKey("mme"+strconv.Itoa(g%2), uint32(i%300))
				if i%3 == 0 {
					if b, ok, _ := c.Get(ctx, k); ok && !bytes.HasPrefix(b, []byte(k)) {
						t.Errorf("%s = %q", k, b)
						return
					}
					continue
				}
				if err := c.Put(ctx, k, answerFor(k, 40+i%300)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if c.Len() > 200 {
		t.Fatalf("len %d", c.Len())
	}
}
