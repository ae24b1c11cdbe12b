package memstore

import (
	"context"
	"fmt"

	"github.com/rcmhss/rcmhss/hss"
)

// maxReserve bounds n in one reservation (the service caps AIRs far lower);
// IND is bounded by hss.MaxINDBits. Both match hss/redisstore.
const maxReserve = 4096

// ReserveSQN implements hss.SQNStore.
func (s *Store) ReserveSQN(_ context.Context, imsi hss.IMSI, node string, n int, indBits uint8) (hss.SQNReservation, error) {
	if err := checkSQNArgs(node, n, indBits); err != nil {
		return hss.SQNReservation{}, fmt.Errorf("memstore: reserve sqn: %w", err)
	}
	sh, rec, err := s.lock("reserve sqn", imsi)
	if err != nil {
		return hss.SQNReservation{}, err
	}
	defer sh.mu.Unlock()
	if rec == nil {
		return hss.SQNReservation{}, fmt.Errorf("memstore: reserve sqn: %w", hss.ErrUnknownSubscriber)
	}
	res, err := s.reserve(rec, rec.sqnHE>>indBits, node, n, indBits)
	if err != nil {
		return hss.SQNReservation{}, fmt.Errorf("memstore: reserve sqn: %w", err)
	}
	return res, nil
}

// ResyncSQN implements hss.SQNStore.
func (s *Store) ResyncSQN(_ context.Context, imsi hss.IMSI, node string, seqMS, delta uint64, n int, indBits uint8) (hss.SQNReservation, error) {
	if err := checkSQNArgs(node, n, indBits); err != nil {
		return hss.SQNReservation{}, fmt.Errorf("memstore: resync sqn: %w", err)
	}
	if seqMS > maxSEQ(indBits) {
		return hss.SQNReservation{}, fmt.Errorf("memstore: resync sqn: seq_ms %d does not fit in %d bits: %w", seqMS, 48-indBits, hss.ErrInvalidInput)
	}
	sh, rec, err := s.lock("resync sqn", imsi)
	if err != nil {
		return hss.SQNReservation{}, err
	}
	defer sh.mu.Unlock()
	if rec == nil {
		return hss.SQNReservation{}, fmt.Errorf("memstore: resync sqn: %w", hss.ErrUnknownSubscriber)
	}
	// TS 33.102 C.2.2: the USIM accepts SEQ when SEQ > SEQ_MS and
	// SEQ - SEQ_MS <= delta. When SEQ_HE+1 would be refused, SEQ_HE takes SEQ_MS
	// (6.3.5: "the HE/AuC resets the value of the counter SQN_HE to SQN_MS").
	seqHE := rec.sqnHE >> indBits
	if seqHE+1 <= seqMS || seqHE+1-seqMS > delta {
		seqHE = seqMS
	}
	res, err := s.reserve(rec, seqHE, node, n, indBits)
	if err != nil {
		return hss.SQNReservation{}, fmt.Errorf("memstore: resync sqn: %w", err)
	}
	return res, nil
}

// reserve is the common tail of ReserveSQN and ResyncSQN, under the shard lock.
// SQN_HE = SEQ_HE || IND_HE (TS 33.102 C.1.2); the reservation is
// SEQ_HE+1 .. SEQ_HE+n and SQN_HE becomes the last SQN handed out. Nothing
// changes when it fails.
func (s *Store) reserve(rec *record, seqHE uint64, node string, n int, indBits uint8) (hss.SQNReservation, error) {
	k, err := s.sealer.Open(rec.sub.IMSI, hss.FieldK, rec.k)
	if err != nil {
		return hss.SQNReservation{}, err
	}
	opc, err := s.sealer.Open(rec.sub.IMSI, hss.FieldOPc, rec.opc)
	if err != nil {
		return hss.SQNReservation{}, err
	}
	last := seqHE + uint64(n)
	if last > maxSEQ(indBits) {
		// TS 33.102 C.3.1 wrap-around is not performed: the operator re-keys.
		return hss.SQNReservation{}, fmt.Errorf("sqn space exhausted (seq_he %d): %w", seqHE, hss.ErrAuthDataUnavailable)
	}
	ind := rec.indFor(node, indBits)
	rec.sqnHE = last<<indBits | uint64(ind)
	return hss.SQNReservation{
		Material: hss.AuthMaterial{K: k, OPc: opc, AMF: rec.sub.AMF},
		FirstSEQ: seqHE + 1,
		IND:      ind,
	}, nil
}

// indFor returns node's IND slot among 2^indBits, allocating the lowest free
// slot for a new node or, when all are taken, the least recently used one
// (TS 33.102 C.1.2: IND values are allocated per serving node so that vectors
// sent to different nodes use different SEQ_MS array entries).
func (rec *record) indFor(node string, indBits uint8) uint32 {
	slots := uint32(1) << indBits
	rec.tick++
	if rec.slots == nil {
		rec.slots = make(map[string]indSlot)
	}
	if sl, ok := rec.slots[node]; ok && sl.ind < slots {
		rec.slots[node] = indSlot{ind: sl.ind, tick: rec.tick}
		return sl.ind
	}
	delete(rec.slots, node)
	used := make(map[uint32]bool, len(rec.slots))
	lruNode, lruTick := "", ^uint64(0)
	for nd, sl := range rec.slots {
		if sl.ind >= slots { // left over from a larger indBits
			delete(rec.slots, nd)
			continue
		}
		used[sl.ind] = true
		if sl.tick < lruTick || (sl.tick == lruTick && nd < lruNode) {
			lruNode, lruTick = nd, sl.tick
		}
	}
	ind := uint32(0)
	if uint32(len(used)) < slots {
		for used[ind] {
			ind++
		}
	} else {
		ind = rec.slots[lruNode].ind
		delete(rec.slots, lruNode)
	}
	rec.slots[node] = indSlot{ind: ind, tick: rec.tick}
	return ind
}

func maxSEQ(indBits uint8) uint64 { return 1<<(48-uint(indBits)) - 1 }

func checkSQNArgs(node string, n int, indBits uint8) error {
	switch {
	case node == "":
		return fmt.Errorf("serving node name is required: %w", hss.ErrInvalidInput)
	case n < 1 || n > maxReserve:
		return fmt.Errorf("number of sqns must be 1..%d, got %d: %w", maxReserve, n, hss.ErrInvalidInput)
	case indBits > hss.MaxINDBits:
		return fmt.Errorf("ind bits must be 0..%d, got %d: %w", hss.MaxINDBits, indBits, hss.ErrInvalidInput)
	}
	return nil
}
