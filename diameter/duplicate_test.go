package diameter

import (
	"context"
	"fmt"
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
