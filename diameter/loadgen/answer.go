package loadgen

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// MaxMessageLength bounds the Message Length diamload accepts from a peer;
// no answer it provokes comes near it (RFC 6733 3 allows up to 2^24-1).
const MaxMessageLength = 1 << 20

// ErrMalformed is returned for a message whose header or AVP lengths are
// inconsistent (RFC 6733 3, 4.1).
var ErrMalformed = errors.New("loadgen: malformed diameter message")

// Answer is what the load generator needs of a received message: the header
// fields that match it to its request and the result it carries.
type Answer struct {
	Flags     byte
	Command   uint32
	AppID     uint32
	HopByHop  uint32
	EndToEnd  uint32
	Result    Result
	HasResult bool
}

// IsRequest reports whether the R bit is set (RFC 6733 3).
func (a Answer) IsRequest() bool { return a.Flags&flagRequest != 0 }

// Result is a Result-Code (RFC 6733 7.1) or, when Experimental is set, the
// Experimental-Result-Code of an Experimental-Result (RFC 6733 7.6) such as
// DIAMETER_ERROR_USER_UNKNOWN 5001 (TS 29.272 7.4.3).
type Result struct {
	Code         uint32 `json:"code"`
	Experimental bool   `json:"experimental"`
}

// Success reports a 2xxx code (RFC 6733 7.1.2).
func (r Result) Success() bool { return r.Code >= 2000 && r.Code < 3000 }

func (r Result) String() string {
	if r.Experimental {
		return fmt.Sprintf("%d(exp)", r.Code)
	}
	return fmt.Sprintf("%d", r.Code)
}

// ParseAnswer decodes the header of one complete message m and walks its
// top-level AVP headers for Result-Code, and inside Experimental-Result for
// Experimental-Result-Code. Nothing else is decoded and nothing is
// allocated. Every length is checked, so that any byte string gives either
// an Answer or ErrMalformed.
func ParseAnswer(m []byte) (Answer, error) {
	var a Answer
	if len(m) < headerLen {
		return a, fmt.Errorf("%w: %d bytes", ErrMalformed, len(m))
	}
	if m[0] != 1 {
		return a, fmt.Errorf("%w: version %d", ErrMalformed, m[0])
	}
	if l := int(uint24(m[1:4])); l != len(m) {
		return a, fmt.Errorf("%w: message length %d for %d bytes", ErrMalformed, l, len(m))
	}
	a.Flags = m[4]
	a.Command = uint24(m[5:8])
	a.AppID = binary.BigEndian.Uint32(m[8:12])
	a.HopByHop = binary.BigEndian.Uint32(m[12:16])
	a.EndToEnd = binary.BigEndian.Uint32(m[16:20])
	body := m[headerLen:]
	for off := 0; off < len(body); {
		code, vendor, data, next, err := nextAVP(body, off)
		if err != nil {
			return a, err
		}
		off = next
		switch {
		case code == avpResultCode && vendor == 0:
			if len(data) != 4 {
				return a, fmt.Errorf("%w: result-code of %d bytes", ErrMalformed, len(data))
			}
			a.Result, a.HasResult = Result{Code: binary.BigEndian.Uint32(data)}, true
		case code == avpExperimentalResult && vendor == 0 && !a.HasResult:
			for ioff := 0; ioff < len(data); {
				icode, ivendor, idata, inext, err := nextAVP(data, ioff)
				if err != nil {
					return a, err
				}
				ioff = inext
				if icode == avpExperimentalResultCode && ivendor == 0 {
					if len(idata) != 4 {
						return a, fmt.Errorf("%w: experimental-result-code of %d bytes", ErrMalformed, len(idata))
					}
					a.Result = Result{Code: binary.BigEndian.Uint32(idata), Experimental: true}
					a.HasResult = true
				}
			}
		}
	}
	return a, nil
}

// nextAVP decodes the AVP header at b[off:] (RFC 6733 4.1) and returns its
// code, vendor, data and the offset of the following AVP.
func nextAVP(b []byte, off int) (code, vendor uint32, data []byte, next int, err error) {
	rest := b[off:]
	if len(rest) < 8 {
		return 0, 0, nil, 0, fmt.Errorf("%w: truncated avp header", ErrMalformed)
	}
	code = binary.BigEndian.Uint32(rest[0:4])
	l := int(uint24(rest[5:8]))
	hl := 8
	if rest[4]&avpFlagVendor != 0 {
		hl = 12
		if len(rest) < 12 {
			return 0, 0, nil, 0, fmt.Errorf("%w: truncated avp header", ErrMalformed)
		}
		vendor = binary.BigEndian.Uint32(rest[8:12])
	}
	if l < hl || l > len(rest) {
		return 0, 0, nil, 0, fmt.Errorf("%w: avp %d length %d with %d bytes left", ErrMalformed, code, l, len(rest))
	}
	return code, vendor, rest[hl:l], off + min(pad4(l), len(rest)), nil
}

// requestFields are what the baseline responder reads of a request.
type requestFields struct {
	sessionID []byte
	userName  []byte
}

// scanRequest finds Session-Id and User-Name among the top-level AVPs of m,
// which ParseAnswer has already validated as a header.
func scanRequest(m []byte) (requestFields, error) {
	var f requestFields
	body := m[headerLen:]
	for off := 0; off < len(body); {
		code, vendor, data, next, err := nextAVP(body, off)
		if err != nil {
			return f, err
		}
		off = next
		if vendor != 0 {
			continue
		}
		switch code {
		case avpSessionID:
			f.sessionID = data
		case avpUserName:
			f.userName = data
		}
	}
	return f, nil
}

func uint24(b []byte) uint32 { return uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]) }

// frameReader delimits Diameter messages on a byte stream by the Message
// Length of their header (RFC 6733 3). A message that fits the buffer is
// returned in place, without a copy; it stays valid until the next call.
type frameReader struct {
	r       *bufio.Reader
	discard int
	big     []byte
}

func newFrameReader(r io.Reader, size int) *frameReader {
	return &frameReader{r: bufio.NewReaderSize(r, size)}
}

// buffered reports whether another message has at least started arriving, so
// that a responder can defer flushing its answers.
func (f *frameReader) buffered() int { return f.r.Buffered() - f.discard }

func (f *frameReader) next() ([]byte, error) {
	if f.discard > 0 {
		if _, err := f.r.Discard(f.discard); err != nil {
			return nil, err
		}
		f.discard = 0
	}
	h, err := f.r.Peek(headerLen)
	if err != nil {
		if errors.Is(err, io.EOF) && len(h) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if h[0] != 1 {
		return nil, fmt.Errorf("%w: version %d", ErrMalformed, h[0])
	}
	n := int(uint24(h[1:4]))
	if n < headerLen || n%4 != 0 || n > MaxMessageLength {
		return nil, fmt.Errorf("%w: message length %d", ErrMalformed, n)
	}
	if n <= f.r.Size() {
		m, err := f.r.Peek(n)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		f.discard = n
		return m, nil
	}
	if cap(f.big) < n {
		f.big = make([]byte, n)
	}
	m := f.big[:n]
	if _, err := io.ReadFull(f.r, m); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return m, nil
}
