package rcm

import (
	"fmt"
	"strings"
)

// IMEI is an International Mobile Equipment Identity (TS 23.003 6.2.1): an
// 8-digit Type Allocation Code, a 6-digit serial number and a Luhn check digit,
// 15 decimal digits in all. The check digit is kept so that the value round
// trips through the RFC 7254 URN unchanged.
type IMEI string

// imeiURNPrefix is the URN namespace of RFC 7254 section 3 ("urn:gsma:imei:").
const imeiURNPrefix = "urn:gsma:imei:"

// ParseIMEI validates s as a 15-digit IMEI whose last digit is the Luhn check
// digit computed over the first 14 (TS 23.003 6.2.1 and Annex B).
func ParseIMEI(s string) (IMEI, error) {
	if len(s) != 15 || !digits(s) {
		return "", fmt.Errorf("rcm: parse imei: must be 15 decimal digits (TAC, SNR, check digit): %w", ErrMalformedBootstrap)
	}
	if cd := LuhnCheckDigit(s[:14]); cd != s[14] {
		return "", fmt.Errorf("rcm: parse imei: check digit is %c, want %c: %w", s[14], cd, ErrMalformedBootstrap)
	}
	return IMEI(s), nil
}

// LuhnCheckDigit computes the TS 23.003 Annex B check digit of the 14 digits
// TAC||SNR: from the rightmost digit, every second digit is doubled (its digit
// sum taken), and the check digit brings the total to a multiple of ten. It
// panics on a non-digit, which ParseIMEI rules out first.
func LuhnCheckDigit(d14 string) byte {
	sum := 0
	for i := 0; i < len(d14); i++ {
		c := d14[len(d14)-1-i]
		if c < '0' || c > '9' {
			panic("rcm: luhn over a non-digit")
		}
		v := int(c - '0')
		if i%2 == 0 { // rightmost digit of the 14 is doubled
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return byte('0' + (10-sum%10)%10)
}

// TAC is the Type Allocation Code: the first 8 digits.
func (i IMEI) TAC() string { return string(i)[:min(8, len(i))] }

// TACSNR is TAC||SNR, the 14 digits that identify the equipment without the
// check digit; TS 29.272 7.3.4 lets Terminal-Information carry either 14 or 15.
func (i IMEI) TACSNR() string { return string(i)[:min(14, len(i))] }

// URN renders the RFC 7254 form urn:gsma:imei:TTTTTTTT-SSSSSS-C that device
// certificates carry as a URI subjectAltName.
func (i IMEI) URN() string {
	s := string(i)
	if len(s) != 15 {
		return imeiURNPrefix + s
	}
	return imeiURNPrefix + s[:8] + "-" + s[8:14] + "-" + s[14:]
}

// Matches reports whether a Terminal-Information IMEI (14 or 15 digits, TS
// 29.272 7.3.4) names the same equipment as i. A 15th digit, when present,
// must be the right check digit.
func (i IMEI) Matches(terminal string) bool {
	switch len(terminal) {
	case 14:
		return digits(terminal) && terminal == i.TACSNR()
	case 15:
		return terminal == string(i)
	}
	return false
}

// ParseIMEIURN parses the RFC 7254 URN. The "urn" and "gsma" parts are case
// insensitive (RFC 8141); the body is TAC "-" SNR "-" check digit. The
// optional ";svn=" parameter (RFC 7254 3.1) is accepted and ignored.
func ParseIMEIURN(u string) (IMEI, error) {
	if len(u) < len(imeiURNPrefix) || !strings.EqualFold(u[:len(imeiURNPrefix)], imeiURNPrefix) {
		return "", fmt.Errorf("rcm: parse imei urn: not urn:gsma:imei: %w", ErrMalformedBootstrap)
	}
	body := u[len(imeiURNPrefix):]
	if j := strings.IndexByte(body, ';'); j >= 0 {
		body = body[:j]
	}
	if len(body) != 17 || body[8] != '-' || body[15] != '-' {
		return "", fmt.Errorf("rcm: parse imei urn: body must be TTTTTTTT-SSSSSS-C: %w", ErrMalformedBootstrap)
	}
	return ParseIMEI(body[:8] + body[9:15] + body[16:])
}

func digits(s string) bool {
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
