package loadgen

import (
	"context"
	"testing"
	"time"
)

func BenchmarkTemplateAIR(b *testing.B) {
	tm := buildTemplates(Identity{OriginHost: "mme.lab", OriginRealm: "lab", DestinationRealm: "lab"}, "mme.lab;1;0;", 15, nil)
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for i := range b.N {
		buf = tm[kindAIR].appendTo(buf[:0], uint32(i), uint32(i), uint32(i), 1010000000001+uint64(i%100000), 15, 0)
	}
}

func BenchmarkParseAnswerAIA(b *testing.B) {
	bl, err := NewBaseline(BaselineConfig{Listen: []string{"tcp://127.0.0.1:0"}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	tm := buildTemplates(Identity{OriginHost: "h", OriginRealm: "r", DestinationRealm: "r"}, "h;1;1;", 15, nil)
	aia := bl.answer(nil, tm[kindAIR].msg, []byte("h;1;1;0000000001"), Result{Code: 2001})
	b.ReportAllocs()
	for range b.N {
		if _, err := ParseAnswer(aia); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	var h Histogram
	b.ReportAllocs()
	for i := range b.N {
		h.Record(time.Duration(i&0xfffff) * 100)
	}
}

// BenchmarkClosedLoopBaseline is a whole round trip over loopback TCP:
// diamload and the raw baseline in one process.
func BenchmarkClosedLoopBaseline(b *testing.B) {
	_, target := startBaseline(b, BaselineConfig{})
	b.ReportAllocs()
	b.ResetTimer()
	rep, err := Run(context.Background(), Config{Targets: []string{target}, Conns: 2, Window: 128,
		Requests: uint64(b.N), IMSIs: testRange(b, "001010000000001", 1000)}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(rep.Throughput, "answers/s")
}
