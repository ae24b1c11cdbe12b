package main

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const repoConfig = "../../configs/rcmhss.yaml"

func TestLoadConfigLabFile(t *testing.T) {
	c, err := LoadConfig(repoConfig, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("the lab config must validate: %v", err)
	}
	if c.File != repoConfig {
		t.Errorf("File = %q", c.File)
	}
	if want := []string{"tcp://127.0.0.1:3868", "sctp://127.0.0.1:3868"}; !slices.Equal(c.Diameter.Listen, want) {
		t.Errorf("diameter.listen = %q, want %q", c.Diameter.Listen, want)
	}
	if c.Admin.Listen != "127.0.0.1:8080" {
		t.Errorf("admin.listen = %q", c.Admin.Listen)
	}
	if c.Redis.Addr != "" || len(c.Redis.Addrs()) != 0 {
		t.Errorf("the lab config must use the embedded store, got redis.addr %q", c.Redis.Addr)
	}
	if !c.Security.AllowPlaintextKeys || c.Admin.Token == "" {
		t.Errorf("the lab config must start without a KEK and with the dev token")
	}
	if c.HSS.SQN.INDBits != 5 || c.HSS.SQN.Delta != 1<<28 || c.HSS.MaxVectors != 32 {
		t.Errorf("hss section = %+v", c.HSS)
	}
}

// The operators' scripts use these exact names.
func TestLoadConfigEnvOverrides(t *testing.T) {
	t.Setenv("RCMHSS_DIAMETER_LISTEN", "tcp://127.0.0.1:13868, sctp://10.0.0.1:3868")
	t.Setenv("RCMHSS_DIAMETER_ORIGIN_HOST", "hss1.example.org")
	t.Setenv("RCMHSS_DIAMETER_ORIGIN_REALM", "example.org")
	t.Setenv("RCMHSS_ADMIN_LISTEN", "127.0.0.1:18080")
	t.Setenv("RCMHSS_ADMIN_TOKEN", "a-much-longer-secret-token")
	t.Setenv("RCMHSS_REDIS_ADDR", "10.0.0.5:6379,10.0.0.6:6379")
	t.Setenv("RCMHSS_SECURITY_KEK", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")
	t.Setenv("RCMHSS_SECURITY_ALLOW_PLAINTEXT_KEYS", "false")
	t.Setenv("RCMHSS_HSS_SQN_IND_BITS", "4")
	t.Setenv("RCMHSS_HSS_HOME_PLMNS", "00101,310410")
	t.Setenv("RCMHSS_LOG_LEVEL", "debug")
	c, err := LoadConfig(repoConfig, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	checks := []struct{ name, got, want string }{
		{"listen", strings.Join(c.Diameter.Listen, "|"), "tcp://127.0.0.1:13868|sctp://10.0.0.1:3868"},
		{"origin_host", c.Diameter.OriginHost, "hss1.example.org"},
		{"origin_realm", c.Diameter.OriginRealm, "example.org"},
		{"admin.listen", c.Admin.Listen, "127.0.0.1:18080"},
		{"admin.token", c.Admin.Token, "a-much-longer-secret-token"},
		{"redis", strings.Join(c.Redis.Addrs(), "|"), "10.0.0.5:6379|10.0.0.6:6379"},
		{"kek", c.Security.KEK, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"},
		{"home_plmns", strings.Join(c.HSS.HomePLMNs, "|"), "00101|310410"},
		{"log.level", c.Log.Level, "debug"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %q, want %q", ch.name, ch.got, ch.want)
		}
	}
	if c.Security.AllowPlaintextKeys || c.HSS.SQN.INDBits != 4 {
		t.Errorf("bool/int overrides not applied: %+v %+v", c.Security, c.HSS.SQN)
	}
}

// Every key of the binary is in the commented default file, and the file holds
// no key the binary does not know: the file documents the whole configuration.
func TestLabFileListsEveryKey(t *testing.T) {
	data, err := os.ReadFile(repoConfig)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var keys []string
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			if sub, ok := v.(map[string]any); ok {
				walk(prefix+k+".", sub)
				continue
			}
			keys = append(keys, prefix+k)
		}
	}
	walk("", doc)
	for _, k := range keys {
		if _, ok := defaults[k]; !ok {
			t.Errorf("file key %q has no default", k)
		}
	}
	for k := range defaults {
		if !slices.Contains(keys, k) {
			t.Errorf("key %q is missing from %s", k, repoConfig)
		}
	}
}

// An empty variable overrides the file: RCMHSS_REDIS_ADDR= means the
// embedded store whatever the file says.
func TestLoadConfigEmptyEnvOverrides(t *testing.T) {
	p := filepath.Join(t.TempDir(), "redis.yaml")
	if err := os.WriteFile(p, []byte("redis:\n  addr: 10.0.0.1:6379\nadmin:\n  token: a-long-enough-admin-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(p, true)
	if err != nil || c.Redis.Addr != "10.0.0.1:6379" {
		t.Fatalf("file value not loaded: %q %v", c.Redis.Addr, err)
	}
	t.Setenv("RCMHSS_REDIS_ADDR", "")
	t.Setenv("RCMHSS_ADMIN_TOKEN", "")
	if c, err = LoadConfig(p, true); err != nil {
		t.Fatal(err)
	}
	if len(c.Redis.Addrs()) != 0 || c.Admin.Token != "" {
		t.Fatalf("empty env did not override: redis %q token %q", c.Redis.Addr, c.Admin.Token)
	}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "admin.token") {
		t.Fatalf("an emptied token must be refused, got %v", err)
	}
}

func TestLoadConfigRejects(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if _, err := LoadConfig(filepath.Join(dir, "absent.yaml"), true); err == nil {
		t.Error("an explicit missing file must be an error")
	}
	// The default path may be absent (go run from elsewhere): defaults apply.
	if c, err := LoadConfig(filepath.Join(dir, "absent.yaml"), false); err != nil || c.File != "" || c.Admin.Listen != "127.0.0.1:8080" {
		t.Errorf("absent default file: %+v %v", c.Admin, err)
	}
	if _, err := LoadConfig(write("diameter:\n  origin_hots: x\n"), true); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "origin_hots") {
		t.Errorf("a misspelt key must be refused by name, got %v", err)
	}
	// Built-in defaults are production-safe: no token and no KEK refuse to start,
	// and every problem is reported at once.
	c, err := LoadConfig(write("log:\n  level: loud\n"), true)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Validate()
	for _, key := range []string{"admin.token", "security", "log.level"} {
		if !strings.Contains(fmtErr(err), key) {
			t.Errorf("Validate() = %v, want a problem with %s", err, key)
		}
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// The README's table of environment variables names real keys under the
// names the loader binds.
func TestReadmeEnvTable(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for line := range strings.SplitSeq(string(data), "\n") {
		if !strings.HasPrefix(line, "| `RCMHSS_") {
			continue
		}
		cells := strings.Split(line, "|")
		env, key := strings.Trim(strings.TrimSpace(cells[1]), "`"), strings.Trim(strings.TrimSpace(cells[2]), "`")
		if _, ok := defaults[key]; !ok {
			t.Errorf("README names unknown key %q", key)
		}
		if want := envPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_")); env != want {
			t.Errorf("README says %s for %s, the loader binds %s", env, key, want)
		}
		rows++
	}
	if rows < 6 {
		t.Fatalf("found %d env rows in README.md", rows)
	}
}
