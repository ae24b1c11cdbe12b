package storetest

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"

	"github.com/rcmhss/rcmhss/hss"
)

// RunEIR runs every behaviour of hss.EIRStore against stores made by
// newStore, each subtest on a fresh, empty store: entries by IMEI, TAC and
// range, status changes, deletion, listing order, inclusive range bounds,
// refusal of overlapping ranges (also under concurrent writers).
func RunEIR(t *testing.T, newStore func(t *testing.T) hss.EIRStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, st hss.EIRStore)
	}{
		{"Empty", testEIREmpty},
		{"IMEIAndTAC", testEIRIMEIAndTAC},
		{"Ranges", testEIRRanges},
		{"RangeOverlap", testEIRRangeOverlap},
		{"Delete", testEIRDelete},
		{"List", testEIRList},
		{"ConcurrentOverlap", testEIRConcurrentOverlap},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

func put(t *testing.T, st hss.EIRStore, e hss.EIREntry) {
	t.Helper()
	if err := st.PutEIREntry(context.Background(), e); err != nil {
		t.Fatalf("put %s: %v", e.Key(), err)
	}
}

func match(t *testing.T, st hss.EIRStore, imei string) hss.EIRMatches {
	t.Helper()
	m, err := st.MatchIMEI(context.Background(), imei)
	if err != nil {
		t.Fatalf("match %s: %v", imei, err)
	}
	return m
}

func imeiEntry(v string, s hss.EquipmentStatus) hss.EIREntry {
	return hss.EIREntry{Kind: hss.EIRByIMEI, Value: v, Status: s}
}

func tacEntry(v string, s hss.EquipmentStatus) hss.EIREntry {
	return hss.EIREntry{Kind: hss.EIRByTAC, Value: v, Status: s}
}

func rangeEntry(first, last string, s hss.EquipmentStatus) hss.EIREntry {
	return hss.EIREntry{Kind: hss.EIRByRange, First: first, Last: last, Status: s}
}

func testEIREmpty(t *testing.T, st hss.EIRStore) {
	if m := match(t, st, "35123456789012"); m.IMEI != nil || m.TAC != nil || m.Range != nil {
		t.Errorf("empty store matched %+v", m)
	}
	l, err := st.ListEIREntries(context.Background())
	if err != nil || len(l) != 0 {
		t.Errorf("list = %v, %v; want empty", l, err)
	}
	if _, err := st.MatchIMEI(context.Background(), "3512345678901"); !errors.Is(err, hss.ErrInvalidInput) {
		t.Errorf("match of a 13-digit imei: %v, want ErrInvalidInput", err)
	}
}

func testEIRIMEIAndTAC(t *testing.T, st hss.EIRStore) {
	put(t, st, imeiEntry("35123456789012", hss.Blacklisted))
	put(t, st, tacEntry("35123456", hss.Greylisted))
	m := match(t, st, "35123456789012")
	if m.IMEI == nil || *m.IMEI != imeiEntry("35123456789012", hss.Blacklisted) {
		t.Errorf("imei match %+v", m.IMEI)
	}
	if m.TAC == nil || *m.TAC != tacEntry("35123456", hss.Greylisted) {
		t.Errorf("tac match %+v", m.TAC)
	}
	m = match(t, st, "35123456000000")
	if m.IMEI != nil || m.TAC == nil {
		t.Errorf("other imei of the tac: %+v", m)
	}
	if m = match(t, st, "35123457789012"); m.IMEI != nil || m.TAC != nil {
		t.Errorf("imei of another tac matched %+v", m)
	}
	// Putting the same key again changes its status.
	put(t, st, imeiEntry("35123456789012", hss.Whitelisted))
	if m = match(t, st, "35123456789012"); m.IMEI == nil || m.IMEI.Status != hss.Whitelisted {
		t.Errorf("status not updated: %+v", m.IMEI)
	}
}

func testEIRRanges(t *testing.T, st hss.EIRStore) {
	put(t, st, rangeEntry("35000000000100", "35000000000199", hss.Blacklisted))
	put(t, st, rangeEntry("35000000000200", "35000000000200", hss.Greylisted)) // adjacent, single IMEI
	cases := []struct {
		imei string
		want *hss.EIREntry
	}{
		{"35000000000099", nil},
		{"35000000000100", &hss.EIREntry{Kind: hss.EIRByRange, First: "35000000000100", Last: "35000000000199", Status: hss.Blacklisted}},
		{"35000000000150", &hss.EIREntry{Kind: hss.EIRByRange, First: "35000000000100", Last: "35000000000199", Status: hss.Blacklisted}},
		{"35000000000199", &hss.EIREntry{Kind: hss.EIRByRange, First: "35000000000100", Last: "35000000000199", Status: hss.Blacklisted}},
		{"35000000000200", &hss.EIREntry{Kind: hss.EIRByRange, First: "35000000000200", Last: "35000000000200", Status: hss.Greylisted}},
		{"35000000000201", nil},
		{"99999999999999", nil},
		{"00000000000000", nil},
	}
	for _, c := range cases {
		m := match(t, st, c.imei)
		if !reflect.DeepEqual(m.Range, c.want) {
			t.Errorf("%s: range %+v, want %+v", c.imei, m.Range, c.want)
		}
	}
	// The same bounds again change the status.
	put(t, st, rangeEntry("35000000000100", "35000000000199", hss.Whitelisted))
	if m := match(t, st, "35000000000120"); m.Range == nil || m.Range.Status != hss.Whitelisted {
		t.Errorf("range status not updated: %+v", m.Range)
	}
}

func testEIRRangeOverlap(t *testing.T, st hss.EIRStore) {
	put(t, st, rangeEntry("35000000000100", "35000000000199", hss.Blacklisted))
	for _, r := range [][2]string{
		{"35000000000050", "35000000000100"}, // touches the first IMEI
		{"35000000000199", "35000000000300"}, // touches the last IMEI
		{"35000000000120", "35000000000130"}, // inside
		{"35000000000000", "35000000000999"}, // around
		{"35000000000100", "35000000000150"}, // same first, other last
	} {
		err := st.PutEIREntry(context.Background(), rangeEntry(r[0], r[1], hss.Greylisted))
		if !errors.Is(err, hss.ErrEIRRangeOverlap) {
			t.Errorf("range %s-%s: %v, want ErrEIRRangeOverlap", r[0], r[1], err)
		}
	}
	l, err := st.ListEIREntries(context.Background())
	if err != nil || len(l) != 1 || l[0].Status != hss.Blacklisted {
		t.Errorf("a refused range changed the lists: %+v, %v", l, err)
	}
}

func testEIRDelete(t *testing.T, st hss.EIRStore) {
	ctx := context.Background()
	put(t, st, imeiEntry("35123456789012", hss.Blacklisted))
	put(t, st, tacEntry("35123456", hss.Greylisted))
	put(t, st, rangeEntry("35123456000000", "35123456999999", hss.Blacklisted))
	for _, e := range []hss.EIREntry{
		imeiEntry("35123456789012", hss.Whitelisted), // status is ignored
		tacEntry("35123456", 0),
		rangeEntry("35123456000000", "35123456999999", 0),
	} {
		if err := st.DeleteEIREntry(ctx, e); err != nil {
			t.Errorf("delete %s: %v", e.Key(), err)
		}
		if err := st.DeleteEIREntry(ctx, e); !errors.Is(err, hss.ErrUnknownEIREntry) {
			t.Errorf("second delete %s: %v, want ErrUnknownEIREntry", e.Key(), err)
		}
	}
	if m := match(t, st, "35123456789012"); m.IMEI != nil || m.TAC != nil || m.Range != nil {
		t.Errorf("deleted entries still match: %+v", m)
	}
	// A range is deleted only by its exact bounds.
	put(t, st, rangeEntry("35123456000000", "35123456999999", hss.Blacklisted))
	if err := st.DeleteEIREntry(ctx, rangeEntry("35123456000000", "35123456999998", 0)); !errors.Is(err, hss.ErrUnknownEIREntry) {
		t.Errorf("delete by other bounds: %v, want ErrUnknownEIREntry", err)
	}
	if m := match(t, st, "35123456500000"); m.Range == nil {
		t.Error("range gone after a delete with other bounds")
	}
}

func testEIRList(t *testing.T, st hss.EIRStore) {
	put(t, st, tacEntry("35123456", hss.Greylisted))
	put(t, st, rangeEntry("35000000000100", "35000000000199", hss.Blacklisted))
	put(t, st, imeiEntry("35123456789012", hss.Blacklisted))
	put(t, st, imeiEntry("01234567890123", hss.Whitelisted))
	l, err := st.ListEIREntries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []hss.EIREntry{
		imeiEntry("01234567890123", hss.Whitelisted),
		imeiEntry("35123456789012", hss.Blacklisted),
		rangeEntry("35000000000100", "35000000000199", hss.Blacklisted),
		tacEntry("35123456", hss.Greylisted),
	}
	if !reflect.DeepEqual(l, want) {
		t.Errorf("list\n got %+v\nwant %+v", l, want)
	}
}

// testEIRConcurrentOverlap puts overlapping ranges from many goroutines:
// exactly one may win, or a lookup could find two.
func testEIRConcurrentOverlap(t *testing.T, st hss.EIRStore) {
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Every range contains 35000000000500 and has its own bounds.
			first := 35000000000500 - int64(i)
			last := 35000000000500 + int64(n-i)
			errs[i] = st.PutEIREntry(context.Background(), rangeEntry(itoa14(first), itoa14(last), hss.Blacklisted))
		}()
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, hss.ErrEIRRangeOverlap):
			t.Errorf("writer %d: %v", i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d overlapping ranges stored, want 1", won)
	}
	l, err := st.ListEIREntries(context.Background())
	if err != nil || len(l) != 1 {
		t.Errorf("list after the race: %+v, %v", l, err)
	}
}

func itoa14(v int64) string {
	b := make([]byte, 14)
	for i := 13; i >= 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return string(b)
}
