package hss_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/rcmhss/rcmhss/hss"
)

func TestParseIMSI(t *testing.T) {
	for _, s := range []string{"001010000000001", "310410123456789", "001010"} {
		if got, err := hss.ParseIMSI(s); err != nil || string(got) != s {
			t.Errorf("ParseIMSI(%q) = %q, %v", s, got, err)
		}
	}
	for s, reason := range map[string]string{
		"":                 "6 to 15 digits",
		"00101":            "6 to 15 digits",
		"0010100000000011": "6 to 15 digits", // 16 digits (TS 23.003 2.2: at most 15)
		"00101000000000a":  "decimal digits",
		"001010 00000001":  "decimal digits",
		"+01010000000001":  "decimal digits",
	} {
		_, err := hss.ParseIMSI(s)
		var ve *hss.ValidationError
		if !errors.As(err, &ve) || ve.Field != "imsi" || !errors.Is(err, hss.ErrInvalidInput) || !strings.Contains(err.Error(), reason) {
			t.Errorf("ParseIMSI(%q): err = %v, want an imsi ValidationError about %q", s, err, reason)
		}
	}
}

func TestParseKey(t *testing.T) {
	k, err := hss.ParseKey("465B5CE8B199B49FAA5F0A2EE238A6BC")
	if err != nil || k.Hex() != "465b5ce8b199b49faa5f0a2ee238a6bc" {
		t.Fatalf("ParseKey upper case: %v %v", k.Hex(), err)
	}
	for s, want := range map[string]string{
		"465b5ce8b199b49faa5f0a2ee238a6b":    "not hex",  // odd length
		"465b5ce8b199b49faa5f0a2ee238a6bg":   "not hex",  // non-hex digit
		"465b5ce8b199b49faa5f0a2ee238a6":     "16 bytes", // 15 bytes
		"465b5ce8b199b49faa5f0a2ee238a6bc00": "16 bytes", // 17 bytes
		"":                                   "16 bytes",
	} {
		_, err := hss.ParseKey(s)
		if !errors.Is(err, hss.ErrInvalidInput) || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseKey(%q): err = %v, want ErrInvalidInput mentioning %q", s, err, want)
		}
		if err != nil && len(s) >= 8 && strings.Contains(err.Error(), s[:8]) {
			t.Errorf("ParseKey(%q): error echoes the key material", s)
		}
	}
}

// TestPLMNEncoding checks the Visited-PLMN-Id octets of TS 24.008 10.5.1.13
// (MCC digit 2|1, MNC digit 3|MCC digit 3, MNC digit 2|1; 0xF for a 2-digit MNC).
func TestPLMNEncoding(t *testing.T) {
	for _, tc := range []struct {
		s    string
		wire []byte
	}{
		{"00101", []byte{0x00, 0xf1, 0x10}},
		{"310410", []byte{0x13, 0x00, 0x14}},
		{"23415", []byte{0x32, 0xf4, 0x51}},
		{"208930", []byte{0x02, 0x08, 0x39}},
	} {
		p, err := hss.PLMNFromString(tc.s)
		if err != nil || !bytes.Equal(p.Bytes(), tc.wire) {
			t.Errorf("PLMNFromString(%q) = %x, %v; want %x", tc.s, p.Bytes(), err, tc.wire)
		}
		q, err := hss.PLMNFromBytes(tc.wire)
		if err != nil || q != p || q.String() != tc.s {
			t.Errorf("PLMNFromBytes(%x) = %v (%q), %v", tc.wire, q, q.String(), err)
		}
	}
	for _, b := range [][]byte{{0x00, 0xf1}, {0x00, 0xf1, 0x10, 0x00}, {0xa0, 0xf1, 0x10}, {0x00, 0xf1, 0x1f}} {
		if _, err := hss.PLMNFromBytes(b); !errors.Is(err, hss.ErrInvalidInput) {
			t.Errorf("PLMNFromBytes(%x): err = %v, want ErrInvalidInput", b, err)
		}
	}
	for _, s := range []string{"0010", "0010123", "00a01"} {
		if _, err := hss.PLMNFromString(s); !errors.Is(err, hss.ErrInvalidInput) {
			t.Errorf("PLMNFromString(%q): err = %v", s, err)
		}
	}
}

// TestTBCD checks TBCD-STRING (TS 29.002): low nibble first, 0xF filler.
func TestTBCD(t *testing.T) {
	for _, tc := range []struct {
		digits string
		wire   []byte
	}{
		{"15551234567", []byte{0x51, 0x55, 0x21, 0x43, 0x65, 0xf7}},
		{"1234", []byte{0x21, 0x43}},
		{"", []byte{}},
	} {
		if tc.digits != "" {
			got, err := hss.EncodeTBCD(tc.digits)
			if err != nil || !bytes.Equal(got, tc.wire) {
				t.Errorf("EncodeTBCD(%q) = %x, %v; want %x", tc.digits, got, err, tc.wire)
			}
		}
		back, err := hss.DecodeTBCD(tc.wire)
		if err != nil || back != tc.digits {
			t.Errorf("DecodeTBCD(%x) = %q, %v", tc.wire, back, err)
		}
	}
	if got := hss.MSISDN("15551234567").TBCD(); !bytes.Equal(got, []byte{0x51, 0x55, 0x21, 0x43, 0x65, 0xf7}) {
		t.Errorf("MSISDN.TBCD = %x", got)
	}
	for _, b := range [][]byte{{0xf1, 0x21}, {0x1a}, {0xff}} {
		if _, err := hss.DecodeTBCD(b); !errors.Is(err, hss.ErrInvalidInput) {
			t.Errorf("DecodeTBCD(%x): err = %v, want ErrInvalidInput", b, err)
		}
	}
	if _, err := hss.EncodeTBCD("12a4"); !errors.Is(err, hss.ErrInvalidInput) {
		t.Errorf("EncodeTBCD of a non-digit: %v", err)
	}
}

func TestIMSIMaskedAndHomePLMN(t *testing.T) {
	if got := hss.IMSI("001010123456789").Masked(); got != "00101********89" {
		t.Errorf("Masked = %q", got)
	}
	p, err := hss.IMSI("310410123456789").HomePLMN(3)
	if err != nil || p.String() != "310410" {
		t.Errorf("HomePLMN(3) = %v, %v", p, err)
	}
	if _, err := hss.IMSI("310410123456789").HomePLMN(4); !errors.Is(err, hss.ErrInvalidInput) {
		t.Errorf("HomePLMN(4): %v", err)
	}
}
