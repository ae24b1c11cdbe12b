package diameter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	diamdict "github.com/fiorix/go-diameter/v4/diam/dict"
)

// MaxMessageLength bounds the Message Length a peer may announce. RFC 6733 3
// allows up to 2^24-1; no S6a/SWx message comes near 1 MiB, and a bound keeps
// one bad header from making the server allocate 16 MiB per connection.
const MaxMessageLength = 1 << 20

// maxGroupDepth bounds Grouped AVP nesting during validation so that a crafted
// message cannot make the decoder recurse without limit.
const maxGroupDepth = 16

// ProtocolError is a message that cannot be processed as received: the
// server answers it with Result (RFC 6733 7.1.3/7.1.5) and, when the framing
// of the stream is lost (Fatal), closes that connection only.
type ProtocolError struct {
	Result Result
	// Header is the decoded header when it was readable, for the answer.
	Header *diam.Header
	// Failed is the offending AVP for Failed-AVP (RFC 6733 7.5), if any.
	Failed *diam.AVP
	Fatal  bool
	Reason string
}

func (e *ProtocolError) Error() string {
	return fmt.Sprintf("diameter: protocol error %d: %s", e.Result.Code, e.Reason)
}

// readFrame reads one Diameter message from r into buf (grown as needed) and
// returns the frame. The 20-byte header gives the length (RFC 6733 3), so a
// frame is delimited without decoding any AVP. A header announcing an
// impossible length or version yields a fatal *ProtocolError: what follows
// on the stream cannot be delimited any more.
func readFrame(r io.Reader, buf []byte) ([]byte, error) {
	if cap(buf) < diam.HeaderLength {
		buf = make([]byte, 0, 4096)
	}
	hdr := buf[:diam.HeaderLength]
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, err
	}
	// The header is decoded into a diam.Header (an allocation) only for
	// an error: every frame pays for this check.
	n := int(uint24(hdr[1:4]))
	if hdr[0] != 1 {
		return hdr, &ProtocolError{Result: Result{Code: CodeUnsupportedVersion}, Header: decodeHeader(hdr), Fatal: true,
			Reason: fmt.Sprintf("version %d", hdr[0])}
	}
	// RFC 6733 3: the length includes the header and is a multiple of 4
	// because every AVP is padded to 32 bits.
	if n < diam.HeaderLength || n%4 != 0 || n > MaxMessageLength {
		return hdr, &ProtocolError{Result: Result{Code: CodeInvalidMessageLength}, Header: decodeHeader(hdr), Fatal: true,
			Reason: fmt.Sprintf("message length %d", n)}
	}
	if cap(buf) < n {
		nb := make([]byte, n)
		copy(nb, hdr)
		buf = nb
	}
	frame := buf[:n]
	if _, err := io.ReadFull(r, frame[diam.HeaderLength:]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return frame, nil
}

func decodeHeader(b []byte) *diam.Header {
	return &diam.Header{
		Version:       b[0],
		MessageLength: uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]),
		CommandFlags:  b[4],
		CommandCode:   uint32(b[5])<<16 | uint32(b[6])<<8 | uint32(b[7]),
		ApplicationID: binary.BigEndian.Uint32(b[8:12]),
		HopByHopID:    binary.BigEndian.Uint32(b[12:16]),
		EndToEndID:    binary.BigEndian.Uint32(b[16:20]),
	}
}

// identities is the process-wide intern table of the DiameterIdentity
// values DecodeMessage decodes (see avpDecoder).
var identities internTable

// DecodeMessage decodes one complete frame (header and AVPs) with dictionary
// d. Unlike diam.ReadMessage it does not need the command in the dictionary
// (an unknown command must still be answered 3001/3007) and it validates every
// AVP length, recursively inside Grouped AVPs, before go-diameter decodes
// anything, so a truncated or overlong AVP becomes a precise 5014 answer with
// Failed-AVP instead of an opaque error or a panic.
func DecodeMessage(frame []byte, d *diamdict.Parser) (m *diam.Message, err error) {
	if len(frame) < diam.HeaderLength {
		return nil, &ProtocolError{Result: Result{Code: CodeInvalidMessageLength}, Fatal: true,
			Reason: fmt.Sprintf("frame of %d bytes", len(frame))}
	}
	h := decodeHeader(frame)
	if h.Version != 1 {
		return nil, &ProtocolError{Result: Result{Code: CodeUnsupportedVersion}, Header: h, Fatal: true,
			Reason: fmt.Sprintf("version %d", h.Version)}
	}
	if int(h.MessageLength) != len(frame) || len(frame)%4 != 0 {
		return nil, &ProtocolError{Result: Result{Code: CodeInvalidMessageLength}, Header: h, Fatal: true,
			Reason: fmt.Sprintf("message length %d for a frame of %d bytes", h.MessageLength, len(frame))}
	}
	body := frame[diam.HeaderLength:]
	// AVPs of an application the dictionary does not know are looked up in
	// the base application, so that Session-Id, Origin-Host and Proxy-Info
	// of a request answered 3007 still decode as what they are.
	dictApp := h.ApplicationID
	if _, err := d.App(dictApp); err != nil {
		dictApp = 0
	}
	n, perr := validateAVPs(body, dictApp, d, 0)
	if perr != nil {
		perr.Header = h
		return nil, perr
	}
	if d == diamdict.Default {
		// A Message without a dictionary uses the default one; building it
		// around the decoded header saves NewMessage's copy.
		m = &diam.Message{Header: h}
		h.MessageLength = diam.HeaderLength // AddAVP counts the AVPs back in
	} else {
		m = diam.NewMessage(h.CommandCode, h.CommandFlags, h.ApplicationID, h.HopByHopID, h.EndToEndID, d)
	}
	m.AVP = make([]*diam.AVP, 0, n)
	x := avpDecoder{d: d, app: dictApp, body: string(body), arena: make([]diam.AVP, n+4), intern: &identities}
	defer func() {
		// validateAVPs should have caught every shape go-diameter cannot
		// decode; this keeps a decoder bug from taking the server down.
		if r := recover(); r != nil {
			m = nil
			err = &ProtocolError{Result: Result{Code: CodeInvalidAVPLength}, Header: h,
				Reason: fmt.Sprintf("avp decoder panic: %v", r)}
		}
	}()
	for off := 0; off < len(body); {
		l := int(uint24(body[off+5 : off+8]))
		if a, ok := x.decode(off, l, 0); ok {
			m.AddAVP(a)
			off += pad4(l)
			continue
		}
		a, derr := diam.DecodeAVP(body[off:off+l], dictApp, d)
		if derr != nil {
			// Only a value that does not fit its type gets here (validateAVPs
			// checked the structure): RFC 6733 7.1.5 calls that an invalid
			// value.
			return nil, &ProtocolError{Result: Result{Code: CodeInvalidAVPValue}, Header: h,
				Failed: rawAVP(body[off : off+l]), Reason: derr.Error()}
		}
		m.AddAVP(a)
		off += pad4(l)
	}
	return m, nil
}

// validateAVPs walks the AVP headers of b (a message body or a Grouped AVP
// payload) and checks every length against RFC 6733 4.1 and the fixed sizes
// of the basic types (4.2), descending into Grouped AVPs known to d.
// It returns the number of AVPs at this level.
func validateAVPs(b []byte, appID uint32, d *diamdict.Parser, depth int) (int, *ProtocolError) {
	if depth > maxGroupDepth {
		return 0, &ProtocolError{Result: Result{Code: CodeInvalidAVPValue}, Reason: "grouped avps nested too deep"}
	}
	n := 0
	for off := 0; off < len(b); n++ {
		rest := b[off:]
		if len(rest) < 8 {
			// RFC 6733 7.1.5: pad an incomplete header with zeroes.
			hdr := make([]byte, 8)
			copy(hdr, rest)
			return 0, lengthError(hdr, appID, d, "truncated avp header")
		}
		code := binary.BigEndian.Uint32(rest[0:4])
		flags := rest[4]
		l := int(uint24(rest[5:8]))
		hl := 8
		var vendor uint32
		if flags&avp.Vbit != 0 {
			hl = 12
			if len(rest) >= 12 {
				vendor = binary.BigEndian.Uint32(rest[8:12])
			}
		}
		if l < hl || l > len(rest) {
			return 0, lengthError(rest[:min(len(rest), hl)], appID, d,
				fmt.Sprintf("avp %d length %d with %d bytes left", code, l, len(rest)))
		}
		payload := rest[hl:l]
		if da, err := d.FindAVPByCode(appID, code, vendor); err == nil && da != nil {
			if want, ok := fixedSize(da.Data.Type); ok && len(payload) != want {
				return 0, lengthError(rest[:hl], appID, d,
					fmt.Sprintf("avp %d of type %s has %d bytes", code, da.Data.TypeName, len(payload)))
			}
			switch da.Data.Type {
			case datatype.AddressType:
				if !addressLengthOK(payload) {
					return 0, lengthError(rest[:hl], appID, d, fmt.Sprintf("address avp %d has %d bytes", code, len(payload)))
				}
			case datatype.GroupedType:
				if _, perr := validateAVPs(payload, appID, d, depth+1); perr != nil {
					// RFC 6733 7.5: the Failed-AVP names the offending AVP
					// inside its enclosing Grouped AVP.
					if perr.Failed != nil {
						perr.Failed = wrapFailed(rest[:hl], appID, d, perr.Failed)
					}
					return 0, perr
				}
			}
		}
		// The last AVP of a message may end without its padding only if the
		// message length says so; anything else is covered by the length
		// checks above.
		off += min(pad4(l), len(rest))
	}
	return n, nil
}

// addressLengthOK checks an Address (RFC 6733 4.3.1): a 2-octet family
// then the address, 4 octets for IPv4 and 16 for IPv6. Families 0 and 65535
// are reserved; go-diameter cannot decode them, so they are refused here.
func addressLengthOK(p []byte) bool {
	if len(p) < 3 {
		return false
	}
	switch binary.BigEndian.Uint16(p[0:2]) {
	case 1:
		return len(p) == 6
	case 2:
		return len(p) == 18
	case 0, 0xffff:
		return false
	}
	return true
}

func fixedSize(t datatype.TypeID) (int, bool) {
	switch t {
	case datatype.Unsigned32Type, datatype.Integer32Type, datatype.EnumeratedType,
		datatype.Float32Type, datatype.TimeType:
		return 4, true
	case datatype.Unsigned64Type, datatype.Integer64Type, datatype.Float64Type:
		return 8, true
	case datatype.IPv4Type:
		// go-diameter decodes an IPv4 of any other length as 0.0.0.0 and
		// then walks a Grouped AVP by the decoded length: refuse it here.
		return 4, true
	case datatype.IPv6Type:
		return 16, true
	}
	return 0, false
}

func minSize(t datatype.TypeID) int {
	if n, ok := fixedSize(t); ok {
		return n
	}
	if t == datatype.AddressType {
		return 6
	}
	return 0
}

// lengthError is a 5014 whose Failed-AVP is the offending AVP header with a
// zero-filled payload of the minimum size for its type (RFC 6733 7.1.5).
func lengthError(hdr []byte, appID uint32, d *diamdict.Parser, reason string) *ProtocolError {
	code := binary.BigEndian.Uint32(hdr[0:4])
	flags := hdr[4]
	var vendor uint32
	if flags&avp.Vbit != 0 && len(hdr) >= 12 {
		vendor = binary.BigEndian.Uint32(hdr[8:12])
	}
	return &ProtocolError{Result: Result{Code: CodeInvalidAVPLength},
		Failed: exampleAVP(d, appID, code, vendor, flags), Reason: reason}
}

// exampleAVP is an AVP with code, vendor and flags and a zero-filled value of
// the minimum length of its type, as RFC 6733 7.1.5 asks for in Failed-AVP.
func exampleAVP(d *diamdict.Parser, appID, code, vendor uint32, flags uint8) *diam.AVP {
	n := 0
	var data datatype.Type
	if d != nil {
		if da, err := d.FindAVPByCode(appID, code, vendor); err == nil && da != nil {
			n = minSize(da.Data.Type)
			if da.Data.Type == datatype.AddressType {
				// Address family 0 is reserved (IANA): an all-zero Address
				// would itself be undecodable, so use IPv4 0.0.0.0.
				data = datatype.Address(net.IPv4zero.To4())
			}
			if flags == 0 && vendor == 0 && da.VendorID != 0 {
				vendor = da.VendorID
			}
		}
	}
	if flags == 0 {
		flags = avp.Mbit
	}
	if vendor != 0 {
		flags |= avp.Vbit
	} else {
		flags &^= avp.Vbit
	}
	if data == nil {
		data = datatype.OctetString(make([]byte, n))
	}
	return diam.NewAVP(code, flags, vendor, data)
}

// wrapFailed puts inner into an empty copy of its enclosing Grouped AVP.
func wrapFailed(hdr []byte, appID uint32, d *diamdict.Parser, inner *diam.AVP) *diam.AVP {
	code := binary.BigEndian.Uint32(hdr[0:4])
	flags := hdr[4]
	var vendor uint32
	if flags&avp.Vbit != 0 && len(hdr) >= 12 {
		vendor = binary.BigEndian.Uint32(hdr[8:12])
	}
	return diam.NewAVP(code, flags, vendor, &diam.GroupedAVP{AVP: []*diam.AVP{inner}})
}

// rawAVP re-encodes a structurally valid AVP as received, for Failed-AVP.
func rawAVP(b []byte) *diam.AVP {
	code := binary.BigEndian.Uint32(b[0:4])
	flags := b[4]
	hl := 8
	var vendor uint32
	if flags&avp.Vbit != 0 {
		hl = 12
		vendor = binary.BigEndian.Uint32(b[8:12])
	}
	return diam.NewAVP(code, flags, vendor, datatype.OctetString(append([]byte(nil), b[hl:]...)))
}

func uint24(b []byte) uint32 { return uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]) }

func pad4(n int) int { return (n + 3) &^ 3 }
