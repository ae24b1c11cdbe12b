package hss

import (
	"fmt"
	"log/slog"
)

// IMSI is an International Mobile Subscriber Identity (TS 23.003 2.2): 6 to 15
// decimal digits (MCC 3 + MNC 2-3 + MSIN).
type IMSI string

// ParseIMSI validates s as an IMSI.
func ParseIMSI(s string) (IMSI, error) {
	if len(s) < 6 || len(s) > 15 {
		return "", invalid("imsi", fmt.Sprintf("must be 6 to 15 digits, got %d characters", len(s)))
	}
	if !allDigits(s) {
		return "", invalid("imsi", "must contain only decimal digits")
	}
	return IMSI(s), nil
}

// Masked keeps the PLMN prefix and the last two digits: enough to tell
// subscribers apart in a log at Info level without identifying them.
func (i IMSI) Masked() string {
	s := string(i)
	if len(s) <= 7 {
		return "*****"
	}
	b := []byte(s)
	for j := 5; j < len(b)-2; j++ {
		b[j] = '*'
	}
	return string(b)
}

// LogValue masks the IMSI in structured logs.
func (i IMSI) LogValue() slog.Value { return slog.StringValue(i.Masked()) }

// MSISDN is an E.164 number, digits only, at most 15 (TS 23.003 3.3).
type MSISDN string

// ParseMSISDN validates s as an MSISDN (an empty string means none).
func ParseMSISDN(s string) (MSISDN, error) {
	if s == "" {
		return "", nil
	}
	if len(s) > 15 || !allDigits(s) {
		return "", invalid("msisdn", "must be up to 15 decimal digits")
	}
	return MSISDN(s), nil
}

// TBCD returns the MSISDN in TBCD as S6a carries it (TS 29.272 7.3.2, TS 29.002).
func (m MSISDN) TBCD() []byte { b, _ := EncodeTBCD(string(m)); return b }

// PLMN is a PLMN identity as encoded on the wire (TS 24.008 10.5.1.13,
// Visited-PLMN-Id TS 29.272 7.3.9): MCC digit 2|1, MNC digit 3|MCC digit 3, MNC 2|1.
type PLMN [3]byte

// ParsePLMN builds a PLMN from MCC (3 digits) and MNC (2 or 3 digits).
func ParsePLMN(mcc, mnc string) (PLMN, error) {
	var p PLMN
	if len(mcc) != 3 || !allDigits(mcc) {
		return p, invalid("mcc", "must be 3 digits")
	}
	if (len(mnc) != 2 && len(mnc) != 3) || !allDigits(mnc) {
		return p, invalid("mnc", "must be 2 or 3 digits")
	}
	d := func(c byte) byte { return c - '0' }
	p[0] = d(mcc[1])<<4 | d(mcc[0])
	mnc3 := byte(0xf)
	if len(mnc) == 3 {
		mnc3 = d(mnc[2])
	}
	p[1] = mnc3<<4 | d(mcc[2])
	p[2] = d(mnc[1])<<4 | d(mnc[0])
	return p, nil
}

// PLMNFromString parses "MCCMNC" (5 or 6 digits), e.g. "00101" or "310410".
func PLMNFromString(s string) (PLMN, error) {
	if len(s) != 5 && len(s) != 6 {
		return PLMN{}, invalid("plmn", "must be 5 or 6 digits (MCC+MNC)")
	}
	return ParsePLMN(s[:3], s[3:])
}

// PLMNFromBytes takes the 3 wire octets of a Visited-PLMN-Id.
func PLMNFromBytes(b []byte) (PLMN, error) {
	var p PLMN
	if len(b) != 3 {
		return p, invalid("plmn", fmt.Sprintf("must be 3 octets, got %d", len(b)))
	}
	copy(p[:], b)
	if _, _, err := p.Split(); err != nil {
		return PLMN{}, err
	}
	return p, nil
}

// Split returns MCC and MNC as digit strings.
func (p PLMN) Split() (mcc, mnc string, err error) {
	nib := []byte{p[0] & 0xf, p[0] >> 4, p[1] & 0xf, p[2] & 0xf, p[2] >> 4, p[1] >> 4}
	for i, n := range nib {
		if n > 9 && !(i == 5 && n == 0xf) {
			return "", "", invalid("plmn", "contains a non-decimal digit")
		}
	}
	mcc = string([]byte{'0' + nib[0], '0' + nib[1], '0' + nib[2]})
	mnc = string([]byte{'0' + nib[3], '0' + nib[4]})
	if nib[5] != 0xf {
		mnc += string('0' + nib[5])
	}
	return mcc, mnc, nil
}

// String renders "MCCMNC".
func (p PLMN) String() string {
	mcc, mnc, err := p.Split()
	if err != nil {
		return fmt.Sprintf("invalid(%x)", p[:])
	}
	return mcc + mnc
}

// Bytes returns the wire octets.
func (p PLMN) Bytes() []byte { return []byte{p[0], p[1], p[2]} }

// EncodeTBCD packs decimal digits two per octet, low nibble first, padding an odd
// count with 0xF (TS 29.002 TBCD-STRING).
func EncodeTBCD(digits string) ([]byte, error) {
	if !allDigits(digits) {
		return nil, invalid("digits", "TBCD takes decimal digits only")
	}
	out := make([]byte, (len(digits)+1)/2)
	for i := 0; i < len(digits); i++ {
		d := digits[i] - '0'
		if i%2 == 0 {
			out[i/2] = 0xf0 | d
		} else {
			out[i/2] = out[i/2]&0x0f | d<<4
		}
	}
	return out, nil
}

// DecodeTBCD is the inverse of EncodeTBCD; a 0xF filler ends the digits.
func DecodeTBCD(b []byte) (string, error) {
	out := make([]byte, 0, len(b)*2)
	for i, o := range b {
		for j, n := range [2]byte{o & 0xf, o >> 4} {
			if n == 0xf {
				if i != len(b)-1 || j != 1 {
					return "", invalid("tbcd", "filler before the last nibble")
				}
				continue
			}
			if n > 9 {
				return "", invalid("tbcd", "non-decimal digit")
			}
			out = append(out, '0'+n)
		}
	}
	return string(out), nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
