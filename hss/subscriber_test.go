package hss_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/rcmhss/rcmhss/hss"
)

func TestSubscriberValidateJoinsEveryProblem(t *testing.T) {
	s := &hss.Subscriber{
		IMSI:   "0010100000000x",
		SQN:    hss.MaxSQN + 1,
		MSISDN: "12ab",
		Status: 7,
		APNs: []hss.APNConfiguration{
			{ContextID: 1, Name: "internet", QCI: 9, ARP: hss.ARP{PriorityLevel: 8}},
			{ContextID: 1, Name: "internet", QCI: 0, ARP: hss.ARP{PriorityLevel: 16}},
		},
		DefaultContextID: 5,
	}
	err := s.Validate()
	if !errors.Is(err, hss.ErrInvalidInput) {
		t.Fatalf("err = %v", err)
	}
	for _, field := range []string{"imsi", "k", "opc", "sqn", "msisdn", "status", "apns[1].context_id", "apns[1].name", "apns[1].qci", "apns[1].arp.priority_level", "default_apn"} {
		if !strings.Contains(err.Error(), "invalid "+field+":") {
			t.Errorf("Validate does not report %s: %v", field, err)
		}
	}
}

// TestSubscriberNeverPrintsKeys: a stray %v, %+v or slog attribute of a
// subscriber must not reveal K, OP or OPc.
func TestSubscriberNeverPrintsKeys(t *testing.T) {
	op := svcKey("cdc202d5123e20f62b6d676ac72cb318")
	s := svcSubscriber()
	s.OP = &op
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("sub", "k", s.K, "subscriber", s)
	out := fmt.Sprintf("%v %+v %#v %s", *s, *s, *s, s.K) + buf.String()
	js, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	out += string(js)
	for _, k := range []hss.Key{s.K, s.OPc, op} {
		jsonBytes, _ := json.Marshal([16]byte(k))
		for _, enc := range []string{k.Hex(), strings.ToUpper(k.Hex()), fmt.Sprint([16]byte(k)), string(jsonBytes[1 : len(jsonBytes)-1])} {
			if strings.Contains(out, enc) {
				t.Fatalf("key material printed: %s", out)
			}
		}
	}
	if !strings.Contains(out, "[redacted]") {
		t.Fatalf("no redaction marker in %s", out)
	}
}
