package loadgen

import "time"

// kindStats are the counts of one request kind on one connection.
type kindStats struct {
	sent, answered, timeouts uint64
	results                  map[Result]uint64
	// hist is allocated on the first answer: a connection uses few kinds,
	// and a histogram is 31 KiB.
	hist *Histogram
}

// connStats are one connection's statistics; the client's mu guards them.
type connStats struct {
	kinds [numKinds]kindStats
	stale uint64 // answers that matched no request in flight
	// The current progress interval, over every kind but the attach
	// transaction (whose requests are already counted).
	tick       Histogram
	tickErrors uint64
}

func (s *connStats) record(k kind, r Result, lat time.Duration) {
	ks := &s.kinds[k]
	if ks.results == nil {
		ks.results = make(map[Result]uint64)
	}
	ks.results[r]++
	if ks.hist == nil {
		ks.hist = new(Histogram)
	}
	ks.hist.Record(lat)
	if k == kindAttach {
		ks.answered++
		return
	}
	ks.answered++
	s.tick.Record(lat)
	if !r.Success() {
		s.tickErrors++
	}
}

func (s *connStats) timeout(k kind) {
	s.kinds[k].timeouts++
	if k != kindAttach {
		s.tickErrors++
	}
}
