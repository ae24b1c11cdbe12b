package memstore

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/rcmhss/rcmhss/hss"
)

// EIR is the in-process hss.EIRStore: IMEI and TAC entries in maps, ranges
// in a slice sorted by first IMEI so that a lookup is one binary search.
type EIR struct {
	mu     sync.RWMutex
	imei   map[string]hss.EquipmentStatus
	tac    map[string]hss.EquipmentStatus
	ranges []hss.EIREntry // sorted by First, never overlapping
}

var _ hss.EIRStore = (*EIR)(nil)

// NewEIR returns empty EIR lists.
func NewEIR() *EIR {
	return &EIR{imei: make(map[string]hss.EquipmentStatus), tac: make(map[string]hss.EquipmentStatus)}
}

// PutEIREntry implements hss.EIRStore.
func (s *EIR) PutEIREntry(_ context.Context, e hss.EIREntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch e.Kind {
	case hss.EIRByIMEI:
		s.imei[e.Value] = e.Status
	case hss.EIRByTAC:
		s.tac[e.Value] = e.Status
	case hss.EIRByRange:
		i := sort.Search(len(s.ranges), func(i int) bool { return s.ranges[i].First >= e.First })
		if i < len(s.ranges) && s.ranges[i].First == e.First && s.ranges[i].Last == e.Last {
			s.ranges[i].Status = e.Status
			return nil
		}
		// Only the neighbours can overlap: the one starting before e and the
		// one starting at or after it.
		if i > 0 && s.ranges[i-1].Last >= e.First {
			return fmt.Errorf("memstore: put eir entry: %s: %w", s.ranges[i-1].Key(), hss.ErrEIRRangeOverlap)
		}
		if i < len(s.ranges) && s.ranges[i].First <= e.Last {
			return fmt.Errorf("memstore: put eir entry: %s: %w", s.ranges[i].Key(), hss.ErrEIRRangeOverlap)
		}
		s.ranges = slices.Insert(s.ranges, i, e)
	default:
		return fmt.Errorf("memstore: put eir entry: kind %q: %w", e.Kind, hss.ErrInvalidInput)
	}
	return nil
}

// DeleteEIREntry implements hss.EIRStore.
func (s *EIR) DeleteEIREntry(_ context.Context, e hss.EIREntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var m map[string]hss.EquipmentStatus
	switch e.Kind {
	case hss.EIRByIMEI:
		m = s.imei
	case hss.EIRByTAC:
		m = s.tac
	case hss.EIRByRange:
		for i, r := range s.ranges {
			if r.First == e.First && r.Last == e.Last {
				s.ranges = slices.Delete(s.ranges, i, i+1)
				return nil
			}
		}
		return fmt.Errorf("memstore: delete eir entry: %w", hss.ErrUnknownEIREntry)
	default:
		return fmt.Errorf("memstore: delete eir entry: kind %q: %w", e.Kind, hss.ErrInvalidInput)
	}
	if _, ok := m[e.Value]; !ok {
		return fmt.Errorf("memstore: delete eir entry: %w", hss.ErrUnknownEIREntry)
	}
	delete(m, e.Value)
	return nil
}

// ListEIREntries implements hss.EIRStore.
func (s *EIR) ListEIREntries(context.Context) ([]hss.EIREntry, error) {
	s.mu.RLock()
	out := make([]hss.EIREntry, 0, len(s.imei)+len(s.tac)+len(s.ranges))
	for v, st := range s.imei {
		out = append(out, hss.EIREntry{Kind: hss.EIRByIMEI, Value: v, Status: st})
	}
	for v, st := range s.tac {
		out = append(out, hss.EIREntry{Kind: hss.EIRByTAC, Value: v, Status: st})
	}
	out = append(out, s.ranges...)
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b hss.EIREntry) int { return strings.Compare(a.Key(), b.Key()) })
	return out, nil
}

// MatchIMEI implements hss.EIRStore.
func (s *EIR) MatchIMEI(_ context.Context, imei string) (hss.EIRMatches, error) {
	if len(imei) != hss.IMEILen {
		return hss.EIRMatches{}, fmt.Errorf("memstore: match imei: want %d digits: %w", hss.IMEILen, hss.ErrInvalidInput)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var m hss.EIRMatches
	if st, ok := s.imei[imei]; ok {
		m.IMEI = &hss.EIREntry{Kind: hss.EIRByIMEI, Value: imei, Status: st}
	}
	if st, ok := s.tac[imei[:hss.TACLen]]; ok {
		m.TAC = &hss.EIREntry{Kind: hss.EIRByTAC, Value: imei[:hss.TACLen], Status: st}
	}
	// The last range starting at or before imei is the only candidate.
	i := sort.Search(len(s.ranges), func(i int) bool { return s.ranges[i].First > imei })
	if i > 0 && s.ranges[i-1].Last >= imei {
		r := s.ranges[i-1]
		m.Range = &r
	}
	return m, nil
}
