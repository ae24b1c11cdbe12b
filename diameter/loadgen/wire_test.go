package loadgen

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	diamdict "github.com/fiorix/go-diameter/v4/diam/dict"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/dict"
)

func loadDict(t testing.TB) *diamdict.Parser {
	t.Helper()
	if err := dict.Default(); err != nil {
		t.Fatal(err)
	}
	return diamdict.Default
}

// TestTemplatesDecodeStrictly encodes every request kind, patches it, and
// decodes it with rcmhss's strict decoder (every AVP length and type checked
// against the dictionary), then checks the patched fields by name.
func TestTemplatesDecodeStrictly(t *testing.T) {
	d := loadDict(t)
	id := Identity{OriginHost: "mme.lab", OriginRealm: "lab", DestinationHost: "hss.lab", DestinationRealm: "lab",
		VisitedPLMN: [3]byte{0x00, 0xf1, 0x10}}
	resync := bytes.Repeat([]byte{0xab}, 30)
	tmpls := buildTemplates(id, "mme.lab;7;3;", 15, resync)
	wantCmd := map[kind]uint32{kindAIR: cmdAIR, kindAIRResync: cmdAIR, kindULR: cmdULR, kindPUR: cmdPUR,
		kindMAR: cmdMAR, kindSAR: cmdSAR, kindECR: cmdECR}
	for k, cmd := range wantCmd {
		m := tmpls[k].appendTo(nil, 0x00050007, 0xdeadbeef, 42, 1010123456789, 15, 123456)
		msg, err := diameter.DecodeMessage(m, d)
		if err != nil {
			t.Fatalf("%s: decode: %v", k, err)
		}
		if msg.Header.CommandCode != cmd || msg.Header.HopByHopID != 0x00050007 || msg.Header.EndToEndID != 0xdeadbeef ||
			msg.Header.CommandFlags != flagRequest|flagProxiable {
			t.Fatalf("%s: header %+v", k, msg.Header)
		}
		str := func(code, vendor uint32) string {
			a, err := msg.FindAVP(code, vendor)
			if err != nil {
				t.Fatalf("%s: avp %d: %v", k, code, err)
			}
			return string(a.Data.(datatype.UTF8String))
		}
		if got := str(avp.SessionID, 0); got != "mme.lab;7;3;0000000042" {
			t.Fatalf("%s: Session-Id %q", k, got)
		}
		if got := str(avp.UserName, 0); got != "001010123456789" {
			t.Fatalf("%s: User-Name %q", k, got)
		}
		if got := string(mustFind(t, msg, avp.DestinationHost, 0).Data.(datatype.DiameterIdentity)); got != "hss.lab" {
			t.Fatalf("%s: Destination-Host %q", k, got)
		}
		switch k {
		case kindAIRResync:
			a := mustFind(t, msg, avp.ResynchronizationInfo, vendor3GPP)
			if string(a.Data.(datatype.OctetString)) != string(resync) {
				t.Fatalf("Re-Synchronization-Info %x", a.Data)
			}
		case kindAIR:
			if _, err := msg.FindAVP(avp.ResynchronizationInfo, vendor3GPP); err == nil {
				t.Fatal("plain AIR carries Re-Synchronization-Info")
			}
			if got := mustFind(t, msg, avp.VisitedPLMNID, vendor3GPP).Data.(datatype.OctetString); string(got) != "\x00\xf1\x10" {
				t.Fatalf("Visited-PLMN-Id %x", got)
			}
		case kindECR:
			if got := str(avp.IMEI, vendor3GPP); got != "35000000123456" {
				t.Fatalf("IMEI %q", got)
			}
		case kindMAR, kindSAR:
			if msg.Header.ApplicationID != appSWx {
				t.Fatalf("%s: application %d", k, msg.Header.ApplicationID)
			}
		}
	}
}

func mustFind(t *testing.T, m *diam.Message, code, vendor uint32) *diam.AVP {
	t.Helper()
	a, err := m.FindAVP(code, vendor)
	if err != nil {
		t.Fatalf("avp %d: %v", code, err)
	}
	return a
}

func TestPLMNID(t *testing.T) {
	for in, want := range map[string][3]byte{
		"00101":  {0x00, 0xf1, 0x10}, // TS 24.008 10.5.1.13: MCC 001, MNC 01
		"310410": {0x13, 0x00, 0x14}, // MCC 310, MNC 410
		"20801":  {0x02, 0xf8, 0x10},
	} {
		got, err := plmnID(in)
		if err != nil || got != want {
			t.Errorf("plmnID(%s) = %x, %v; want %x", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0010", "0010123", "00a01"} {
		if _, err := plmnID(bad); err == nil {
			t.Errorf("plmnID(%q) accepted", bad)
		}
	}
}

// goDiameterAnswer encodes an answer with go-diameter, an encoder
// independent of ours.
func goDiameterAnswer(t testing.TB, res diameter.Result) []byte {
	d := loadDict(t)
	m := diam.NewMessage(cmdAIR, flagProxiable, appS6a, 0x12345678, 0x9abcdef0, d)
	m.NewAVP(avp.SessionID, avp.Mbit, 0, datatype.UTF8String("mme;1;2;3"))
	diameter.SetResult(m, res)
	m.NewAVP(avp.AuthSessionState, avp.Mbit, 0, datatype.Enumerated(1))
	m.NewAVP(avp.OriginHost, avp.Mbit, 0, datatype.DiameterIdentity("hss"))
	b, err := m.Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseAnswerAgainstGoDiameter(t *testing.T) {
	for _, tc := range []struct {
		res  diameter.Result
		want Result
	}{
		{diameter.Success, Result{Code: 2001}},
		{diameter.Result{Code: 5001, Experimental: true, VendorID: vendor3GPP}, Result{Code: 5001, Experimental: true}},
		{diameter.Result{Code: 3002}, Result{Code: 3002}},
	} {
		a, err := ParseAnswer(goDiameterAnswer(t, tc.res))
		if err != nil {
			t.Fatal(err)
		}
		if !a.HasResult || a.Result != tc.want || a.HopByHop != 0x12345678 || a.EndToEnd != 0x9abcdef0 ||
			a.Command != cmdAIR || a.AppID != appS6a || a.IsRequest() {
			t.Fatalf("%v: parsed %+v", tc.res, a)
		}
		if tc.want.Code == 3002 && a.Flags&flagError == 0 {
			t.Fatal("3002 answer without the E bit")
		}
	}
}

func TestParseAnswerRefusesDamage(t *testing.T) {
	good := goDiameterAnswer(t, diameter.Success)
	cases := map[string][]byte{
		"short":          good[:12],
		"version 2":      append([]byte{2}, good[1:]...),
		"length too big": func() []byte { b := bytes.Clone(good); b[3] += 4; return b }(),
		"avp overruns": func() []byte {
			b := bytes.Clone(good)
			binary.BigEndian.PutUint32(b[headerLen+4:], uint32(b[headerLen+4])<<24|0xffff)
			return b
		}(),
		"truncated avp header": append(bytes.Clone(good[:len(good)-0]), 0, 0, 1, 12)[:len(good)+4],
	}
	// Fix the message length of the last case so only the AVP is wrong.
	tr := cases["truncated avp header"]
	tr[1], tr[2], tr[3] = byte(len(tr)>>16), byte(len(tr)>>8), byte(len(tr))
	for name, b := range cases {
		if _, err := ParseAnswer(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err %v, want ErrMalformed", name, err)
		}
	}
}

func FuzzParseAnswer(f *testing.F) {
	f.Add(goDiameterAnswer(f, diameter.Success))
	f.Add(goDiameterAnswer(f, diameter.Result{Code: 5001, Experimental: true, VendorID: vendor3GPP}))
	b, err := NewBaseline(BaselineConfig{Listen: []string{"tcp://127.0.0.1:0"}}, nil)
	if err != nil {
		f.Fatal(err)
	}
	tm := buildTemplates(Identity{OriginHost: "h", OriginRealm: "r", DestinationRealm: "r"}, "h;1;1;", 15, make([]byte, 30))
	f.Add(b.answer(nil, tm[kindAIR].msg, []byte("h;1;1;0000000001"), Result{Code: 2001}))
	f.Add(b.cea)
	f.Fuzz(func(t *testing.T, m []byte) {
		a, err := ParseAnswer(m)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		if a.HopByHop != binary.BigEndian.Uint32(m[12:16]) || a.Command != uint24(m[5:8]) {
			t.Fatalf("header fields %+v do not match the bytes", a)
		}
		// A message we can parse, the frame reader delimits identically.
		if len(m)%4 == 0 {
			fr := newFrameReader(bytes.NewReader(m), 4096)
			got, err := fr.next()
			if err != nil || !bytes.Equal(got, m) {
				t.Fatalf("frame reader: %v, %d bytes of %d", err, len(got), len(m))
			}
		}
	})
}

func TestFrameReader(t *testing.T) {
	a := goDiameterAnswer(t, diameter.Success)
	big := make([]byte, 8192) // larger than the reader's buffer
	copy(big, a)
	big[1], big[2], big[3] = 0, 0x20, 0
	stream := append(append(append([]byte(nil), a...), big...), a...)
	fr := newFrameReader(bytes.NewReader(stream), 4096)
	for i, want := range [][]byte{a, big, a} {
		got, err := fr.next()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("frame %d: %v (%d bytes, want %d)", i, err, len(got), len(want))
		}
	}
	if _, err := fr.next(); err == nil {
		t.Fatal("read past the end")
	}
	bad := bytes.Clone(a)
	bad[3] = 21 // not a multiple of 4
	if _, err := newFrameReader(bytes.NewReader(bad), 4096).next(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("length 21: %v", err)
	}
}
