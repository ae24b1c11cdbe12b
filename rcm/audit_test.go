package rcm

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func auditChain(t *testing.T, n int) []AuditEntry {
	t.Helper()
	var out []AuditEntry
	var prev *AuditEntry
	for i := 0; i < n; i++ {
		r := NewAuditRecord(testNow.Add(time.Duration(i)*time.Second), AuditRejected, "001019990000001", testIMEI,
			fmt.Errorf("rcm: verify: %w", ErrBadSignature))
		e := Chain(prev, r)
		out = append(out, e)
		prev = &out[len(out)-1]
	}
	return out
}

func TestAuditChain(t *testing.T) {
	es := auditChain(t, 4)
	if err := VerifyChain(es); err != nil {
		t.Fatalf("VerifyChain: %v", err)
	}
	if es[0].Seq != 1 || es[0].PrevHash != (Fingerprint{}) || es[1].PrevHash != es[0].Hash || es[3].Seq != 4 {
		t.Fatalf("links: %+v", es)
	}
	if es[0].IMSI != "00101********01" || es[0].Reason != "rcm: verify: bad bootstrap signature" {
		t.Fatalf("entry = %+v", es[0])
	}
	if err := VerifyChain(es[2:]); err != nil {
		t.Fatalf("a later run must verify from its first PrevHash: %v", err)
	}

	// JSON round trip keeps the chain verifiable (the admin API serves it).
	js, err := json.Marshal(es)
	if err != nil {
		t.Fatal(err)
	}
	var back []AuditEntry
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if err := VerifyChain(back); err != nil {
		t.Fatalf("after JSON: %v", err)
	}

	for name, mutate := range map[string]func([]AuditEntry) []AuditEntry{
		"reason edited":   func(e []AuditEntry) []AuditEntry { e[1].Reason = "ok"; return e },
		"imei edited":     func(e []AuditEntry) []AuditEntry { e[2].IMEI = "356938035643809"; return e },
		"time edited":     func(e []AuditEntry) []AuditEntry { e[0].Time = e[0].Time.Add(time.Nanosecond); return e },
		"event edited":    func(e []AuditEntry) []AuditEntry { e[3].Event = AuditBound; return e },
		"entry removed":   func(e []AuditEntry) []AuditEntry { return append(e[:1], e[2:]...) },
		"entries swapped": func(e []AuditEntry) []AuditEntry { e[1], e[2] = e[2], e[1]; return e },
		"rehashed alone": func(e []AuditEntry) []AuditEntry {
			e[1].Reason = "ok"
			e[1].Hash = e[1].computeHash()
			return e
		},
		"forged genesis": func(e []AuditEntry) []AuditEntry { e[0].PrevHash[0] = 1; return e },
		"seq zero":       func(e []AuditEntry) []AuditEntry { e[0].Seq = 0; return e },
	} {
		es := auditChain(t, 4)
		if err := VerifyChain(mutate(es)); !errors.Is(err, ErrAuditChainBroken) {
			t.Errorf("%s: VerifyChain err = %v", name, err)
		}
	}
}

func TestAuditHoldsNoSecret(t *testing.T) {
	cfg := testConfig()
	// The error a failing attach produces, as the caller would audit it.
	r := NewAuditRecord(testNow, AuditRejected, "001019990000001", testIMEI, fmt.Errorf("rcm: verify: %w", ErrStaleTimestamp))
	e := Chain(nil, r)
	js, _ := json.Marshal(e)
	for _, secret := range []string{cfg.Guest.K.Hex(), cfg.Guest.OPc.Hex(), "001019990000001"} {
		if strings.Contains(string(js), secret) {
			t.Fatalf("audit entry contains %q: %s", secret, js)
		}
	}
}
