package rcm

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/rcmhss/rcmhss/hss"
)

// AuditEvent names what happened in an RCM audit entry.
type AuditEvent string

const (
	AuditAttempt      AuditEvent = "attempt"       // a guest AIR arrived
	AuditRejected     AuditEvent = "rejected"      // device authentication or a rule failed
	AuditBound        AuditEvent = "bound"         // device authenticated, guest IMSI bound
	AuditCompatGuest  AuditEvent = "compat_guest"  // compat mode served a guest AIR unauthenticated
	AuditULRRejected  AuditEvent = "ulr_rejected"  // a ULR broke the binding rules
	AuditExpired      AuditEvent = "expired"       // a binding ran out; CLR sent
	AuditProvisioned  AuditEvent = "provisioned"   // the device got its own subscription
	AuditProfileAdded AuditEvent = "profile_added" // admin changes to device profiles
)

// AuditRecord is what a caller appends; the store turns it into the next
// AuditEntry with Chain, atomically with reading the tail. It holds no secret:
// the IMSI is masked, the reason is the error text of a sentinel (which never
// carries key material).
type AuditRecord struct {
	Time   time.Time
	Event  AuditEvent
	IMSI   string // masked
	IMEI   IMEI
	Reason string
}

// NewAuditRecord masks the IMSI (hss.IMSI.Masked) and takes the reason from
// err (nil for none).
func NewAuditRecord(now time.Time, ev AuditEvent, imsi hss.IMSI, imei IMEI, err error) AuditRecord {
	r := AuditRecord{Time: now.UTC(), Event: ev, IMSI: imsi.Masked(), IMEI: imei}
	if err != nil {
		r.Reason = err.Error()
	}
	return r
}

// AuditEntry is one link of the append-only, hash-chained RCM audit log.
type AuditEntry struct {
	Seq      uint64      `json:"seq"`
	Time     time.Time   `json:"time"`
	Event    AuditEvent  `json:"event"`
	IMSI     string      `json:"imsi"`
	IMEI     IMEI        `json:"imei,omitempty"`
	Reason   string      `json:"reason,omitempty"`
	PrevHash Fingerprint `json:"prev_hash"`
	Hash     Fingerprint `json:"hash"`
}

// ErrAuditChainBroken: VerifyChain found an entry whose hash, sequence or link
// does not match.
var ErrAuditChainBroken = errors.New("audit chain broken")

const auditLabel = "rcmhss-audit-v1"

// canonical is the hashed encoding of an entry (docs/rcm-crypto.md "Audit"):
// length-prefixed fields "rcmhss-audit-v1" | seq (uint64 BE) | time (unix
// nanoseconds, int64 BE, UTC) | event | imsi | imei | reason.
func (e *AuditEntry) canonical() []byte {
	b := make([]byte, 0, 96+len(e.Event)+len(e.IMSI)+len(e.IMEI)+len(e.Reason))
	b = appendField(b, []byte(auditLabel))
	b = appendField(b, binary.BigEndian.AppendUint64(nil, e.Seq))
	b = appendField(b, binary.BigEndian.AppendUint64(nil, uint64(e.Time.UnixNano())))
	b = appendField(b, []byte(e.Event))
	b = appendField(b, []byte(e.IMSI))
	b = appendField(b, []byte(e.IMEI))
	return appendField(b, []byte(e.Reason))
}

func (e *AuditEntry) computeHash() Fingerprint {
	h := sha256.New()
	h.Write(e.PrevHash[:])
	h.Write(e.canonical())
	return Fingerprint(h.Sum(nil))
}

// Chain makes the entry that follows prev (nil for the first entry, Seq 1,
// zero PrevHash): Hash = SHA-256(PrevHash || canonical encoding).
func Chain(prev *AuditEntry, r AuditRecord) AuditEntry {
	e := AuditEntry{Seq: 1, Time: r.Time.UTC(), Event: r.Event, IMSI: r.IMSI, IMEI: r.IMEI, Reason: r.Reason}
	if prev != nil {
		e.Seq = prev.Seq + 1
		e.PrevHash = prev.Hash
	}
	e.Hash = e.computeHash()
	return e
}

// VerifyChain checks a contiguous run of entries: each hash recomputes, each
// links to the previous and the sequence has no gap. A run starting at Seq 1
// must start from the zero hash; a later run is checked from its first entry's
// PrevHash (the caller compares that with what it trusts).
func VerifyChain(entries []AuditEntry) error {
	for i := range entries {
		e := &entries[i]
		if i == 0 {
			if e.Seq == 0 || (e.Seq == 1 && e.PrevHash != (Fingerprint{})) {
				return fmt.Errorf("rcm: audit: entry %d: bad genesis: %w", e.Seq, ErrAuditChainBroken)
			}
		} else {
			p := &entries[i-1]
			if e.Seq != p.Seq+1 {
				return fmt.Errorf("rcm: audit: seq %d follows %d: %w", e.Seq, p.Seq, ErrAuditChainBroken)
			}
			if e.PrevHash != p.Hash {
				return fmt.Errorf("rcm: audit: entry %d does not link to %d: %w", e.Seq, p.Seq, ErrAuditChainBroken)
			}
		}
		if e.computeHash() != e.Hash {
			return fmt.Errorf("rcm: audit: entry %d hash mismatch: %w", e.Seq, ErrAuditChainBroken)
		}
	}
	return nil
}
