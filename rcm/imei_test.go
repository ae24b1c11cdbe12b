package rcm

import (
	"errors"
	"testing"
)

func TestParseIMEI(t *testing.T) {
	// 490154203237518 is the common worked example of the IMEI check digit
	// (TS 23.003 Annex B computation gives 8); 356938035643809 another.
	tests := []struct {
		in   string
		ok   bool
		name string
	}{
		{"490154203237518", true, "worked example"},
		{"356938035643809", true, "Luhn example"},
		{"490154203237517", false, "wrong check digit"},
		{"49015420323751", false, "14 digits"},
		{"4901542032375180", false, "16 digits"},
		{"49015420323751a", false, "letter"},
		{"", false, "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseIMEI(tt.in)
			if tt.ok {
				if err != nil || string(got) != tt.in {
					t.Fatalf("ParseIMEI(%q) = %q, %v", tt.in, got, err)
				}
				return
			}
			if !errors.Is(err, ErrMalformedBootstrap) {
				t.Fatalf("ParseIMEI(%q) err = %v, want ErrMalformedBootstrap", tt.in, err)
			}
		})
	}
}

func TestLuhnCheckDigit(t *testing.T) {
	for in, want := range map[string]byte{
		"49015420323751": '8',
		"35693803564380": '9',
		"00000000000000": '0',
		"00000000000001": '8', // 1 doubled = 2, check 8
		"00000000000010": '9', // 1 not doubled, check 9
	} {
		if got := LuhnCheckDigit(in); got != want {
			t.Errorf("LuhnCheckDigit(%s) = %c, want %c", in, got, want)
		}
	}
}

func TestIMEIURN(t *testing.T) {
	i := IMEI("490154203237518")
	if got, want := i.URN(), "urn:gsma:imei:49015420-323751-8"; got != want {
		t.Fatalf("URN() = %q, want %q", got, want)
	}
	for _, u := range []string{
		"urn:gsma:imei:49015420-323751-8",
		"URN:GSMA:IMEI:49015420-323751-8",
		"urn:gsma:imei:49015420-323751-8;svn=42",
	} {
		got, err := ParseIMEIURN(u)
		if err != nil || got != i {
			t.Errorf("ParseIMEIURN(%q) = %q, %v", u, got, err)
		}
	}
	for _, u := range []string{
		"urn:gsma:imei:490154203237518",
		"urn:gsma:imei:49015420-323751-7",
		"urn:gsma:meid:49015420-323751-8",
		"urn:gsma:imei:49015420_323751-8",
		"urn:gsma:imei:",
		"urn",
	} {
		if _, err := ParseIMEIURN(u); !errors.Is(err, ErrMalformedBootstrap) {
			t.Errorf("ParseIMEIURN(%q) err = %v, want ErrMalformedBootstrap", u, err)
		}
	}
	if i.TAC() != "49015420" || i.TACSNR() != "49015420323751" {
		t.Fatalf("TAC/TACSNR = %s/%s", i.TAC(), i.TACSNR())
	}
	if !i.Matches("49015420323751") || !i.Matches("490154203237518") || i.Matches("490154203237517") || i.Matches("4901542032375") {
		t.Fatal("Matches disagrees with TS 29.272 7.3.4 14/15 digit forms")
	}
}
