package rcm

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/rcmhss/rcmhss/hss"
)

func h(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(err)
	}
	return b
}

func TestDecodeCertChain(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want [][]byte // nil: ErrMalformedBootstrap
	}{
		{"one", h("00000003 616263"), [][]byte{[]byte("abc")}},
		{"two", h("00000001 61  00000002 6263"), [][]byte{[]byte("a"), []byte("bc")}},
		{"four", h("00000001 61 00000001 62 00000001 63 00000001 64"), [][]byte{{'a'}, {'b'}, {'c'}, {'d'}}},
		{"five: too many", h("00000001 61 00000001 62 00000001 63 00000001 64 00000001 65"), nil},
		{"empty payload", nil, nil},
		{"zero-length certificate", h("00000000"), nil},
		{"length over 8192", h("00002001"), nil},
		{"truncated length", h("000000"), nil},
		{"truncated certificate", h("00000004 616263"), nil},
		{"trailing byte", h("00000003 616263 00"), nil},
		{"length wraps", h("ffffffff 61"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeCertChain(tt.in)
			if tt.want == nil {
				if !errors.Is(err, ErrMalformedBootstrap) {
					t.Fatalf("err = %v, want ErrMalformedBootstrap", err)
				}
				return
			}
			if err != nil || len(got) != len(tt.want) {
				t.Fatalf("DecodeCertChain = %q, %v", got, err)
			}
			for i := range got {
				if !bytes.Equal(got[i], tt.want[i]) {
					t.Fatalf("cert %d = %q, want %q", i, got[i], tt.want[i])
				}
			}
			re, err := EncodeCertChain(got)
			if err != nil || !bytes.Equal(re, tt.in) {
				t.Fatalf("EncodeCertChain = %x, %v; want %x", re, err, tt.in)
			}
		})
	}
	for _, bad := range [][][]byte{nil, {{}}, {make([]byte, MaxCertSize+1)}, {{1}, {2}, {3}, {4}, {5}}} {
		if _, err := EncodeCertChain(bad); !errors.Is(err, ErrMalformedBootstrap) {
			t.Errorf("EncodeCertChain(%d certs) err = %v", len(bad), err)
		}
	}
}

func TestDecodeEphemeralKey(t *testing.T) {
	k, _ := ecdh.P256().GenerateKey(rand.Reader)
	good := k.PublicKey().Bytes()
	if pk, err := DecodeEphemeralKey(good); err != nil || !bytes.Equal(pk.Bytes(), good) {
		t.Fatalf("valid point: %v", err)
	}
	compressed := append([]byte{2 + good[64]&1}, good[1:33]...)
	offCurve := bytes.Clone(good)
	offCurve[64] ^= 1
	for name, b := range map[string][]byte{
		"compressed (SEC 1 2.3.3 form not accepted)": compressed,
		"off the curve": offCurve,
		"infinity":      {0},
		"short":         good[:64],
		"long":          append(bytes.Clone(good), 0),
		"wrong prefix":  append([]byte{6}, good[1:]...),
		"empty":         nil,
	} {
		if _, err := DecodeEphemeralKey(b); !errors.Is(err, ErrMalformedBootstrap) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestTimestampPayload(t *testing.T) {
	// 2026-01-01T00:00:00Z, Unsigned64 big-endian (RFC 6733 4.2).
	if got := EncodeTimestamp(1767225600); !bytes.Equal(got, h("00000000 6955b900")) {
		t.Fatalf("EncodeTimestamp = %x", got)
	}
	if ts, err := DecodeTimestamp(h("00000000 6955b900")); err != nil || ts != 1767225600 {
		t.Fatalf("DecodeTimestamp = %d, %v", ts, err)
	}
	for _, b := range [][]byte{nil, h("6955b900"), h("00 00000000 6955b900")} {
		if _, err := DecodeTimestamp(b); !errors.Is(err, ErrMalformedBootstrap) {
			t.Errorf("DecodeTimestamp(%x) err = %v", b, err)
		}
	}
}

// TestTranscriptLayout pins the transcript bytes field by field (annotated),
// independently of the vector in docs/rcm-crypto.md.
func TestTranscriptLayout(t *testing.T) {
	plmn, _ := hss.PLMNFromString("310410")
	eph := append([]byte{4}, bytes.Repeat([]byte{0x11}, 64)...)
	b := Bootstrap{ConnectionType: ConnectionProvisioning, IMEI: "356938035643809",
		CertChain: [][]byte{[]byte("x")}, DeviceEphemeral: eph, Timestamp: 0x0102030405060708}
	want := bytes.Join([][]byte{
		h("00000013"), []byte("rcmhss-bootstrap-v1"), // label
		h("00000006"), []byte("310410"), // guest IMSI, ASCII
		h("00000003 130014"),                     // Visited-PLMN-Id of 310/410 (TS 24.008 10.5.1.13)
		h("00000004 00000001"),                   // PROVISIONING
		h("0000000f"), []byte("356938035643809"), // IMEI, ASCII
		h("00000020 2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"), // SHA-256("x")
		h("00000041"), eph, // device ephemeral point
		h("00000008 0102030405060708"), // timestamp
	}, nil)
	got := Transcript("310410", plmn, &b)
	if !bytes.Equal(got, want) {
		t.Fatalf("transcript\n got %x\nwant %x", got, want)
	}
}
