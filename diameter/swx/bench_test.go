package swx

import (
	"context"
	"testing"

	"github.com/fiorix/go-diameter/v4/diam"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/hss/memstore"
)

// benchMAR measures one MAR through the handler (decode, SQN reservation
// on the embedded store, Milenage, KDF for EAP-AKA', answer), without the
// transport.
func benchMAR(b *testing.B, req *diam.Message) {
	store := memstore.New(hss.NewPlaintextSealer())
	h, err := hss.New(hss.DefaultConfig(), store)
	if err != nil {
		b.Fatal(err)
	}
	if err := h.CreateSubscriber(context.Background(), testSubscriber(testIMSI)); err != nil {
		b.Fatal(err)
	}
	p := New(Config{OriginHost: hssHost, OriginRealm: hssRealm}, h, nil, nil)
	in := wire(b, req)
	r := &diameter.Request{Msg: in, Peer: diameter.PeerInfo{OriginHost: aaa1, OriginRealm: aaaRealm}}
	handler := p.Commands()[cmdMultimediaAuth]
	b.ReportAllocs()
	for b.Loop() {
		ans := handler.ServeDiameter(context.Background(), r)
		if res, _ := diameter.ResultOf(ans); res != diameter.Success {
			b.Fatalf("result %s", res)
		}
	}
}

func BenchmarkMAREAPAKA(b *testing.B) {
	benchMAR(b, marRequest(aaa1, naiAKA, SchemeEAPAKA, 1, ""))
}

func BenchmarkMAREAPAKAPrime(b *testing.B) {
	benchMAR(b, marRequest(aaa1, naiAKAPri, SchemeEAPAKAPrime, 1, wlanANID))
}

func BenchmarkDecodeMAR(b *testing.B) {
	in := wire(b, marRequest(aaa1, naiAKAPri, SchemeEAPAKAPrime, 1, wlanANID))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeMAR(in); err != nil {
			b.Fatal(err)
		}
	}
}
