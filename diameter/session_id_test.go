package diameter_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/rcmhss/rcmhss/diameter"
)

// Session-Ids are unique across concurrent callers and across originating
// applications sharing an Origin-Host (RFC 6733 8.8).
func TestNewSessionIDUnique(t *testing.T) {
	const workers, each = 8, 1000
	ids := make(chan string, workers*each)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				ids <- diameter.NewSessionID("hss.test")
			}
		}()
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		if seen[id] {
			t.Fatalf("Session-Id %q handed out twice", id)
		}
		seen[id] = true
		if parts := strings.Split(id, ";"); len(parts) != 3 || parts[0] != "hss.test" {
			t.Fatalf("Session-Id %q is not <host>;<high>;<low>", id)
		}
	}
}
