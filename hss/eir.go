package hss

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
)

// EIR errors. diameter/result.go maps them to codes.
var (
	// ErrUnknownEquipment: the IMEI is on no list and the EIR is configured to
	// say so (DIAMETER_ERROR_EQUIPMENT_UNKNOWN 5422, TS 29.272 7.4.3).
	ErrUnknownEquipment = errors.New("unknown equipment")
	// ErrUnknownEIREntry: deleting a list entry that does not exist.
	ErrUnknownEIREntry = errors.New("unknown eir entry")
	// ErrEIRRangeOverlap: an IMEI range that overlaps a stored range with
	// other bounds; ranges never overlap so that a lookup finds at most one.
	ErrEIRRangeOverlap = errors.New("eir range overlaps an existing range")
)

// EquipmentStatus is Equipment-Status (TS 29.272 7.3.51).
type EquipmentStatus uint32

const (
	Whitelisted EquipmentStatus = 0
	Blacklisted EquipmentStatus = 1
	Greylisted  EquipmentStatus = 2
)

// String returns the list name used by the admin API.
func (s EquipmentStatus) String() string {
	switch s {
	case Whitelisted:
		return "white"
	case Blacklisted:
		return "black"
	case Greylisted:
		return "grey"
	}
	return fmt.Sprintf("EquipmentStatus(%d)", uint32(s))
}

// ParseEquipmentStatus reads "white", "grey" (or "gray") or "black".
func ParseEquipmentStatus(s string) (EquipmentStatus, error) {
	switch s {
	case "white":
		return Whitelisted, nil
	case "grey", "gray":
		return Greylisted, nil
	case "black":
		return Blacklisted, nil
	}
	return 0, invalid("status", `must be "white", "grey" or "black"`)
}

// EIRKind says what an EIR list entry matches.
type EIRKind string

const (
	// EIRByIMEI matches one IMEI (14 digits: TAC + SNR, TS 23.003 6.2.1).
	EIRByIMEI EIRKind = "imei"
	// EIRByRange matches every IMEI from First to Last inclusive.
	EIRByRange EIRKind = "range"
	// EIRByTAC matches every IMEI of a Type Allocation Code (8 digits).
	EIRByTAC EIRKind = "tac"
)

// IMEI and TAC lengths (TS 23.003 6.2.1, 6.2.2).
const (
	IMEILen   = 14 // TAC (8) + SNR (6), without check or spare digit
	IMEISVLen = 16 // TAC (8) + SNR (6) + SVN (2)
	TACLen    = 8
)

// EIREntry is one line of the white, grey and black lists. Value holds the
// IMEI (14 digits) or the TAC (8 digits); First and Last bound a range of
// 14-digit IMEIs.
type EIREntry struct {
	Kind   EIRKind
	Value  string
	First  string
	Last   string
	Status EquipmentStatus
}

// Key identifies the entry in its list, whatever its status.
func (e EIREntry) Key() string {
	if e.Kind == EIRByRange {
		return string(e.Kind) + ":" + e.First + "-" + e.Last
	}
	return string(e.Kind) + ":" + e.Value
}

// Normalize validates e and brings its identities to their stored form: an
// IMEI given with its check or spare digit (15) or as an IMEISV (16) keeps its
// first 14 digits (TS 23.003 6.2.1/6.2.2).
func (e EIREntry) Normalize() (EIREntry, error) {
	var errs []error
	switch e.Kind {
	case EIRByIMEI:
		v, err := ParseIMEI(e.Value)
		if err != nil {
			errs = append(errs, invalid("value", "must be an IMEI of 14 or 15 digits, or an IMEISV of 16"))
		}
		e.Value, e.First, e.Last = v.IMEI, "", ""
	case EIRByTAC:
		if len(e.Value) != TACLen || !allDigits(e.Value) {
			errs = append(errs, invalid("value", "a TAC is 8 decimal digits"))
		}
		e.First, e.Last = "", ""
	case EIRByRange:
		f, err1 := ParseIMEI(e.First)
		l, err2 := ParseIMEI(e.Last)
		if err1 != nil {
			errs = append(errs, invalid("first", "must be an IMEI"))
		}
		if err2 != nil {
			errs = append(errs, invalid("last", "must be an IMEI"))
		}
		if err1 == nil && err2 == nil && f.IMEI > l.IMEI {
			errs = append(errs, invalid("last", "must not be below first"))
		}
		e.First, e.Last, e.Value = f.IMEI, l.IMEI, ""
	default:
		errs = append(errs, invalid("kind", `must be "imei", "range" or "tac"`))
	}
	if e.Status > Greylisted {
		errs = append(errs, invalid("status", "must be white (0), black (1) or grey (2)"))
	}
	if err := errors.Join(errs...); err != nil {
		return EIREntry{}, err
	}
	return e, nil
}

// Equipment is a parsed equipment identity.
type Equipment struct {
	IMEI string // 14 digits
	// SVN is the software version number of an IMEISV, "" when not given.
	SVN string
}

// ParseIMEI reads an IMEI of 14 digits, 15 (with the Luhn check digit or the
// spare digit 0 that TS 23.003 6.2.1 says is sent instead), or an IMEISV of
// 16 digits (6.2.2: the last two are the SVN).
func ParseIMEI(s string) (Equipment, error) {
	if !allDigits(s) {
		return Equipment{}, invalid("imei", "must contain only decimal digits")
	}
	switch len(s) {
	case IMEILen, IMEILen + 1:
		return Equipment{IMEI: s[:IMEILen]}, nil
	case IMEISVLen:
		return Equipment{IMEI: s[:IMEILen], SVN: s[IMEILen:]}, nil
	}
	return Equipment{}, invalid("imei", fmt.Sprintf("must be 14 or 15 digits, or 16 for an IMEISV, got %d", len(s)))
}

// EIRMatches are the entries of each kind that cover one IMEI (nil when
// none). Ranges never overlap, so at most one range matches.
type EIRMatches struct {
	IMEI, Range, TAC *EIREntry
}

// EIRStore keeps the EIR lists. It is deliberately not part of Store: an
// HSS without S13 needs none, and stores implement it separately
// (hss/memstore.EIR, hss/redisstore.EIR), passing hss/storetest.RunEIR.
// Entries reach the store normalised (EIREntry.Normalize).
type EIRStore interface {
	// PutEIREntry adds e or changes the status of the entry with the same
	// Key. A range overlapping a stored range with other bounds is refused
	// with ErrEIRRangeOverlap.
	PutEIREntry(ctx context.Context, e EIREntry) error
	// DeleteEIREntry removes the entry with e's Key (its status is ignored);
	// ErrUnknownEIREntry when there is none.
	DeleteEIREntry(ctx context.Context, e EIREntry) error
	// ListEIREntries returns every entry ordered by Key.
	ListEIREntries(ctx context.Context) ([]EIREntry, error)
	// MatchIMEI returns the entries that cover a 14-digit IMEI.
	MatchIMEI(ctx context.Context, imei string) (EIRMatches, error)
}

// UnknownEquipmentPolicy is the answer for an IMEI on no list.
type UnknownEquipmentPolicy string

const (
	// UnknownIsWhitelisted answers WHITELISTED (the usual lab setting).
	UnknownIsWhitelisted UnknownEquipmentPolicy = "white"
	// UnknownIsError answers DIAMETER_ERROR_EQUIPMENT_UNKNOWN (5422).
	UnknownIsError UnknownEquipmentPolicy = "unknown"
)

// EIRConfig configures the EIR.
type EIRConfig struct {
	// UnknownEquipment is "white" (default) or "unknown".
	UnknownEquipment UnknownEquipmentPolicy
}

// Validate reports a bad policy.
func (c EIRConfig) Validate() error {
	switch c.UnknownEquipment {
	case "", UnknownIsWhitelisted, UnknownIsError:
		return nil
	}
	return invalid("eir.unknown_equipment", `must be "white" or "unknown"`)
}

// EIR is the Equipment Identity Register behind S13 (TS 29.272 5.3): it
// checks an IMEI against the lists. The most specific entry wins: an IMEI
// entry over a range, a range over a TAC.
type EIR struct {
	store EIRStore
	cfg   EIRConfig
	log   *slog.Logger
}

// NewEIR validates cfg and returns the EIR; a nil logger discards.
func NewEIR(cfg EIRConfig, store EIRStore, log *slog.Logger) (*EIR, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("hss: eir config: %w", err)
	}
	if store == nil {
		return nil, fmt.Errorf("hss: new eir: store is required: %w", ErrInvalidInput)
	}
	if cfg.UnknownEquipment == "" {
		cfg.UnknownEquipment = UnknownIsWhitelisted
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &EIR{store: store, cfg: cfg, log: log}, nil
}

// EquipmentCheckRequest is an ECR in domain terms (TS 29.272 5.3.2.1).
type EquipmentCheckRequest struct {
	// IMEI as received: 14, 15 or 16 (IMEISV) digits.
	IMEI            string
	SoftwareVersion string
	IMSI            IMSI // optional; for logs only
}

// CheckEquipment answers an ECR (TS 29.272 5.3.2.1.3).
func (e *EIR) CheckEquipment(ctx context.Context, req EquipmentCheckRequest) (EquipmentStatus, error) {
	const op = "hss: check equipment: %w"
	eq, err := ParseIMEI(req.IMEI)
	if err != nil {
		return 0, fmt.Errorf(op, err)
	}
	m, err := e.store.MatchIMEI(ctx, eq.IMEI)
	if err != nil {
		return 0, fmt.Errorf(op, err)
	}
	for _, hit := range []*EIREntry{m.IMEI, m.Range, m.TAC} {
		if hit != nil {
			e.log.DebugContext(ctx, "equipment listed", "tac", eq.IMEI[:TACLen], "list", hit.Status.String(), "by", string(hit.Kind), "imsi", req.IMSI)
			return hit.Status, nil
		}
	}
	if e.cfg.UnknownEquipment == UnknownIsError {
		return 0, fmt.Errorf(op, ErrUnknownEquipment)
	}
	return Whitelisted, nil
}

// PutEntry validates, normalises and stores an entry; it returns it as stored.
func (e *EIR) PutEntry(ctx context.Context, en EIREntry) (EIREntry, error) {
	n, err := en.Normalize()
	if err != nil {
		return EIREntry{}, fmt.Errorf("hss: put eir entry: %w", err)
	}
	if err := e.store.PutEIREntry(ctx, n); err != nil {
		return EIREntry{}, fmt.Errorf("hss: put eir entry: %w", err)
	}
	return n, nil
}
