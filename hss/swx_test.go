package hss

import (
	"errors"
	"testing"
)

func TestParseNAIIdentity(t *testing.T) {
	for _, c := range []struct {
		in   string
		want IMSI
		ok   bool
	}{
		{"001010123456789", "001010123456789", true},
		{"0001010123456789@nai.epc.mnc001.mcc001.3gppnetwork.org", "001010123456789", true},
		{"6001010123456789@nai.epc.mnc001.mcc001.3gppnetwork.org", "001010123456789", true},
		{"1001010123456789@wlan.mnc001.mcc001.3gppnetwork.org", "001010123456789", true},
		{"7001010123456789@nai.epc.mnc001.mcc001.3gppnetwork.org", "", false}, // AKA' pseudonym
		{"0001010123456789", "", false},
		{"@realm", "", false},
		{"0@realm", "", false},
	} {
		got, err := ParseNAIIdentity(c.in)
		if got != c.want || (err == nil) != c.ok {
			t.Errorf("%q: %q, %v", c.in, got, err)
		}
		if err != nil && !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%q: %v does not wrap ErrInvalidInput", c.in, err)
		}
	}
}

func TestNon3GPPData(t *testing.T) {
	s := &Subscriber{
		MSISDN: "33600000000", AMBR: AMBR{UL: 1, DL: 2}, DefaultContextID: 1,
		APNs:    []APNConfiguration{{ContextID: 1, Name: "internet"}, {ContextID: 2, Name: "ims"}, {ContextID: 3, Name: "sos"}},
		Non3GPP: Non3GPPProfile{AccessAllowed: true},
	}
	d := Non3GPPData(s)
	if len(d.APNs) != 3 || d.DefaultContextID != 1 || !d.AccessAllowed || d.MSISDN != s.MSISDN || d.AMBR != s.AMBR {
		t.Errorf("all APNs: %+v", d)
	}
	s.Non3GPP.APNContextIDs = []uint32{3, 2}
	d = Non3GPPData(s)
	if len(d.APNs) != 2 || d.APNs[0].ContextID != 3 || d.DefaultContextID != 3 {
		t.Errorf("selected APNs without the default: %+v", d)
	}
	s.Non3GPP.APNContextIDs = []uint32{2, 1}
	if d = Non3GPPData(s); d.DefaultContextID != 1 {
		t.Errorf("default kept when selected: %+v", d)
	}

	after := cloneSubscriber(s)
	if Non3GPPDataChanged(s, after) {
		t.Error("no change reported as a change")
	}
	after.PeriodicRAUTAUTimer = 60
	after.AccessRestriction = EUTRANNotAllowed
	if Non3GPPDataChanged(s, after) {
		t.Error("an S6a-only change reported")
	}
	for name, fn := range map[string]func(*Subscriber){
		"msisdn":   func(s *Subscriber) { s.MSISDN = "33611111111" },
		"ambr":     func(s *Subscriber) { s.AMBR.DL = 3 },
		"barred":   func(s *Subscriber) { s.Non3GPP.AccessAllowed = false },
		"apn list": func(s *Subscriber) { s.Non3GPP.APNContextIDs = []uint32{2} },
		"apn qci":  func(s *Subscriber) { s.APNs[1].QCI = 5 },
	} {
		a := cloneSubscriber(s)
		fn(a)
		if !Non3GPPDataChanged(s, a) {
			t.Errorf("%s: change not reported", name)
		}
	}
}
