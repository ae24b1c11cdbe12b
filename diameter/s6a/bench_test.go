package s6a

import (
	"testing"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/hss"
)

// BenchmarkDecodeAIR measures the AIR decoder on a message as the server
// hands it over (wire decoding is the server's and is not counted).
func BenchmarkDecodeAIR(b *testing.B) {
	m := wire(b, airRequest(testIMSI, 3))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeAIR(m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuildAIA measures building a complete AIA with 3 E-UTRAN vectors
// and serializing it, as the server writes it.
func BenchmarkBuildAIA(b *testing.B) {
	req := wire(b, airRequest(testIMSI, 3))
	m := hss.NewMilenage(testK, testOPc)
	plmn := hss.PLMN([]byte(homePLMN))
	info := hss.AuthInfo{EUTRAN: []hss.EUTRANVector{
		m.EUTRANVector([16]byte{1}, 33, testAMF, plmn),
		m.EUTRANVector([16]byte{2}, 65, testAMF, plmn),
		m.EUTRANVector([16]byte{3}, 97, testAMF, plmn),
	}}
	b.ReportAllocs()
	for b.Loop() {
		a := diameter.NewAnswer(req, diameter.Success)
		addAppAVPs(a)
		appendAuthenticationInfo(a, &info)
		if _, err := a.Serialize(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkServeAIR measures the AIR handler end to end on the embedded
// store: decode, one SQN reservation, Milenage and KASME for 3 vectors,
// building the AIA.
func BenchmarkServeAIR(b *testing.B) {
	h := newHSS(b)
	provision(b, h, testSubscriber(testIMSI))
	p := New(testConfig(), h, nil, nil)
	req := &diameter.Request{Msg: wire(b, airRequest(testIMSI, 3)), Peer: diameter.PeerInfo{OriginHost: mme1}}
	handler := p.Commands()[cmdAuthenticationInfo]
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		ans := handler.ServeDiameter(ctx, req)
		if r, _ := diameter.ResultOf(ans); r != diameter.Success {
			b.Fatalf("result %s", r)
		}
	}
}
