package redisstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/hss/redisstore"
	"github.com/rcmhss/rcmhss/hss/redisstore/redistest"
	"github.com/rcmhss/rcmhss/hss/storetest"
)

func ctxFor(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func rawClient(t testing.TB, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		cfg  redisstore.Config
		want []string // substrings of the joined error; none: valid
	}{
		{"single", redisstore.Config{Addrs: []string{"127.0.0.1:6379"}}, nil},
		{"sentinel", redisstore.Config{Addrs: []string{"a:26379", "b:26379"}, MasterName: "mymaster"}, nil},
		{"cluster", redisstore.Config{Addrs: []string{"a:7000", "b:7000"}, Cluster: true}, nil},
		{"none", redisstore.Config{}, []string{"at least one address"}},
		{"several without mode", redisstore.Config{Addrs: []string{"a:1", "b:1"}}, []string{"cluster: true or a sentinel"}},
		{"everything wrong", redisstore.Config{
			Addrs: []string{"nohost"}, MasterName: "m", Cluster: true, DB: 2, KeyPrefix: "{x}",
			DialTimeout: -1, PoolSize: -1,
		}, []string{"not host:port", "exclusive", "only db 0", "key_prefix", "timeouts", "pool_size"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.Validate()
			if len(c.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate accepted an invalid config")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestUnavailable(t *testing.T) {
	srv := redistest.StartWithArgs(t)
	st := newStore(t, srv.Addr, testSealer(t))
	imsi := hss.IMSI("001010000000001")
	if err := st.CreateSubscriber(ctxFor(t), storetest.Subscriber(imsi)); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	ctx := ctxFor(t)
	if _, err := st.ReserveSQN(ctx, imsi, "mme1", 1, 5); !errors.Is(err, hss.ErrStoreUnavailable) {
		t.Errorf("ReserveSQN with Redis down: %v, want ErrStoreUnavailable", err)
	}
	if err := st.Ping(ctx); !errors.Is(err, hss.ErrStoreUnavailable) {
		t.Errorf("Ping with Redis down: %v, want ErrStoreUnavailable", err)
	}
	_, err := redisstore.New(ctx, redisstore.Config{Addrs: []string{srv.Addr}, DialTimeout: time.Second}, testSealer(t))
	if !errors.Is(err, hss.ErrStoreUnavailable) {
		t.Errorf("New with Redis down: %v, want ErrStoreUnavailable", err)
	}
	if _, err := redisstore.New(ctx, redisstore.Config{}, testSealer(t)); err == nil {
		t.Error("New accepted an empty config")
	}
}

// TestSealModes: a store refuses records written under another sealing mode
// or KEK, with an error that names the cause.
func TestSealModes(t *testing.T) {
	addr := redistest.Start(t)
	ctx := ctxFor(t)
	cfg := redisstore.Config{Addrs: []string{addr}, KeyPrefix: "seal:"}
	open := func(s *hss.KeySealer) *redisstore.Store {
		st, err := redisstore.New(ctx, cfg, s)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		return st
	}
	plain := open(hss.NewPlaintextSealer())
	kek := open(testSealer(t))
	other, err := hss.NewKeySealer(bytes.Repeat([]byte{7}, hss.KEKSize))
	if err != nil {
		t.Fatal(err)
	}
	otherKEK := open(other)

	if err := plain.CreateSubscriber(ctx, storetest.Subscriber("001010000000001")); err != nil {
		t.Fatal(err)
	}
	if err := kek.CreateSubscriber(ctx, storetest.Subscriber("001010000000002")); err != nil {
		t.Fatal(err)
	}
	if _, err := kek.GetSubscriber(ctx, "001010000000001"); !errors.Is(err, hss.ErrSealMismatch) || !strings.Contains(err.Error(), "plaintext") {
		t.Errorf("KEK store reading a plaintext record: %v, want ErrSealMismatch", err)
	}
	if _, err := kek.ReserveSQN(ctx, "001010000000001", "mme1", 1, 5); !errors.Is(err, hss.ErrSealMismatch) {
		t.Errorf("KEK store reserving on a plaintext record: %v, want ErrSealMismatch", err)
	}
	if _, err := plain.GetSubscriber(ctx, "001010000000002"); !errors.Is(err, hss.ErrSealMismatch) {
		t.Errorf("plaintext store reading an encrypted record: %v, want ErrSealMismatch", err)
	}
	if _, err := otherKEK.GetSubscriber(ctx, "001010000000002"); !errors.Is(err, hss.ErrSealBroken) {
		t.Errorf("store with another KEK: %v, want ErrSealBroken", err)
	}
}

// startRawStore starts a redis-server with a store on it (key prefix
// "rcmhss:") and a client that reads and writes its keys directly.
func startRawStore(t *testing.T) (*redisstore.Store, *redis.Client) {
	t.Helper()
	addr := redistest.Start(t)
	st, err := redisstore.New(ctxFor(t), redisstore.Config{Addrs: []string{addr}, KeyPrefix: "rcmhss:"}, testSealer(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st, rawClient(t, addr)
}

// TestAtRest looks at what Redis holds: keys hash-tagged per subscriber, no key
// material in the clear, and a record moved to another IMSI refused.
func TestAtRest(t *testing.T) {
	ctx := ctxFor(t)
	st, rc := startRawStore(t)
	s := storetest.Subscriber("001010000000001")
	if err := st.CreateSubscriber(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSubscriber(ctx, storetest.Subscriber("001010000000002")); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetMMERegistration(ctx, s.IMSI, storetest.MMERegistration("mme1")); err != nil {
		t.Fatal(err)
	}
	keys, err := rc.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "rcmhss:") {
			t.Errorf("key %q outside the prefix", k)
		}
		if k != "rcmhss:idx" && !strings.Contains(k, "{001010000000001}") && !strings.Contains(k, "{001010000000002}") {
			t.Errorf("key %q is not hash-tagged on its IMSI", k)
		}
	}
	rec := rawRecord(t, rc, "rcmhss:sub:{001010000000001}")
	for name, k := range map[string]hss.Key{"K": s.K, "OPc": s.OPc, "OP": *s.OP} {
		if bytes.Contains(rec, k[:]) {
			t.Errorf("%s stored in the clear", name)
		}
	}
	// A record copied onto another subscriber does not open (AAD binds the IMSI).
	dump, err := rc.Dump(ctx, "rcmhss:sub:{001010000000001}").Result()
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.RestoreReplace(ctx, "rcmhss:sub:{001010000000002}", 0, dump).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetSubscriber(ctx, "001010000000002"); !errors.Is(err, hss.ErrSealBroken) {
		t.Errorf("moved record: %v, want ErrSealBroken", err)
	}
	// Garbage is reported, not trusted, and not taken for an unknown subscriber.
	if err := rc.HSet(ctx, "rcmhss:sub:{001010000000002}", "rn", "1", "r0", "\x01garbage").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetSubscriber(ctx, "001010000000002"); err == nil || errors.Is(err, hss.ErrUnknownSubscriber) {
		t.Errorf("corrupt record: %v, want a decoding error", err)
	}
	if _, err := st.ReserveSQN(ctx, "001010000000002", "mme1", 1, 5); err == nil {
		t.Error("ReserveSQN on a corrupt record succeeded")
	}
	// A chunk missing is corruption too, not an unknown subscriber.
	if err := rc.HSet(ctx, "rcmhss:sub:{001010000000002}", "rn", "2").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetSubscriber(ctx, "001010000000002"); err == nil || errors.Is(err, hss.ErrUnknownSubscriber) ||
		errors.Is(err, hss.ErrStoreUnavailable) || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("record with a chunk missing: %v, want a corrupt-record error (not unknown, not unavailable)", err)
	}
	if _, err := st.ReserveSQN(ctx, "001010000000002", "mme1", 1, 5); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("ReserveSQN on a record with a chunk missing: %v, want a corrupt-record error", err)
	}
}

// rawRecord reads a subscriber's record as the scripts store it: 'rn'
// chunks r0, r1, ... of its hash, joined.
func rawRecord(t *testing.T, rc *redis.Client, key string) []byte {
	t.Helper()
	ctx := ctxFor(t)
	n, err := rc.HGet(ctx, key, "rn").Int()
	if err != nil {
		t.Fatalf("HGET %s rn: %v", key, err)
	}
	var rec []byte
	for i := range n {
		c, err := rc.HGet(ctx, key, "r"+strconv.Itoa(i)).Bytes()
		if err != nil {
			t.Fatalf("HGET %s r%d: %v", key, i, err)
		}
		if len(c) > 64 {
			t.Errorf("chunk r%d of %s is %d bytes, more than a listpack value (64)", i, key, len(c))
		}
		rec = append(rec, c...)
	}
	return rec
}

// TestEarlierLayoutMigrates: a subscriber stored by an earlier version (the
// record a string at sub:, the SQN state a hash at sqn:) is read, reserved
// on and updated as before, and moved into the one-hash layout on first use.
func TestEarlierLayoutMigrates(t *testing.T) {
	ctx := ctxFor(t)
	st, rc := startRawStore(t)
	var last uint64 // the last SEQ reserved for 001010000000002
	for _, imsi := range []hss.IMSI{"001010000000001", "001010000000002"} {
		if err := st.CreateSubscriber(ctx, storetest.Subscriber(imsi)); err != nil {
			t.Fatal(err)
		}
		r, err := st.ReserveSQN(ctx, imsi, "mme1", 3, 5)
		if err != nil {
			t.Fatal(err)
		}
		last = r.FirstSEQ + 2
		// Rewrite it as the earlier layout had it.
		sub, sqn := "rcmhss:sub:{"+string(imsi)+"}", "rcmhss:sqn:{"+string(imsi)+"}"
		rec := rawRecord(t, rc, sub)
		h, err := rc.HGetAll(ctx, sub).Result()
		if err != nil {
			t.Fatal(err)
		}
		if err := rc.Del(ctx, sub).Err(); err != nil {
			t.Fatal(err)
		}
		if err := rc.Set(ctx, sub, rec, 0).Err(); err != nil {
			t.Fatal(err)
		}
		for f, v := range h {
			if f == "rn" || (len(f) > 1 && f[0] == 'r' && f[1] >= '0' && f[1] <= '9') {
				continue
			}
			if err := rc.HSet(ctx, sqn, f, v).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	before, err := st.GetSubscriber(ctx, "001010000000001")
	if err != nil {
		t.Fatalf("GetSubscriber on the earlier layout: %v", err)
	}
	res, err := st.ReserveSQN(ctx, "001010000000002", "mme1", 1, 5)
	if err != nil {
		t.Fatalf("ReserveSQN on the earlier layout: %v", err)
	}
	if res.FirstSEQ != last+1 || res.IND != 0 {
		t.Errorf("reservation after migration: SEQ %d IND %d, want %d and 0 (the earlier SQN state kept)", res.FirstSEQ, res.IND, last+1)
	}
	for _, imsi := range []string{"001010000000001", "001010000000002"} {
		if typ := rc.Type(ctx, "rcmhss:sub:{"+imsi+"}").Val(); typ != "hash" {
			t.Errorf("sub key of %s is a %s after first use, want hash", imsi, typ)
		}
		if n := rc.Exists(ctx, "rcmhss:sqn:{"+imsi+"}").Val(); n != 0 {
			t.Errorf("sqn key of %s still there after first use", imsi)
		}
	}
	after, err := st.GetSubscriber(ctx, "001010000000001")
	if err != nil {
		t.Fatal(err)
	}
	if after.K != before.K || after.OPc != before.OPc || after.SQN != before.SQN {
		t.Errorf("subscriber changed by the migration: %+v, want %+v", after, before)
	}
}

// TestMemoryPerSubscriber measures what a typical subscriber (two APNs, OP and
// OPc, vectors reserved for two serving nodes, an MME and an AAA registration)
// costs in Redis.
func TestMemoryPerSubscriber(t *testing.T) {
	ctx := ctxFor(t)
	st, rc := startRawStore(t)
	usedMemory := func() int64 {
		info, err := rc.Info(ctx, "memory").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					t.Fatalf("used_memory %q: %v", v, err)
				}
				return n
			}
		}
		t.Fatal("no used_memory in INFO")
		return 0
	}
	const count = 2000
	before := usedMemory()
	var first hss.IMSI
	for i := range count {
		s := storetest.Subscriber(hss.IMSI(fmt.Sprintf("00101%010d", i)))
		if i == 0 {
			first = s.IMSI
		}
		if err := st.CreateSubscriber(ctx, s); err != nil {
			t.Fatal(err)
		}
		for _, node := range []string{"mme01.epc.mnc001.mcc001.3gppnetwork.org", "mme02.epc.mnc001.mcc001.3gppnetwork.org"} {
			if _, err := st.ReserveSQN(ctx, s.IMSI, node, 1, 5); err != nil {
				t.Fatal(err)
			}
		}
		reg := storetest.MMERegistration("mme01.epc.mnc001.mcc001.3gppnetwork.org")
		if _, err := st.SetMMERegistration(ctx, s.IMSI, reg); err != nil {
			t.Fatal(err)
		}
		if _, err := st.SetAAARegistration(ctx, s.IMSI, &hss.AAARegistration{ServerName: "aaa.epc.mnc001.mcc001.3gppnetwork.org", Realm: "epc.mnc001.mcc001.3gppnetwork.org", UpdatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	perSubscriber := float64(usedMemory()-before) / count
	var sum int64
	for _, kind := range []string{"sub", "reg"} {
		key := "rcmhss:" + kind + ":{" + string(first) + "}"
		n, err := rc.MemoryUsage(ctx, key, 0).Result()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("MEMORY USAGE %s: %d bytes (%s)", kind, n, rc.ObjectEncoding(ctx, key).Val())
		sum += n
	}
	// The record and SQN state share one compact hash (scripts.go, recLua).
	if enc := rc.ObjectEncoding(ctx, "rcmhss:sub:{"+string(first)+"}").Val(); enc != "listpack" {
		t.Errorf("subscriber hash encoded as %q, want listpack", enc)
	}
	t.Logf("per subscriber: MEMORY USAGE of its keys %d bytes; used_memory growth %.0f bytes (with the index entry)", sum, perSubscriber)
	if sum >= 1024 {
		t.Errorf("a typical subscriber takes %d bytes of Redis memory, want under 1 KiB", sum)
	}
}

// TestConformanceCluster runs the suite against a one-node Redis Cluster
// holding every slot: Redis then enforces that each script's keys share a slot
// (CROSSSLOT otherwise), which is what a real Cluster requires.
func TestConformanceCluster(t *testing.T) {
	srv := redistest.StartWithArgs(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
	rc := rawClient(t, srv.Addr)
	ctx := ctxFor(t)
	if err := rc.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", "0", "16383").Err(); err != nil {
		t.Fatalf("CLUSTER ADDSLOTSRANGE: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := rc.ClusterInfo(ctx).Result()
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster not ok: %q %v", info, err)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition with a deadline
	}
	sealer := testSealer(t)
	storetest.Run(t, func(t *testing.T) hss.Store {
		cfg := redisstore.Config{Addrs: []string{srv.Addr}, Cluster: true, KeyPrefix: fmt.Sprintf("c%d:", dbPrefix.Add(1))}
		st, err := redisstore.New(ctxFor(t), cfg, sealer)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		return st
	})
}

// TestConformanceSentinel runs the suite through Redis Sentinel: the client
// asks the sentinel for the master of "rcmhss" and talks to it.
func TestConformanceSentinel(t *testing.T) {
	master := redistest.Start(t)
	sentinel := redistest.StartSentinel(t, "rcmhss", master)
	sealer := testSealer(t)
	storetest.Run(t, func(t *testing.T) hss.Store {
		cfg := redisstore.Config{Addrs: []string{sentinel.Addr}, MasterName: "rcmhss", KeyPrefix: fmt.Sprintf("s%d:", dbPrefix.Add(1))}
		st, err := redisstore.New(ctxFor(t), cfg, sealer)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		return st
	})
	// The records went to the master the sentinel named.
	if n, err := rawClient(t, master).DBSize(ctxFor(t)).Result(); err != nil || n == 0 {
		t.Errorf("master holds %d keys (%v), want the suite's records", n, err)
	}
}

// TestLongRecord: a record longer than the eight chunks the scripts read with
// the SQN state (many APNs) is read whole, and shrinking it leaves no stale
// chunk behind.
func TestLongRecord(t *testing.T) {
	ctx := ctxFor(t)
	st, rc := startRawStore(t)
	const imsi = hss.IMSI("001010000000001")
	const key = "rcmhss:sub:{001010000000001}"
	s := storetest.Subscriber(imsi)
	for i := range 20 {
		s.APNs = append(s.APNs, hss.APNConfiguration{ContextID: uint32(10 + i), Name: fmt.Sprintf("apn%02d.example.mnc001.mcc001.gprs", i),
			PDNType: hss.PDNIPv4, QCI: 9, ARP: hss.ARP{PriorityLevel: 8}})
	}
	if err := st.CreateSubscriber(ctx, s); err != nil {
		t.Fatal(err)
	}
	long, err := rc.HGet(ctx, key, "rn").Int()
	if err != nil {
		t.Fatal(err)
	}
	if long <= 8 {
		t.Fatalf("record of %d chunks; the test needs more than 8", long)
	}
	got, err := st.GetSubscriber(ctx, imsi)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.APNs) != len(s.APNs) || got.APNs[len(s.APNs)-1].Name != s.APNs[len(s.APNs)-1].Name {
		t.Fatalf("long record read back with %d APNs, want %d", len(got.APNs), len(s.APNs))
	}
	if _, err := st.ReserveSQN(ctx, imsi, "mme1", 1, 5); err != nil {
		t.Fatalf("ReserveSQN on a long record: %v", err)
	}
	if _, err := st.UpdateSubscriber(ctx, imsi, func(c *hss.Subscriber) error {
		c.APNs = c.APNs[:2]
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	short, err := rc.HGet(ctx, key, "rn").Int()
	if err != nil {
		t.Fatal(err)
	}
	for i := short; i < long; i++ {
		if rc.HExists(ctx, key, "r"+strconv.Itoa(i)).Val() {
			t.Errorf("chunk r%d of the longer record left behind (rn %d)", i, short)
		}
	}
	if got, err = st.GetSubscriber(ctx, imsi); err != nil || len(got.APNs) != 2 {
		t.Errorf("after shrinking: %v, %d APNs, want 2", err, len(got.APNs))
	}
}
