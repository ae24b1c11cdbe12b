package loadgen

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// Scenario is one kind of transaction diamload issues.
type Scenario uint8

// Scenarios. Attach is an AIR followed, once its answer is a success, by a
// ULR for the same IMSI (TS 23.401 5.3.2.1 steps 5a and 8).
const (
	ScenarioAIR Scenario = iota
	ScenarioULR
	ScenarioPUR
	ScenarioAttach
	ScenarioMAR
	ScenarioSAR
	ScenarioECR
	numScenarios
)

var scenarioNames = [numScenarios]string{"air", "ulr", "pur", "attach", "mar", "sar", "ecr"}

func (s Scenario) String() string {
	if s < numScenarios {
		return scenarioNames[s]
	}
	return "scenario(" + strconv.Itoa(int(s)) + ")"
}

// ParseScenario parses a scenario name.
func ParseScenario(name string) (Scenario, error) {
	for i, n := range scenarioNames {
		if strings.EqualFold(n, name) {
			return Scenario(i), nil
		}
	}
	return 0, fmt.Errorf("loadgen: unknown scenario %q (want one of %s)", name, strings.Join(scenarioNames[:], ", "))
}

// Mix is a weighted set of scenarios, "air=8,ulr=2".
type Mix []MixEntry

// MixEntry is one scenario of a Mix and its weight.
type MixEntry struct {
	Scenario Scenario
	Weight   int
}

// ParseMix parses "air=8,ulr=2"; a bare name has weight 1.
func ParseMix(s string) (Mix, error) {
	var m Mix
	seen := map[Scenario]bool{}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, w, hasW := strings.Cut(part, "=")
		sc, err := ParseScenario(strings.TrimSpace(name))
		if err != nil {
			return nil, err
		}
		weight := 1
		if hasW {
			weight, err = strconv.Atoi(strings.TrimSpace(w))
			if err != nil || weight < 0 || weight > 1000 {
				return nil, fmt.Errorf("loadgen: mix %q: weight of %s must be an integer in 0..1000", s, name)
			}
		}
		if seen[sc] {
			return nil, fmt.Errorf("loadgen: mix %q: %s given twice", s, sc)
		}
		seen[sc] = true
		if weight > 0 {
			m = append(m, MixEntry{Scenario: sc, Weight: weight})
		}
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("loadgen: mix %q: no scenario with a positive weight", s)
	}
	return m, nil
}

func (m Mix) String() string {
	parts := make([]string, len(m))
	for i, e := range m {
		parts[i] = fmt.Sprintf("%s=%d", e.Scenario, e.Weight)
	}
	return strings.Join(parts, ",")
}

// pattern spreads the mix over one cycle of sum(weights) slots by smooth
// weighted round robin, so that air=8,ulr=2 interleaves the ULRs instead of
// sending them in a burst.
func (m Mix) pattern() []Scenario {
	total := 0
	for _, e := range m {
		total += e.Weight
	}
	cur := make([]int, len(m))
	out := make([]Scenario, 0, total)
	for range total {
		best := 0
		for i, e := range m {
			cur[i] += e.Weight
			if cur[i] > cur[best] {
				best = i
			}
		}
		cur[best] -= total
		out = append(out, m[best].Scenario)
	}
	return out
}

func (m Mix) apps() []uint32 {
	set := map[uint32]bool{}
	for _, e := range m {
		switch e.Scenario {
		case ScenarioMAR, ScenarioSAR:
			set[appSWx] = true
		case ScenarioECR:
			set[appS13] = true
		default:
			set[appS6a] = true
		}
	}
	var out []uint32
	for a := range set {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// IMSIRange is a range of IMSIs of one length: Start, Start+1, ...,
// Start+Count-1 (TS 23.003 2.2: at most 15 digits).
type IMSIRange struct {
	Start  uint64
	Digits int
	Count  uint64
	Random bool
}

// ParseIMSIRange validates a starting IMSI and a count.
func ParseIMSIRange(start string, count uint64, random bool) (IMSIRange, error) {
	if len(start) < 6 || len(start) > 15 {
		return IMSIRange{}, fmt.Errorf("loadgen: imsi %q: want 6 to 15 digits", start)
	}
	v, err := strconv.ParseUint(start, 10, 64)
	if err != nil || strings.TrimLeft(start, "0123456789") != "" {
		return IMSIRange{}, fmt.Errorf("loadgen: imsi %q: want decimal digits only", start)
	}
	if count == 0 {
		return IMSIRange{}, errors.New("loadgen: imsi count must be at least 1")
	}
	r := IMSIRange{Start: v, Digits: len(start), Count: count, Random: random}
	limit := uint64(1)
	for range r.Digits {
		limit *= 10
	}
	if v+count-1 >= limit || v+count-1 < v {
		return IMSIRange{}, fmt.Errorf("loadgen: imsi range %s + %d overflows %d digits", start, count, r.Digits)
	}
	return r, nil
}

// IMSI returns the i-th IMSI of the range as a string.
func (r IMSIRange) IMSI(i uint64) string {
	b := make([]byte, r.Digits)
	putDigits(b, r.Start+i%r.Count)
	return string(b)
}

// picker yields range indexes: in order, the run's sequence number modulo
// the range (so that a run of Count requests visits every IMSI once,
// whichever connection sends it), or uniformly at random.
type picker struct {
	r   IMSIRange
	rng *rand.Rand
}

func newPicker(r IMSIRange, seed uint64) *picker {
	return &picker{r: r, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func (p *picker) next(seq uint64) uint64 {
	if p.r.Random {
		return p.rng.Uint64N(p.r.Count)
	}
	return seq % p.r.Count
}

// plmnID encodes a PLMN "MCCMNC" (5 or 6 digits) as the 3 octets of
// Visited-PLMN-Id (TS 29.272 7.3.9, TS 24.008 10.5.1.13).
func plmnID(s string) ([3]byte, error) {
	var out [3]byte
	if (len(s) != 5 && len(s) != 6) || strings.TrimLeft(s, "0123456789") != "" {
		return out, fmt.Errorf("loadgen: plmn %q: want 5 or 6 digits (MCC then MNC)", s)
	}
	d := func(i int) byte { return s[i] - '0' }
	mnc3 := byte(0xf)
	if len(s) == 6 {
		mnc3 = d(5)
	}
	out[0] = d(1)<<4 | d(0)
	out[1] = mnc3<<4 | d(2)
	out[2] = d(4)<<4 | d(3)
	return out, nil
}

// Identity is how diamload names itself and its peer.
type Identity struct {
	OriginHost, OriginRealm           string
	DestinationHost, DestinationRealm string
	VisitedPLMN                       [3]byte
	HostIP                            netip.Addr
}
