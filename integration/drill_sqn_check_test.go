package integration

import (
	"strings"
	"testing"
)

// TestCheckSQNs proves the drills' independent SQN check can fail: a
// repeated SQN and an IND slot going backwards are both reported, SQNs of
// different IMSIs or different IND slots are independent.
func TestCheckSQNs(t *testing.T) {
	const ind = 5
	sqn := func(seq, i uint64) uint64 { return seq<<ind | i }
	tests := []struct {
		name string
		reqs []drillRequest
		want []string
	}{
		{"increasing", []drillRequest{
			{IMSI: "1", SQNs: []uint64{sqn(1, 0), sqn(1, 1)}},
			{IMSI: "1", SQNs: []uint64{sqn(2, 0)}},
			{IMSI: "2", SQNs: []uint64{sqn(1, 0)}}, // another IMSI may reuse a value
		}, nil},
		{"slots are independent", []drillRequest{
			{IMSI: "1", SQNs: []uint64{sqn(5, 3)}},
			{IMSI: "1", SQNs: []uint64{sqn(2, 4)}},
		}, nil},
		{"repeat", []drillRequest{
			{IMSI: "1", SQNs: []uint64{sqn(1, 0)}},
			{IMSI: "1", SQNs: []uint64{sqn(1, 0)}},
		}, []string{"issued twice", "went from"}},
		{"backwards in a slot", []drillRequest{
			{IMSI: "1", SQNs: []uint64{sqn(7, 2)}},
			{IMSI: "1", SQNs: []uint64{sqn(6, 2)}},
		}, []string{"IND 2 went from SQN 226 back to 194"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got := checkSQNs(tt.reqs, ind)
			if len(got) != len(tt.want) {
				t.Fatalf("problems %q, want %d matching %q", got, len(tt.want), tt.want)
			}
			for i := range got {
				if !strings.Contains(got[i], tt.want[i]) {
					t.Errorf("problem %q, want it to contain %q", got[i], tt.want[i])
				}
			}
		})
	}
}
