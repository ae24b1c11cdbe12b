package loadgen

import (
	"testing"
)

func TestParseMix(t *testing.T) {
	m, err := ParseMix("air=8, ulr=2")
	if err != nil || m.String() != "air=8,ulr=2" {
		t.Fatalf("ParseMix = %v, %v", m, err)
	}
	// Smooth round robin: the ULRs are spread, never two in a row.
	p := m.pattern()
	if len(p) != 10 {
		t.Fatalf("pattern %v", p)
	}
	n := 0
	for i, s := range p {
		if s == ScenarioULR {
			n++
			if p[(i+1)%len(p)] == ScenarioULR {
				t.Fatalf("ULRs adjacent in %v", p)
			}
		}
	}
	if n != 2 {
		t.Fatalf("%d ULRs in %v", n, p)
	}
	for _, bad := range []string{"", "air=0", "foo=1", "air=x", "air=1,air=2", "air=-1", "air=1001"} {
		if _, err := ParseMix(bad); err == nil {
			t.Errorf("ParseMix(%q) accepted", bad)
		}
	}
}

func TestIMSIRange(t *testing.T) {
	r, err := ParseIMSIRange("001010000000001", 100000, false)
	if err != nil || r.IMSI(0) != "001010000000001" || r.IMSI(99999) != "001010000100000" || r.IMSI(100000) != "001010000000001" {
		t.Fatalf("range %+v %v: %s %s", r, err, r.IMSI(0), r.IMSI(99999))
	}
	for _, bad := range []struct {
		start string
		n     uint64
	}{{"12345", 1}, {"1234567890123456", 1}, {"00101000000000a", 1}, {"999999999999999", 2}, {"001010000000001", 0}, {"+01010000000001", 1}} {
		if _, err := ParseIMSIRange(bad.start, bad.n, false); err == nil {
			t.Errorf("ParseIMSIRange(%q, %d) accepted", bad.start, bad.n)
		}
	}
	// Random order stays in the range and reaches all of it.
	rr, _ := ParseIMSIRange("001010000000001", 50, true)
	p := newPicker(rr, 7)
	seen := map[uint64]bool{}
	for i := range uint64(5000) {
		v := p.next(i)
		if v >= 50 {
			t.Fatalf("random index %d outside the range", v)
		}
		seen[v] = true
	}
	if len(seen) != 50 {
		t.Fatalf("random order reached %d of 50 IMSIs in 5000 draws", len(seen))
	}
	sp := newPicker(r, 7)
	if sp.next(5) != 5 || sp.next(100003) != 3 {
		t.Fatal("sequential order is not the run's sequence modulo the range")
	}
}
