package s13

import (
	"context"
	"testing"

	diamdict "github.com/fiorix/go-diameter/v4/diam/dict"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/hss/memstore"
)

// BenchmarkECR measures one ECR through the handler on the embedded EIR
// lists (decode, three lookups, answer), without the transport.
func BenchmarkECR(b *testing.B) {
	store := memstore.NewEIR()
	for _, e := range lists {
		if err := store.PutEIREntry(context.Background(), e); err != nil {
			b.Fatal(err)
		}
	}
	eir, err := hss.NewEIR(hss.EIRConfig{}, store, nil)
	if err != nil {
		b.Fatal(err)
	}
	p := New(eir, nil)
	raw, err := ecrIMEI("35000000000150").Serialize()
	if err != nil {
		b.Fatal(err)
	}
	in, err := diameter.DecodeMessage(raw, diamdict.Default)
	if err != nil {
		b.Fatal(err)
	}
	r := &diameter.Request{Msg: in}
	b.ReportAllocs()
	for b.Loop() {
		ans := p.serveECR(context.Background(), r)
		if res, _ := diameter.ResultOf(ans); res != diameter.Success {
			b.Fatalf("result %s", res)
		}
	}
}
