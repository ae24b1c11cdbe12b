package hss_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/rcmhss/rcmhss/hss"
)

const testKEKHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

func testSealer(t *testing.T, kekHex string) *hss.KeySealer {
	t.Helper()
	kek, err := hss.ParseKEK(kekHex)
	if err != nil {
		t.Fatal(err)
	}
	s, err := hss.NewKeySealer(kek)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TS 35.208 test set 1 K, used as an arbitrary key.
var testK = hss.Key{0x46, 0x5b, 0x5c, 0xe8, 0xb1, 0x99, 0xb4, 0x9f, 0xaa, 0x5f, 0x0a, 0x2e, 0xe2, 0x38, 0xa6, 0xbc}

// TestOpenGolden pins the at-rest format: records written today must open in
// every later version. id 0x01 || nonce || AES-256-GCM(K, AAD "rcmhss-key" ||
// 0x01 || imsi || 0x00 || field).
func TestOpenGolden(t *testing.T) {
	sealed, _ := hex.DecodeString("01cafebabefacedbaddecaf888ccf8fcce1be3fb84ec5457f399252f83dae3fbb33f094050432720985c85a825")
	k, err := testSealer(t, testKEKHex).Open("001010123456789", hss.FieldK, sealed)
	if err != nil {
		t.Fatalf("Open golden record: %v", err)
	}
	if k != testK {
		t.Fatal("golden record opened to a different key")
	}
	plain := append([]byte{0x00}, testK[:]...)
	if k, err := hss.NewPlaintextSealer().Open("001010123456789", hss.FieldK, plain); err != nil || k != testK {
		t.Fatalf("plaintext golden record: %v", err)
	}
}

func TestSealRoundTrip(t *testing.T) {
	s := testSealer(t, testKEKHex)
	a := s.Seal("001010123456789", hss.FieldOPc, testK)
	b := s.Seal("001010123456789", hss.FieldOPc, testK)
	if bytes.Equal(a, b) {
		t.Error("two seals of the same key are identical: nonce not random")
	}
	if bytes.Contains(a, testK[:]) {
		t.Error("sealed record contains the key in the clear")
	}
	if len(a) != 45 || a[0] != 0x01 {
		t.Errorf("sealed record: %d bytes, id %#x; want 45 bytes, id 0x01", len(a), a[0])
	}
	for _, rec := range [][]byte{a, b} {
		k, err := s.Open("001010123456789", hss.FieldOPc, rec)
		if err != nil || k != testK {
			t.Fatalf("Open: %v", err)
		}
	}
	if !s.Encrypted() || hss.NewPlaintextSealer().Encrypted() {
		t.Error("Encrypted() wrong")
	}
}

func TestOpenRefuses(t *testing.T) {
	s := testSealer(t, testKEKHex)
	other := testSealer(t, strings.Repeat("ff", 32))
	plain := hss.NewPlaintextSealer()
	const imsi = hss.IMSI("001010123456789")
	sealed := s.Seal(imsi, hss.FieldK, testK)
	tampered := bytes.Clone(sealed)
	tampered[20] ^= 1

	cases := []struct {
		name   string
		sealer *hss.KeySealer
		imsi   hss.IMSI
		field  string
		rec    []byte
		want   error
	}{
		{"other imsi", s, "001010123456780", hss.FieldK, sealed, hss.ErrSealBroken},
		{"other field", s, imsi, hss.FieldOPc, sealed, hss.ErrSealBroken},
		{"wrong kek", other, imsi, hss.FieldK, sealed, hss.ErrSealBroken},
		{"tampered", s, imsi, hss.FieldK, tampered, hss.ErrSealBroken},
		{"truncated", s, imsi, hss.FieldK, sealed[:30], hss.ErrSealBroken},
		{"empty", s, imsi, hss.FieldK, nil, hss.ErrSealBroken},
		{"plaintext record with kek", s, imsi, hss.FieldK, plain.Seal(imsi, hss.FieldK, testK), hss.ErrSealMismatch},
		{"encrypted record without kek", plain, imsi, hss.FieldK, sealed, hss.ErrSealMismatch},
		{"unknown key id", s, imsi, hss.FieldK, append([]byte{0x07}, sealed[1:]...), hss.ErrSealMismatch},
		{"plaintext wrong length", plain, imsi, hss.FieldK, []byte{0, 1, 2}, hss.ErrSealBroken},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k, err := c.sealer.Open(c.imsi, c.field, c.rec)
			if !errors.Is(err, c.want) {
				t.Fatalf("Open: %v, want %v", err, c.want)
			}
			if !k.IsZero() {
				t.Error("a refused Open returned key bytes")
			}
			msg := err.Error()
			if strings.Contains(msg, testK.Hex()) || (len(c.rec) > 0 && strings.Contains(msg, hex.EncodeToString(c.rec))) {
				t.Errorf("error carries key material: %s", msg)
			}
		})
	}
}

func TestPlaintextSealerMarksRecords(t *testing.T) {
	rec := hss.NewPlaintextSealer().Seal("001010123456789", hss.FieldK, testK)
	if len(rec) != 17 || rec[0] != 0x00 || !bytes.Equal(rec[1:], testK[:]) {
		t.Errorf("plaintext record = %d bytes, marker %#x", len(rec), rec[0])
	}
}

func TestParseKEK(t *testing.T) {
	raw, _ := hex.DecodeString(testKEKHex)
	for _, in := range []string{
		testKEKHex,
		strings.ToUpper(testKEKHex),
		" " + testKEKHex + "\n",
		base64.StdEncoding.EncodeToString(raw),
		base64.RawStdEncoding.EncodeToString(raw),
		base64.URLEncoding.EncodeToString(raw),
		base64.RawURLEncoding.EncodeToString(raw),
	} {
		got, err := hss.ParseKEK(in)
		if err != nil || !bytes.Equal(got, raw) {
			t.Errorf("ParseKEK(%q) = %x, %v", in, got, err)
		}
	}
	for _, in := range []string{"", testKEKHex[:62], base64.StdEncoding.EncodeToString(raw[:16]), "zz" + testKEKHex[2:], strings.Repeat("!", 44)} {
		_, err := hss.ParseKEK(in)
		if !errors.Is(err, hss.ErrInvalidInput) {
			t.Errorf("ParseKEK(%q): %v, want ErrInvalidInput", in, err)
			continue
		}
		if in != "" && strings.Contains(err.Error(), in) {
			t.Errorf("error echoes the secret: %v", err)
		}
	}
	if _, err := hss.NewKeySealer(raw[:16]); !errors.Is(err, hss.ErrInvalidInput) {
		t.Errorf("NewKeySealer(16 bytes): %v, want ErrInvalidInput", err)
	}
}
