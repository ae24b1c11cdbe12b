package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// readmeBaseURL is the admin address the README's examples use.
const readmeBaseURL = "http://127.0.0.1:8080"

// curlExample is one curl command of the README, as the request it sends.
type curlExample struct {
	Method, URL, Body string
	Header            http.Header
	Source            string
}

// TestQuickStart runs the README's quick start against a real rcmhss built
// from ./cmd/rcmhss with the lab config: every curl example must succeed, a
// subscriber provisioned with a fresh K and OPc must be usable through the
// API, SIGTERM must end the process cleanly, and neither key may appear in
// anything the server wrote: logs (at debug level), API answers or /metrics.
func TestQuickStart(t *testing.T) {
	readme := readFile(t, filepath.Join(repoRoot(t), "README.md"))
	examples := curlExamples(t, readme)
	if len(examples) < 5 {
		t.Fatalf("found %d curl examples in README.md, want at least 5 (create, get, patch, import, list)", len(examples))
	}

	n := StartNode(t, NodeOptions{Env: map[string]string{"RCMHSS_LOG_LEVEL": "debug"}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var everything bytes.Buffer // every byte the server sent us

	for _, ex := range examples {
		url := strings.Replace(ex.URL, readmeBaseURL, n.AdminURL, 1)
		if url == ex.URL {
			t.Fatalf("README example does not use %s: %s", readmeBaseURL, ex.Source)
		}
		req, err := http.NewRequestWithContext(ctx, ex.Method, url, strings.NewReader(ex.Body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header = ex.Header.Clone()
		if got := req.Header.Get("Authorization"); got != "Bearer "+LabToken {
			t.Errorf("README example authenticates with %q, not the lab token: %s", got, ex.Source)
		}
		resp, err := send(req)
		if err != nil {
			t.Fatal(err)
		}
		everything.Write(resp.Body)
		if resp.Status < 200 || resp.Status > 299 {
			t.Errorf("README example answered %d %s:\n%s", resp.Status, resp.Body, ex.Source)
			continue
		}
		if ex.Method == "POST" && strings.HasSuffix(ex.URL, ":import") {
			var sum struct{ Accepted, Rejected int }
			if err := json.Unmarshal(resp.Body, &sum); err != nil || sum.Rejected != 0 || sum.Accepted == 0 {
				t.Errorf("README import example: %s", resp.Body)
			}
		}
	}

	// A subscriber with key material nobody has seen, through create, import
	// and reads.
	k, opc := randomHex(t), randomHex(t)
	k2, op2 := randomHex(t), randomHex(t)
	create := fmt.Sprintf(`{"imsi":"001019999999991","k":%q,"opc":%q,"apns":[{"name":"internet"}]}`, k, opc)
	imp := fmt.Sprintf(`{"imsi":"001019999999992","k":%q,"op":%q}`+"\n", k2, op2)
	steps := []struct {
		method, path, ct, body string
		want                   int
	}{
		{"POST", "/v1/subscribers", "application/json", create, http.StatusCreated},
		{"POST", "/v1/subscribers", "application/json", create, http.StatusConflict},
		{"POST", "/v1/subscribers", "application/json", strings.Replace(create, `"imsi"`, `"imsi ":"1","imsi"`, 1), http.StatusBadRequest},
		{"POST", "/v1/subscribers:import", "application/x-ndjson", imp, http.StatusOK},
		{"GET", "/v1/subscribers/001019999999991", "", "", http.StatusOK},
		{"GET", "/v1/subscribers/001019999999992", "", "", http.StatusOK},
		{"PATCH", "/v1/subscribers/001019999999991", "application/merge-patch+json", fmt.Sprintf(`{"k":%q}`, k), http.StatusOK},
		{"GET", "/v1/subscribers?limit=1000", "", "", http.StatusOK},
	}
	for _, s := range steps {
		resp, err := n.Do(ctx, s.method, s.path, s.ct, []byte(s.body))
		if err != nil {
			t.Fatal(err)
		}
		everything.Write(resp.Body)
		if resp.Status != s.want {
			t.Errorf("%s %s: %d %s, want %d", s.method, s.path, resp.Status, resp.Body, s.want)
		}
	}
	var list struct{ IMSIs []string }
	resp, err := n.Do(ctx, "GET", "/v1/subscribers?limit=1000", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(resp.Body, &list); err != nil {
		t.Fatal(err)
	}
	// README: create ...01, import ...02 and ...03, delete ...03; then ours.
	if got := strings.Join(list.IMSIs, ","); got != "001010000000001,001010000000002,001019999999991,001019999999992" {
		t.Errorf("subscribers after the quick start: %s", got)
	}
	unauth, err := http.Get(n.AdminURL + "/v1/subscribers")
	if err != nil {
		t.Fatal(err)
	}
	unauth.Body.Close()
	if unauth.StatusCode != http.StatusUnauthorized || unauth.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("request without token: %d", unauth.StatusCode)
	}

	metrics := httpGet(t, n.AdminURL+"/metrics")
	everything.WriteString(metrics)
	for _, want := range []string{`http_server_requests_total{`, `route="POST /v1/subscribers"`, `status="201"`, `route="GET /v1/subscribers/{imsi}"`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(metrics, "001019999999991") {
		t.Error("/metrics carries an IMSI")
	}

	if err := n.Stop(); err != nil {
		t.Errorf("rcmhss did not exit cleanly on SIGTERM: %v\n%s", err, n.Stderr())
	}
	logs := n.Stderr() + n.Stdout()
	everything.WriteString(logs)
	recs := logLines(t, n.Stderr())
	if !hasLog(recs, "WARN", "security: NO KEY-ENCRYPTION KEY") || !hasLog(recs, "WARN", "admin: the published development token") {
		t.Error("the lab config must WARN about plaintext keys and the dev token")
	}
	// IMSIs are masked in logs at Info and above (debug may name them).
	for _, r := range recs {
		if r["level"] == "DEBUG" {
			continue
		}
		line, _ := json.Marshal(r)
		for _, imsi := range []string{"001010000000001", "001010000000002", "001010000000003", "001019999999991", "001019999999992"} {
			if bytes.Contains(line, []byte(imsi)) {
				t.Errorf("unmasked IMSI in a %v log line: %s", r["level"], line)
			}
		}
	}
	if !hasLog(recs, "INFO", "rcmhss: stopped") {
		t.Errorf("no clean-stop log line:\n%s", n.Stderr())
	}

	for _, key := range []string{k, opc, k2, op2, "465b5ce8b199b49faa5f0a2ee238a6bc", "cd63cb71954a9f4e48a5994e37a02baf"} {
		for _, form := range secretForms(t, key) {
			if bytes.Contains(everything.Bytes(), []byte(form)) {
				t.Errorf("key material %s... appears in the server's output as %q", key[:6], form)
			}
		}
	}
}

// TestReadmeCommands keeps the README's two quick-start commands true: the run
// command is `go run ./cmd/rcmhss` and CI runs exactly the README's test command.
func TestReadmeCommands(t *testing.T) {
	root := repoRoot(t)
	readme := readFile(t, filepath.Join(root, "README.md"))
	blocks := shellBlocks(readme)
	if len(blocks) < 2 || strings.TrimSpace(blocks[0]) != "go run ./cmd/rcmhss" {
		t.Fatalf("the README's first command must be `go run ./cmd/rcmhss`, got %q", blocks)
	}
	testCmd := strings.TrimSpace(blocks[1])
	if !strings.HasPrefix(testCmd, "go test ") || strings.Contains(testCmd, "\n") {
		t.Fatalf("the README's second command must be one go test command, got %q", testCmd)
	}
	ci := readFile(t, filepath.Join(root, ".ci", "run"))
	found := false
	for line := range strings.SplitSeq(ci, "\n") {
		found = found || strings.TrimSpace(line) == testCmd
	}
	if !found {
		t.Errorf(".ci/run does not run the README's test command %q", testCmd)
	}
}

func hasLog(recs []map[string]any, level, prefix string) bool {
	for _, r := range recs {
		if msg, _ := r["msg"].(string); r["level"] == level && strings.HasPrefix(msg, prefix) {
			return true
		}
	}
	return false
}

// secretForms are the ways 16 key bytes could leak: hex in either case,
// base64 (how encoding/json prints a []byte) and a JSON array of numbers (how
// it prints a [16]byte).
func secretForms(t *testing.T, hexKey string) []string {
	b, err := hex.DecodeString(hexKey)
	if err != nil {
		t.Fatal(err)
	}
	nums := make([]string, len(b))
	for i, x := range b {
		nums[i] = fmt.Sprint(x)
	}
	return []string{
		hexKey, strings.ToUpper(hexKey),
		base64.StdEncoding.EncodeToString(b), base64.RawStdEncoding.EncodeToString(b),
		"[" + strings.Join(nums, ",") + "]",
	}
}

func randomHex(t *testing.T) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func httpGet(t testing.TB, url string) string {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := send(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusOK {
		t.Fatalf("GET %s: %d", url, resp.Status)
	}
	return string(resp.Body)
}

var shellBlockRE = regexp.MustCompile("(?s)```sh\n(.*?)```")

// shellBlocks returns the ```sh blocks of a Markdown document, in order.
func shellBlocks(md string) []string {
	var out []string
	for _, m := range shellBlockRE.FindAllStringSubmatch(md, -1) {
		out = append(out, m[1])
	}
	return out
}

// curlExamples extracts every curl command of the README's ```sh blocks. It
// understands the subset of shell and curl the README uses and fails the test
// on anything else, so an example cannot drift into a form this test skips.
func curlExamples(t *testing.T, md string) []curlExample {
	t.Helper()
	var out []curlExample
	for _, block := range shellBlocks(md) {
		cmds, err := shellSplit(block)
		if err != nil {
			t.Fatalf("README shell block %q: %v", block, err)
		}
		for _, words := range cmds {
			if len(words) == 0 || words[0] != "curl" {
				continue
			}
			ex := curlExample{Method: "GET", Header: http.Header{}, Source: strings.Join(words, " ")}
			for i := 1; i < len(words); i++ {
				w := words[i]
				arg := func() string {
					i++
					if i >= len(words) {
						t.Fatalf("README curl: %s needs an argument: %s", w, ex.Source)
					}
					return words[i]
				}
				switch {
				case w == "-s" || w == "-S" || w == "-sS" || w == "-f":
				case w == "-X":
					ex.Method = arg()
				case w == "-H":
					name, value, ok := strings.Cut(arg(), ":")
					if !ok {
						t.Fatalf("README curl: bad header in %s", ex.Source)
					}
					ex.Header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
				case w == "-d" || w == "--data":
					// curl -d drops carriage returns and newlines of the data.
					ex.Body = strings.NewReplacer("\r", "", "\n", "").Replace(arg())
					if ex.Method == "GET" {
						ex.Method = "POST"
					}
				case w == "--data-binary":
					ex.Body = arg()
					if ex.Method == "GET" {
						ex.Method = "POST"
					}
				case strings.HasPrefix(w, "http://"):
					ex.URL = w
				default:
					t.Fatalf("README curl: option %q not understood by this test: %s", w, ex.Source)
				}
			}
			if ex.URL == "" {
				t.Fatalf("README curl without URL: %s", ex.Source)
			}
			if ex.Body != "" && ex.Header.Get("Content-Type") == "" {
				// curl's default for -d.
				ex.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			out = append(out, ex)
		}
	}
	return out
}

// shellSplit splits a POSIX shell fragment into commands of words: single
// and double quotes, backslash-newline continuations and # comments.
func shellSplit(s string) ([][]string, error) {
	var cmds [][]string
	var words []string
	var cur strings.Builder
	inWord := false
	flushWord := func() {
		if inWord {
			words = append(words, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	flushCmd := func() {
		flushWord()
		if len(words) > 0 {
			cmds = append(cmds, words)
			words = nil
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && s[i+1] == '\n':
			i++
		case c == '\\' && i+1 < len(s):
			cur.WriteByte(s[i+1])
			inWord = true
			i++
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated single quote")
			}
			cur.WriteString(s[i+1 : i+1+j])
			inWord = true
			i += j + 1
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				} else if s[i] == '$' || s[i] == '`' {
					return nil, fmt.Errorf("expansion inside double quotes is not supported")
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("unterminated double quote")
			}
			inWord = true
		case c == '#' && !inWord:
			for i < len(s) && s[i] != '\n' {
				i++
			}
			flushCmd()
		case c == '\n' || c == ';':
			flushCmd()
		case c == ' ' || c == '\t':
			flushWord()
		case c == '$' || c == '`' || c == '|' || c == '&' || c == '<' || c == '>':
			return nil, fmt.Errorf("shell operator %q is not supported", c)
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	flushCmd()
	return cmds, nil
}
