package memstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/hss/memstore"
)

// TestSmoke exercises the common path; the full behaviour is checked by the
// conformance suite (conformance_test.go).
func TestSmoke(t *testing.T) {
	ctx := context.Background()
	st := memstore.New(hss.NewPlaintextSealer())
	sub := &hss.Subscriber{IMSI: "001010000000001", K: hss.Key{1}, OPc: hss.Key{2}, AMF: [2]byte{0x80, 0}, SQN: 32}
	if err := st.CreateSubscriber(ctx, sub); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSubscriber(ctx, sub); !errors.Is(err, hss.ErrSubscriberExists) {
		t.Fatalf("second create: %v, want ErrSubscriberExists", err)
	}
	res, err := st.ReserveSQN(ctx, sub.IMSI, "mme1", 3, 5)
	if err != nil {
		t.Fatal(err)
	}
	if res.FirstSEQ != 2 || res.IND != 0 || res.Material.K != sub.K || res.Material.OPc != sub.OPc {
		t.Fatalf("reservation %+v", res)
	}
	got, err := st.GetSubscriber(ctx, sub.IMSI)
	if err != nil {
		t.Fatal(err)
	}
	if got.SQN != 4<<5 {
		t.Fatalf("SQN_HE = %d, want %d", got.SQN, 4<<5)
	}
}
