package hss

import (
	"errors"
	"strings"
	"testing"
)

func TestComposeSplitSQN(t *testing.T) {
	for _, tc := range []struct {
		seq     uint64
		ind     uint32
		indBits uint8
		sqn     uint64
	}{
		// TS 33.102 C.1.1: SQN = SEQ || IND, IND in the low indBits bits.
		{seq: 1, ind: 0, indBits: 5, sqn: 0x20},
		{seq: 1, ind: 31, indBits: 5, sqn: 0x3f},
		{seq: 0x123, ind: 7, indBits: 5, sqn: 0x123<<5 | 7},
		{seq: 42, ind: 0, indBits: 0, sqn: 42},
		{seq: MaxSEQ(10), ind: 1023, indBits: 10, sqn: MaxSQN},
		{seq: MaxSEQ(5), ind: 31, indBits: 5, sqn: MaxSQN},
	} {
		if got := ComposeSQN(tc.seq, tc.ind, tc.indBits); got != tc.sqn {
			t.Errorf("ComposeSQN(%d, %d, %d) = %#x, want %#x", tc.seq, tc.ind, tc.indBits, got, tc.sqn)
		}
		seq, ind := SplitSQN(tc.sqn, tc.indBits)
		if seq != tc.seq || ind != tc.ind {
			t.Errorf("SplitSQN(%#x, %d) = %d, %d; want %d, %d", tc.sqn, tc.indBits, seq, ind, tc.seq, tc.ind)
		}
	}
	// IND wider than indBits is masked, not allowed to bleed into SEQ.
	if got := ComposeSQN(1, 0xff, 5); got != 0x3f {
		t.Errorf("IND overflow: ComposeSQN(1, 0xff, 5) = %#x, want 0x3f", got)
	}
	if got := ComposeSQN(MaxSEQ(5)+1, 0, 5); got > MaxSQN {
		t.Errorf("ComposeSQN exceeded 48 bits: %#x", got)
	}
}

func TestSQNBytes(t *testing.T) {
	b := SQNBytes(0xff9bb4d0b607)
	if b != [6]byte{0xff, 0x9b, 0xb4, 0xd0, 0xb6, 0x07} {
		t.Fatalf("SQNBytes = %x", b)
	}
	if got := SQNFromBytes(b); got != 0xff9bb4d0b607 {
		t.Fatalf("SQNFromBytes = %#x", got)
	}
}

func TestSQNConfigValidate(t *testing.T) {
	if err := DefaultSQNConfig().Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	if c := DefaultSQNConfig(); c.INDBits != 5 || c.Delta != 1<<28 {
		t.Fatalf("defaults = %+v", c)
	}
	for _, tc := range []struct {
		c    SQNConfig
		want []string
	}{
		{SQNConfig{INDBits: 11, Delta: 1}, []string{"sqn.ind_bits"}},
		{SQNConfig{INDBits: 5, Delta: 0}, []string{"sqn.delta"}},
		{SQNConfig{INDBits: 5, Delta: 1 << 43}, []string{"sqn.delta"}},
		{SQNConfig{INDBits: 12, Delta: 0}, []string{"sqn.ind_bits", "sqn.delta"}},
	} {
		err := tc.c.Validate()
		if !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%+v: err = %v, want ErrInvalidInput", tc.c, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%+v: %q does not name %s", tc.c, err, w)
			}
		}
	}
	if err := (SQNConfig{INDBits: 0, Delta: MaxSQN}).Validate(); err != nil {
		t.Errorf("INDBits 0 with Delta 2^48-1: %v", err)
	}
}
