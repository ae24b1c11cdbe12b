package diameter

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	diamdict "github.com/fiorix/go-diameter/v4/diam/dict"
)

func seedAIR(t testing.TB) []byte {
	m := diam.NewMessage(318, diam.RequestFlag|diam.ProxiableFlag, 16777251, 1, 2, diamdict.Default)
	m.NewAVP(avp.SessionID, avp.Mbit, 0, datatype.UTF8String("mme;1;2"))
	m.NewAVP(avp.AuthSessionState, avp.Mbit, 0, datatype.Enumerated(1))
	m.NewAVP(avp.OriginHost, avp.Mbit, 0, datatype.DiameterIdentity("mme.test"))
	m.NewAVP(avp.OriginRealm, avp.Mbit, 0, datatype.DiameterIdentity("test"))
	m.NewAVP(avp.DestinationRealm, avp.Mbit, 0, datatype.DiameterIdentity("test"))
	m.NewAVP(avp.UserName, avp.Mbit, 0, datatype.UTF8String("001010000000001"))
	m.NewAVP(avp.VisitedPLMNID, avp.Mbit, 10415, datatype.OctetString([]byte{0, 0xf1, 0x10}))
	m.NewAVP(avp.VendorSpecificApplicationID, avp.Mbit, 0, &diam.GroupedAVP{AVP: []*diam.AVP{
		diam.NewAVP(avp.VendorID, avp.Mbit, 0, datatype.Unsigned32(10415)),
		diam.NewAVP(avp.AuthApplicationID, avp.Mbit, 0, datatype.Unsigned32(16777251)),
	}})
	m.NewAVP(avp.HostIPAddress, avp.Mbit, 0, datatype.Address([]byte{127, 0, 0, 1}))
	b, err := m.Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzReadMessage feeds arbitrary bytes to the frame reader and decoder:
// whatever comes in, they return a message or an error (never panic), a
// decoded message re-serializes, and a ProtocolError carries an RFC 6733
// code and a serializable Failed-AVP.
func FuzzReadMessage(f *testing.F) {
	good := seedAIR(f)
	f.Add(good)
	f.Add(good[:20])
	f.Add(append(append([]byte(nil), good...), 0, 0, 1, 1))
	trunc := append([]byte(nil), good...)
	trunc[len(trunc)-5] = 0xff // last AVP claims more than there is
	f.Add(trunc)
	f.Add([]byte{1, 0, 0, 12, 0x80, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1})
	d := diamdict.Default
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReader(bytes.NewReader(data))
		var buf []byte
		for range 4 {
			frame, err := readFrame(r, buf)
			if err != nil {
				var perr *ProtocolError
				if errors.As(err, &perr) && (perr.Header == nil || !perr.Fatal) {
					t.Fatalf("framing error without header or not fatal: %+v", perr)
				}
				if !errors.As(err, &perr) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			m, err := DecodeMessage(frame, d)
			if err != nil {
				var perr *ProtocolError
				if !errors.As(err, &perr) {
					t.Fatalf("decode error is not a ProtocolError: %v", err)
				}
				if strings.HasPrefix(perr.Reason, "avp decoder panic") {
					t.Fatalf("validation let through what go-diameter panics on: %s", perr.Reason)
				}
				switch perr.Result.Code {
				case CodeInvalidAVPLength, CodeInvalidAVPValue, CodeInvalidMessageLength, CodeUnsupportedVersion:
				default:
					t.Fatalf("unexpected code %d", perr.Result.Code)
				}
				if perr.Failed != nil {
					a := diam.NewMessage(1, 0, 0, 0, 0, d)
					a.AddAVP(diam.NewAVP(avp.FailedAVP, avp.Mbit, 0, &diam.GroupedAVP{AVP: []*diam.AVP{perr.Failed}}))
					if _, err := a.Serialize(); err != nil {
						t.Fatalf("Failed-AVP does not serialize: %v", err)
					}
				}
				continue
			}
			if _, err := m.Serialize(); err != nil {
				t.Fatalf("decoded message does not serialize: %v", err)
			}
			buf = frame[:0]
		}
	})
}

// TestDecodeMessageGolden pins the decoder on annotated bytes.
func TestDecodeMessageGolden(t *testing.T) {
	b := []byte{
		0x01, 0x00, 0x00, 0x2c, // version 1, length 44
		0x80, 0x00, 0x01, 0x18, // R bit, command 280 (DWR)
		0x00, 0x00, 0x00, 0x00, // application 0
		0x00, 0x00, 0x00, 0x07, // hop-by-hop 7
		0x00, 0x00, 0x00, 0x09, // end-to-end 9
		0x00, 0x00, 0x01, 0x08, 0x40, 0x00, 0x00, 0x0b, 'm', 'm', 'e', 0x00, // Origin-Host "mme" (len 11, 1 pad)
		0x00, 0x00, 0x01, 0x28, 0x40, 0x00, 0x00, 0x0a, 'e', 'p', 0x00, 0x00, // Origin-Realm "ep" (len 10, 2 pad)
	}
	m, err := DecodeMessage(b, diamdict.Default)
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.CommandCode != 280 || m.Header.HopByHopID != 7 || m.Header.EndToEndID != 9 || len(m.AVP) != 2 {
		t.Fatalf("decoded %v", m)
	}
	if got := identity(m.AVP[0]); got != "mme" {
		t.Fatalf("Origin-Host %q", got)
	}
	back, err := m.Serialize()
	if err != nil || !bytes.Equal(back, b) {
		t.Fatalf("re-encoded % x, want % x (%v)", back, b, err)
	}
	// The same message with Origin-Realm claiming 16 bytes: 5014 naming it.
	bad := append([]byte(nil), b...)
	bad[39] = 0x10
	_, err = DecodeMessage(bad, diamdict.Default)
	var perr *ProtocolError
	if !errors.As(err, &perr) || perr.Result.Code != CodeInvalidAVPLength || perr.Failed == nil || perr.Failed.Code != avp.OriginRealm {
		t.Fatalf("decode of overlong AVP: %v", err)
	}
}

// BenchmarkDecodeMessage measures validation plus decoding of an AIR-like
// request.
func BenchmarkDecodeMessage(b *testing.B) {
	frame := seedAIR(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeMessage(frame, diamdict.Default); err != nil {
			b.Fatal(err)
		}
	}
}
