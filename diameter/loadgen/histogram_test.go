package loadgen

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// exactQuantile is the nearest-rank quantile of sorted values.
func exactQuantile(sorted []int64, q float64) int64 {
	rank := int(math.Ceil(q * float64(len(sorted))))
	return sorted[max(rank, 1)-1]
}

func checkQuantiles(t *testing.T, name string, values []int64) {
	t.Helper()
	var h Histogram
	for _, v := range values {
		h.Record(time.Duration(v))
	}
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		want := exactQuantile(sorted, q)
		got := int64(h.Quantile(q))
		if rel := math.Abs(float64(got-want)) / float64(want); rel > RelativeError {
			t.Errorf("%s: p%g = %d, exact %d: relative error %.4f > %.4f", name, q*100, got, want, rel, RelativeError)
		}
	}
	if h.Max() != time.Duration(sorted[len(sorted)-1]) || h.Min() != time.Duration(sorted[0]) {
		t.Errorf("%s: min %d max %d, want %d %d", name, h.Min(), h.Max(), sorted[0], sorted[len(sorted)-1])
	}
	if h.Count() != uint64(len(values)) {
		t.Errorf("%s: count %d, want %d", name, h.Count(), len(values))
	}
}

func TestHistogramUniform(t *testing.T) {
	var v []int64
	for i := int64(1); i <= 10000; i++ {
		v = append(v, i)
	}
	checkQuantiles(t, "uniform 1..10000", v)

	// The same in microseconds: 1 us .. 10 ms.
	for i := range v {
		v[i] *= 1000
	}
	checkQuantiles(t, "uniform 1us..10ms", v)

	var h Histogram
	for i := int64(1); i <= 10000; i++ {
		h.Record(time.Duration(i))
	}
	// Known values: p50 of 1..10000 is 5000, p99 9900, p99.9 9990.
	for q, want := range map[float64]float64{0.5: 5000, 0.9: 9000, 0.99: 9900, 0.999: 9990} {
		if got := float64(h.Quantile(q)); math.Abs(got-want)/want > RelativeError {
			t.Errorf("p%g = %g, want %g within %.2f%%", q*100, got, want, RelativeError*100)
		}
	}
}

func TestHistogramSkewed(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var v []int64
	for range 200000 {
		// Log-normal around 300 us with a long tail, as latencies are.
		v = append(v, int64(math.Exp(rng.NormFloat64()*1.2+math.Log(300e3))))
	}
	v = append(v, 5_000_000_000) // one 5 s outlier
	checkQuantiles(t, "log-normal", v)
}

func TestHistogramBuckets(t *testing.T) {
	// Every value lies within its bucket, buckets tile the range without
	// gaps, and each is narrower than RelativeError of its lower bound.
	prevHi := int64(-1)
	for i := range numBuckets - 1 {
		lo, hi := bucketBounds(i)
		if lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ended at %d", i, lo, prevHi)
		}
		if lo > 0 && float64(hi-lo)/float64(lo) > RelativeError {
			t.Fatalf("bucket %d [%d,%d] wider than %.4f of its low bound", i, lo, hi, RelativeError)
		}
		for _, v := range []int64{lo, hi, (lo + hi) / 2} {
			if b := bucketOf(v); b != i {
				t.Fatalf("value %d in bucket %d, want %d", v, b, i)
			}
		}
		prevHi = hi
	}
}

func TestHistogramMerge(t *testing.T) {
	var a, b, all Histogram
	for i := range 1000 {
		d := time.Duration(i*i + 1)
		all.Record(d)
		if i%2 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	a.Merge(&b)
	if a != all {
		t.Fatal("merging two halves differs from recording everything in one")
	}
	var empty Histogram
	if empty.Quantile(0.99) != 0 || empty.Mean() != 0 {
		t.Fatal("empty histogram reports values")
	}
}
