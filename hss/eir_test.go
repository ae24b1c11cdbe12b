package hss_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/hss/memstore"
)

func TestParseIMEI(t *testing.T) {
	for _, c := range []struct {
		in        string
		imei, svn string
		ok        bool
	}{
		{"49015420323751", "49015420323751", "", true},
		{"490154203237518", "49015420323751", "", true}, // with the Luhn check digit
		{"490154203237510", "49015420323751", "", true}, // with the spare digit 0
		{"4901542032375107", "49015420323751", "07", true},
		{"4901542032375", "", "", false},
		{"49015420323751071", "", "", false},
		{"4901542032375x", "", "", false},
		{"", "", "", false},
	} {
		e, err := hss.ParseIMEI(c.in)
		if (err == nil) != c.ok || e.IMEI != c.imei || e.SVN != c.svn {
			t.Errorf("%q: %+v, %v", c.in, e, err)
		}
	}
}

func TestEIRPrecedenceAndPolicy(t *testing.T) {
	ctx := context.Background()
	store := memstore.NewEIR()
	for _, e := range []hss.EIREntry{
		{Kind: hss.EIRByTAC, Value: "49015420", Status: hss.Blacklisted},
		{Kind: hss.EIRByRange, First: "49015420000000", Last: "49015420009999", Status: hss.Greylisted},
		{Kind: hss.EIRByIMEI, Value: "49015420000001", Status: hss.Whitelisted},
	} {
		if err := store.PutEIREntry(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	for _, policy := range []hss.UnknownEquipmentPolicy{"", hss.UnknownIsWhitelisted, hss.UnknownIsError} {
		eir, err := hss.NewEIR(hss.EIRConfig{UnknownEquipment: policy}, store, nil)
		if err != nil {
			t.Fatal(err)
		}
		for imei, want := range map[string]hss.EquipmentStatus{
			"49015420000001":   hss.Whitelisted, // IMEI over range over TAC
			"4901542000000101": hss.Whitelisted, // IMEISV
			"49015420000002":   hss.Greylisted,  // range over TAC
			"49015420323751":   hss.Blacklisted, // TAC
		} {
			st, err := eir.CheckEquipment(ctx, hss.EquipmentCheckRequest{IMEI: imei})
			if err != nil || st != want {
				t.Errorf("%q %s: %s, %v; want %s", policy, imei, st, err, want)
			}
		}
		st, err := eir.CheckEquipment(ctx, hss.EquipmentCheckRequest{IMEI: "35000000000000"})
		if policy == hss.UnknownIsError {
			if !errors.Is(err, hss.ErrUnknownEquipment) {
				t.Errorf("unknown with policy unknown: %s, %v", st, err)
			}
		} else if err != nil || st != hss.Whitelisted {
			t.Errorf("unknown with policy %q: %s, %v", policy, st, err)
		}
		if _, err := eir.CheckEquipment(ctx, hss.EquipmentCheckRequest{IMEI: "123"}); !errors.Is(err, hss.ErrInvalidInput) {
			t.Errorf("malformed imei: %v", err)
		}
	}
	if _, err := hss.NewEIR(hss.EIRConfig{UnknownEquipment: "grey"}, store, nil); !errors.Is(err, hss.ErrInvalidInput) {
		t.Errorf("bad policy accepted: %v", err)
	}
}

func TestEIREntryNormalize(t *testing.T) {
	e, err := hss.EIREntry{Kind: hss.EIRByRange, First: "490154200000001", Last: "4901542000009901", Status: hss.Greylisted}.Normalize()
	if err != nil || e.First != "49015420000000" || e.Last != "49015420000099" {
		t.Errorf("range: %+v, %v", e, err)
	}
	for _, bad := range []hss.EIREntry{
		{Kind: hss.EIRByTAC, Value: "4901542"},
		{Kind: hss.EIRByIMEI, Value: "49015420"},
		{Kind: hss.EIRByRange, First: "49015420000099", Last: "49015420000000"},
		{Kind: hss.EIRByIMEI, Value: "49015420000000", Status: 3},
		{Kind: "ean", Value: "49015420000000"},
	} {
		if _, err := bad.Normalize(); !errors.Is(err, hss.ErrInvalidInput) {
			t.Errorf("%+v accepted: %v", bad, err)
		}
	}
}
