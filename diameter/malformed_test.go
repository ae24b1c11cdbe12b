package diameter_test

import (
	"context"
	"encoding/binary"
	"log/slog"
	"strings"
	"testing"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"

	"github.com/rcmhss/rcmhss/diameter"
)

// withAppended returns the bytes of m followed by raw AVP bytes, with the
// header's Message Length covering them.
func withAppended(t *testing.T, m *diam.Message, extra []byte) []byte {
	t.Helper()
	b, err := m.Serialize()
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, extra...)
	setLength(b, len(b))
	return b
}

func setLength(b []byte, n int) {
	b[1], b[2], b[3] = byte(n>>16), byte(n>>8), byte(n)
}

// avpBytes is an AVP header announcing length with the given payload (which
// may disagree with it), padded to 32 bits.
func avpBytes(code uint32, flags uint8, length int, payload []byte) []byte {
	b := make([]byte, 8, 8+len(payload)+3)
	binary.BigEndian.PutUint32(b[0:4], code)
	b[4] = flags
	b[5], b[6], b[7] = byte(length>>16), byte(length>>8), byte(length)
	b = append(b, payload...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func TestMalformedMessages(t *testing.T) {
	release := make(chan struct{})
	app := &testApp{air: func(ctx context.Context, req *diameter.Request) *diam.Message {
		if un, _ := req.Msg.FindAVP(avp.UserName, 0); un != nil && un.Data.String() == "UTF8String{block},Padding:3" {
			<-release
		}
		return diameter.NewAnswer(req.Msg, diameter.Success)
	}}
	f := startServer(t, nil, app)
	p := s6aPeer(t, f, "mme1.test")
	bystander := s6aPeer(t, f, "mme2.test")

	// A request in flight on another connection must survive everything
	// below.
	blocked := air(bystander)
	blocked.DeleteAVP(avp.UserName, 0)
	blocked.NewAVP(avp.UserName, avp.Mbit, 0, datatype.UTF8String("block"))
	inflight := make(chan *diam.Message, 1)
	go func() {
		ans, _ := bystander.Do(context.Background(), blocked)
		inflight <- ans
	}()
	waitFor(t, func() bool { return app.calls.Load() == 1 })

	t.Run("recoverable", func(t *testing.T) {
		// Vendor-Specific-Application-Id (260) is Grouped in the dictionary.
		innerTooShort := avpBytes(avp.VendorID, avp.Mbit, 4, nil)
		cases := []struct {
			name   string
			extra  []byte
			failed uint32
		}{
			{"avp longer than the message", avpBytes(avp.UserName, avp.Mbit, 100, []byte("0010")), avp.UserName},
			{"avp length below its header", avpBytes(avp.UserName, avp.Mbit, 5, nil), avp.UserName},
			{"enumerated with 3 octets", avpBytes(avp.AuthSessionState, avp.Mbit, 11, []byte{0, 0, 1}), avp.AuthSessionState},
			{"grouped with a truncated inner avp", avpBytes(avp.VendorSpecificApplicationID, avp.Mbit, 8+len(innerTooShort), innerTooShort), avp.VendorSpecificApplicationID},
			{"truncated avp header at the end", []byte{0, 0, 1, 1}, 257},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				req := air(p)
				req.Header.HopByHopID = uint32(len(tc.name)) << 24
				ans, err := p.DoRaw(ctxT(t), withAppended(t, req, tc.extra))
				if err != nil {
					t.Fatal(err)
				}
				if got := resultCode(t, ans); got != diameter.CodeInvalidAVPLength {
					t.Fatalf("result %d, want 5014", got)
				}
				if fa := failedAVPCode(t, ans); fa.Code != tc.failed {
					t.Fatalf("Failed-AVP holds %d, want %d", fa.Code, tc.failed)
				}
				if sid, _ := ans.FindAVP(avp.SessionID, 0); sid == nil {
					t.Fatal("Session-Id not echoed")
				}
				// The connection is still in sync.
				if ans, err := p.Do(ctxT(t), air(p)); err != nil || resultCode(t, ans) != 2001 {
					t.Fatalf("next request on the same connection: %v %v", ans, err)
				}
			})
		}
	})

	t.Run("fatal", func(t *testing.T) {
		cases := []struct {
			name   string
			mangle func([]byte) []byte
			code   uint32
		}{
			{"length not a multiple of 4", func(b []byte) []byte { setLength(b, len(b)+2); return b }, diameter.CodeInvalidMessageLength},
			{"length shorter than the header", func(b []byte) []byte { setLength(b, 12); return b }, diameter.CodeInvalidMessageLength},
			{"length beyond the maximum", func(b []byte) []byte { setLength(b, 1<<23); return b }, diameter.CodeInvalidMessageLength},
			{"version 2", func(b []byte) []byte { b[0] = 2; return b }, diameter.CodeUnsupportedVersion},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				victim := s6aPeer(t, f, "victim.test")
				b, err := air(victim).Serialize()
				if err != nil {
					t.Fatal(err)
				}
				ans, err := victim.DoRaw(ctxT(t), tc.mangle(b))
				if err != nil {
					t.Fatal(err)
				}
				if got := resultCode(t, ans); got != tc.code {
					t.Fatalf("result %d, want %d", got, tc.code)
				}
				waitClosed(t, victim)
			})
		}
		t.Run("connection closed mid-frame", func(t *testing.T) {
			victim := s6aPeer(t, f, "victim.test")
			hdr := make([]byte, 20)
			hdr[0], hdr[4] = 1, diam.RequestFlag
			setLength(hdr, 1000)
			victim.Raw().Write(append(hdr, make([]byte, 40)...))
			victim.Close()
		})
	})

	if ans, err := bystander.Do(ctxT(t), air(bystander)); err != nil || resultCode(t, ans) != 2001 {
		t.Fatalf("other connection after malformed input: %v %v", ans, err)
	}
	close(release)
	if ans := <-inflight; ans == nil || resultCode(t, ans) != 2001 {
		t.Fatalf("in-flight request on another connection: %v", ans)
	}
}

func TestPanickingHandlerAnswered5012(t *testing.T) {
	app := &testApp{air: func(ctx context.Context, req *diameter.Request) *diam.Message { panic("boom") }}
	f := startServer(t, nil, app)
	p := s6aPeer(t, f, "mme1.test")
	for range 2 {
		ans, err := p.Do(ctxT(t), air(p))
		if err != nil {
			t.Fatal(err)
		}
		if got := resultCode(t, ans); got != diameter.CodeUnableToComply {
			t.Fatalf("result %d, want 5012", got)
		}
	}
}

func TestHandlerPanicLogCarriesNoRequestData(t *testing.T) {
	logs := &syncBuffer{}
	srv, err := diameter.NewServer(diameter.Config{
		Listen: []string{"tcp://127.0.0.1:0"}, OriginHost: testHost, OriginRealm: realm, AllowLoopback: true,
	}, diameter.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	srv.Register(&testApp{air: func(ctx context.Context, req *diameter.Request) *diam.Message {
		un, _ := req.Msg.FindAVP(avp.UserName, 0)
		panic("cannot serve " + un.Data.String())
	}})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	p := s6aPeer(t, &fixture{srv: srv, addr: srv.Addrs()[0].String()}, "mme1.test")
	ans, err := p.Do(ctxT(t), air(p))
	if err != nil || resultCode(t, ans) != diameter.CodeUnableToComply {
		t.Fatalf("answer %v %v", ans, err)
	}
	l := logs.String()
	if !strings.Contains(l, "handler panic") {
		t.Fatalf("panic not logged:\n%s", l)
	}
	if strings.Contains(l, "001010000000001") {
		t.Fatalf("panic log carries the IMSI:\n%s", l)
	}
}
