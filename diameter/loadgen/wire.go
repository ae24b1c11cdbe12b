package loadgen

import (
	"encoding/binary"
	"net/netip"
)

// Diameter constants used on the wire (RFC 6733, TS 29.272, TS 29.273).
const (
	headerLen = 20

	flagRequest   = 0x80
	flagProxiable = 0x40
	flagError     = 0x20

	avpFlagVendor    = 0x80
	avpFlagMandatory = 0x40

	vendor3GPP = 10415

	appBase = 0
	appS6a  = 16777251
	appS13  = 16777252
	appSWx  = 16777265

	cmdCER = 257
	cmdDWR = 280
	cmdDPR = 282
	cmdSAR = 301
	cmdMAR = 303
	cmdULR = 316
	cmdAIR = 318
	cmdPUR = 321
	cmdECR = 324

	avpUserName                 = 1
	avpHostIPAddress            = 257
	avpAuthApplicationID        = 258
	avpVendorSpecificAppID      = 260
	avpSessionID                = 263
	avpOriginHost               = 264
	avpSupportedVendorID        = 265
	avpVendorID                 = 266
	avpFirmwareRevision         = 267
	avpResultCode               = 268
	avpProductName              = 269
	avpDisconnectCause          = 273
	avpAuthSessionState         = 277
	avpOriginStateID            = 278
	avpDestinationRealm         = 283
	avpDestinationHost          = 293
	avpOriginRealm              = 296
	avpExperimentalResult       = 297
	avpExperimentalResultCode   = 298
	avpSIPAuthDataItem          = 612
	avpSIPAuthenticationScheme  = 608
	avpSIPNumberAuthItems       = 607
	avpServerAssignmentType     = 614
	avpRATType                  = 1032
	avpSubscriptionData         = 1400
	avpTerminalInformation      = 1401
	avpIMEI                     = 1402
	avpSoftwareVersion          = 1403
	avpULRFlags                 = 1405
	avpULAFlags                 = 1406
	avpVisitedPLMNID            = 1407
	avpRequestedEUTRANAuthInfo  = 1408
	avpNumberOfRequestedVectors = 1410
	avpReSynchronizationInfo    = 1411
	avpImmediateResponsePref    = 1412
	avpAuthenticationInfo       = 1413
	avpEUTRANVector             = 1414
	avpItemNumber               = 1419
	avpRAND                     = 1447
	avpXRES                     = 1448
	avpAUTN                     = 1449
	avpKASME                    = 1450
	avpANID                     = 1504
	avpPURFlags                 = 1635

	// RFC 6733 8.18: NO_STATE_MAINTAINED.
	authSessionNoState = 1
	// TS 29.212 5.3.31: EUTRAN (WB-E-UTRAN).
	ratEUTRAN = 1004
	// TS 29.272 7.3.7: Single-Registration-Indication off, S6a/S6d-Indicator
	// (bit 1) set: the request comes from an MME.
	ulrFlagsMME = 1 << 1
	// TS 29.229 6.3.15 / TS 29.273 8.2.3.4: REGISTRATION.
	sarRegistration = 1
)

// encoder appends Diameter AVPs to a byte slice and remembers where the
// fields the hot path patches start.
type encoder struct {
	b []byte
}

// avp appends one AVP and returns the offset of its data in e.b.
func (e *encoder) avp(code uint32, flags byte, vendor uint32, data []byte) int {
	hl := 8
	if vendor != 0 {
		flags |= avpFlagVendor
		hl = 12
	}
	l := hl + len(data)
	var h [12]byte
	binary.BigEndian.PutUint32(h[0:4], code)
	h[4] = flags
	h[5], h[6], h[7] = byte(l>>16), byte(l>>8), byte(l)
	if vendor != 0 {
		binary.BigEndian.PutUint32(h[8:12], vendor)
	}
	e.b = append(e.b, h[:hl]...)
	off := len(e.b)
	e.raw(data)
	return off
}

// raw appends b (an encoded AVP, or an AVP's data) and pads it to 4 octets.
func (e *encoder) raw(b []byte) {
	e.b = append(e.b, b...)
	for len(e.b)%4 != 0 {
		e.b = append(e.b, 0)
	}
}

func (e *encoder) str(code uint32, vendor uint32, s string) int {
	return e.avp(code, avpFlagMandatory, vendor, []byte(s))
}

func (e *encoder) u32(code uint32, vendor uint32, v uint32) int {
	var d [4]byte
	binary.BigEndian.PutUint32(d[:], v)
	return e.avp(code, avpFlagMandatory, vendor, d[:])
}

// group appends a Grouped AVP whose payload is inner.b; it returns the
// offset of inner's first byte in e.b, so that offsets recorded in inner can
// be shifted.
func (e *encoder) group(code uint32, vendor uint32, inner *encoder) int {
	return e.avp(code, avpFlagMandatory, vendor, inner.b)
}

func (e *encoder) address(code uint32, a netip.Addr) int {
	if a.Is4() {
		b := a.As4()
		return e.avp(code, avpFlagMandatory, 0, append([]byte{0, 1}, b[:]...))
	}
	b := a.As16()
	return e.avp(code, avpFlagMandatory, 0, append([]byte{0, 2}, b[:]...))
}

// message prepends a header to the AVPs of body: e.b becomes a complete
// message whose Hop-by-Hop and End-to-End identifiers are zero. Offsets into
// body shift by headerLen.
func message(flags byte, cmd, app uint32, body []byte) []byte {
	m := make([]byte, headerLen, headerLen+len(body))
	m = append(m, body...)
	putHeader(m, flags, cmd, app)
	return m
}

func putHeader(m []byte, flags byte, cmd, app uint32) {
	l := len(m)
	m[0] = 1
	m[1], m[2], m[3] = byte(l>>16), byte(l>>8), byte(l)
	m[4] = flags
	m[5], m[6], m[7] = byte(cmd>>16), byte(cmd>>8), byte(cmd)
	binary.BigEndian.PutUint32(m[8:12], app)
}

func setIDs(m []byte, hbh, e2e uint32) {
	binary.BigEndian.PutUint32(m[12:16], hbh)
	binary.BigEndian.PutUint32(m[16:20], e2e)
}

// putDigits writes v as len(dst) decimal digits, zero-padded on the left
// (the most significant digits are lost if v does not fit).
func putDigits(dst []byte, v uint64) {
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = byte('0' + v%10)
		v /= 10
	}
}

func pad4(n int) int { return (n + 3) &^ 3 }
