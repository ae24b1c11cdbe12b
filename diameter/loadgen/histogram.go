package loadgen

import (
	"math"
	"math/bits"
	"time"
)

// Histogram is a log-linear latency histogram in the manner of HdrHistogram:
// values below 2*subBuckets nanoseconds are counted exactly, larger ones in
// buckets of width 2^e holding values in [128*2^e, 256*2^e), so that every
// value is known within a relative error of 1/subBuckets (0.78%). Recording
// is a shift and an increment; the zero Histogram is ready to use. It is not
// safe for concurrent use.
type Histogram struct {
	counts [numBuckets]uint64
	total  uint64
	min    int64
	max    int64
	sum    float64
}

const (
	subBucketBits = 7
	subBuckets    = 1 << subBucketBits // 128
	// maxExp bounds the tracked range to 2^(maxExp+subBucketBits+1) ns
	// (about 137 s); longer values are counted in the last bucket.
	maxExp     = 29
	numBuckets = (maxExp + 2) * subBuckets
)

// RelativeError is the bound on |reported-actual|/actual of a percentile.
const RelativeError = 1.0 / subBuckets

func bucketOf(v int64) int {
	if v < 0 {
		v = 0
	}
	if v < 2*subBuckets {
		return int(v)
	}
	e := bits.Len64(uint64(v)) - (subBucketBits + 1)
	if e > maxExp {
		return numBuckets - 1
	}
	return e*subBuckets + int(v>>e)
}

// bucketBounds returns the smallest and largest value of bucket i.
func bucketBounds(i int) (lo, hi int64) {
	if i < 2*subBuckets {
		return int64(i), int64(i)
	}
	e := i/subBuckets - 1
	m := int64(i - e*subBuckets)
	return m << e, (m+1)<<e - 1
}

// Record counts one value.
func (h *Histogram) Record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	h.counts[bucketOf(v)]++
	if h.total == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.total++
	h.sum += float64(v)
}

// Merge adds the counts of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.total == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.total == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.total += o.total
	h.sum += o.sum
}

// Reset empties h.
func (h *Histogram) Reset() { *h = Histogram{} }

// Count is the number of recorded values.
func (h *Histogram) Count() uint64 { return h.total }

// Max is the largest recorded value, exactly.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Min is the smallest recorded value, exactly.
func (h *Histogram) Min() time.Duration { return time.Duration(h.min) }

// Mean is the arithmetic mean of the recorded values.
func (h *Histogram) Mean() time.Duration {
	if h.total == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.total))
}

// Quantile returns the value at quantile q (0 < q <= 1): the smallest
// recorded value v such that at least q of the values are <= v, reported as
// the upper bound of its bucket, clamped to the exact min and max.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.total)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			_, hi := bucketBounds(i)
			return time.Duration(min(max(hi, h.min), h.max))
		}
	}
	return time.Duration(h.max)
}

// Bucket is one non-empty bucket of a Histogram.
type Bucket struct {
	Low, High time.Duration
	Count     uint64
}

// Buckets lists the non-empty buckets in increasing order.
func (h *Histogram) Buckets() []Bucket {
	var out []Bucket
	for i, c := range h.counts {
		if c == 0 {
			continue
		}
		lo, hi := bucketBounds(i)
		out = append(out, Bucket{Low: time.Duration(lo), High: time.Duration(hi), Count: c})
	}
	return out
}
