package s6a

import (
	"encoding/binary"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"

	"github.com/rcmhss/rcmhss/hss"

	"github.com/rcmhss/rcmhss/diameter"
)

// resyncInfoLen is RAND (16) || AUTS (14) (TS 29.272 7.3.15, TS 33.102 6.3.3).
const resyncInfoLen = 16 + 14

// DecodeAIR reads an Authentication-Information-Request (TS 29.272 5.2.3.1.2,
// 7.2.5) into domain terms. It walks the decoded AVPs directly rather than
// using reflection: AIR is the hot path of an HSS. Errors are *diameter.AVPError.
func DecodeAIR(m *diam.Message) (hss.AuthInfoRequest, error) {
	var (
		r          hss.AuthInfoRequest
		user, plmn *diam.AVP
	)
	for _, a := range m.AVP {
		switch {
		case is(a, avp.UserName, 0):
			user = a
		case is(a, avp.OriginHost, 0):
			r.ServingNode, _ = identity(a)
		case is(a, codeVisitedPLMNID, VendorID):
			plmn = a
		case is(a, codeRequestedEUTRANAuthInfo, VendorID):
			n, err := decodeRequestedAuthInfo(a, &r)
			if err != nil {
				return hss.AuthInfoRequest{}, err
			}
			r.EUTRAN = n
		case is(a, codeRequestedUTRANGERANInfo, VendorID):
			// TS 29.272 5.2.3.1.3: every subscriber here has a USIM (Milenage),
			// so UTRAN/GERAN requests are answered with quintets; the SGSN derives
			// triplets from them when it serves GERAN (TS 33.102 6.8.1.2).
			n, err := decodeRequestedAuthInfo(a, &r)
			if err != nil {
				return hss.AuthInfoRequest{}, err
			}
			r.UTRAN = n
		}
	}
	imsi, err := decodeUserName(user)
	if err != nil {
		return hss.AuthInfoRequest{}, err
	}
	r.IMSI = imsi
	if r.VisitedPLMN, err = decodeVisitedPLMN(plmn); err != nil {
		return hss.AuthInfoRequest{}, err
	}
	return r, nil
}

// decodeRequestedAuthInfo reads Requested-EUTRAN-Authentication-Info (7.3.11)
// or Requested-UTRAN-GERAN-Authentication-Info (7.3.12), which share a layout,
// and returns the number of vectors asked for (1 when the AVP is absent).
func decodeRequestedAuthInfo(g *diam.AVP, r *hss.AuthInfoRequest) (int, error) {
	members, ok := diameter.AVPGrouped(g)
	if !ok {
		return 0, invalid(g, "not a grouped avp")
	}
	n := 1
	for _, a := range members {
		switch {
		case is(a, codeNumberOfRequestedVecs, VendorID):
			v, ok := diameter.AVPUnsigned(a)
			if !ok || v == 0 {
				return 0, invalid(a, "number of requested vectors must be a positive Unsigned32")
			}
			n = int(v)
		case is(a, codeImmediateResponsePref, VendorID):
			// 7.3.16: its presence is the indication; the value is not used.
			r.ImmediateResponsePreferred = true
		case is(a, codeResyncInfo, VendorID):
			b, ok := diameter.AVPOctets(a)
			if !ok || len(b) != resyncInfoLen {
				return 0, invalid(a, "re-synchronization-info must be RAND (16) || AUTS (14)")
			}
			if r.Resync == nil {
				rs := new(hss.Resync)
				copy(rs.RAND[:], b[:16])
				copy(rs.AUTS[:], b[16:])
				r.Resync = rs
			}
		}
	}
	return n, nil
}

func decodeUserName(a *diam.AVP) (hss.IMSI, error) {
	if a == nil {
		return "", missing(avp.UserName, 0)
	}
	s, ok := identity(a)
	if !ok {
		return "", invalid(a, "user-name is not a string")
	}
	imsi, err := hss.ParseIMSI(s)
	if err != nil {
		// TS 29.272 7.3.1: User-Name carries the IMSI.
		return "", invalid(a, "user-name is not an imsi")
	}
	return imsi, nil
}

func decodeVisitedPLMN(a *diam.AVP) (hss.PLMN, error) {
	if a == nil {
		return hss.PLMN{}, missing(codeVisitedPLMNID, VendorID)
	}
	b, ok := diameter.AVPOctets(a)
	if !ok {
		return hss.PLMN{}, invalid(a, "visited-plmn-id is not an octet string")
	}
	// TS 29.272 7.3.9: exactly the 3 octets of TS 24.008 10.5.1.13, every
	// nibble a decimal digit except MNC digit 3 (high nibble of octet 2),
	// which is F for a 2-digit MNC. Checked here rather than through
	// hss.PLMN.Split, which builds strings: AIR is the hot path.
	if len(b) != 3 {
		return hss.PLMN{}, invalid(a, "visited-plmn-id must be 3 octets")
	}
	if b[0]&0xf > 9 || b[0]>>4 > 9 || b[1]&0xf > 9 || (b[1]>>4 > 9 && b[1]>>4 != 0xf) || b[2]&0xf > 9 || b[2]>>4 > 9 {
		return hss.PLMN{}, invalid(a, "visited-plmn-id must hold decimal digits")
	}
	return hss.PLMN{b[0], b[1], b[2]}, nil
}

// appendAuthenticationInfo adds Authentication-Info (TS 29.272 7.3.17) with
// one vector AVP per vector, numbered 1..N per kind by Item-Number (7.3.23).
// Nothing is added when there are no vectors.
//
// The vectors are encoded straight into one buffer held as a raw Grouped
// value instead of a tree of go-diameter AVPs: an AIA with N vectors then
// costs a handful of allocations instead of six per vector.
func appendAuthenticationInfo(m *diam.Message, info *hss.AuthInfo) {
	if len(info.EUTRAN)+len(info.UTRAN)+len(info.GERAN) == 0 {
		return
	}
	size := 0
	for i := range info.EUTRAN {
		size += 12 + 16 + avpLen(16) + avpLen(len(info.EUTRAN[i].XRES)) + avpLen(16) + avpLen(32)
	}
	for i := range info.UTRAN {
		size += 12 + 16 + avpLen(16) + avpLen(len(info.UTRAN[i].XRES)) + 3*avpLen(16)
	}
	size += len(info.GERAN) * (12 + 16 + avpLen(16) + avpLen(4) + avpLen(8))
	b := make([]byte, 0, size)
	for i := range info.EUTRAN {
		v := &info.EUTRAN[i]
		start := len(b)
		b = appendAVPHeader(b, codeEUTRANVector)
		b = appendU32AVP(b, codeItemNumber, uint32(i+1))
		b = appendOctetsAVP(b, codeRAND, v.RAND[:])
		b = appendOctetsAVP(b, codeXRES, v.XRES)
		b = appendOctetsAVP(b, codeAUTN, v.AUTN[:])
		b = appendOctetsAVP(b, codeKASME, v.KASME[:])
		setAVPLength(b[start:])
	}
	for i := range info.UTRAN {
		v := &info.UTRAN[i]
		start := len(b)
		b = appendAVPHeader(b, codeUTRANVector)
		b = appendU32AVP(b, codeItemNumber, uint32(i+1))
		b = appendOctetsAVP(b, codeRAND, v.RAND[:])
		b = appendOctetsAVP(b, codeXRES, v.XRES)
		b = appendOctetsAVP(b, codeAUTN, v.AUTN[:])
		b = appendOctetsAVP(b, codeConfidentialityKey, v.CK[:])
		b = appendOctetsAVP(b, codeIntegrityKey, v.IK[:])
		setAVPLength(b[start:])
	}
	for i := range info.GERAN {
		v := &info.GERAN[i]
		start := len(b)
		b = appendAVPHeader(b, codeGERANVector)
		b = appendU32AVP(b, codeItemNumber, uint32(i+1))
		b = appendOctetsAVP(b, codeRAND, v.RAND[:])
		b = appendOctetsAVP(b, codeSRES, v.SRES[:])
		b = appendOctetsAVP(b, codeKc, v.Kc[:])
		setAVPLength(b[start:])
	}
	m.AddAVP(diam.NewAVP(codeAuthenticationInfo, flagsMV, VendorID, datatype.Grouped(b)))
}

// avpLen is the padded length of a 3GPP AVP with n octets of data (RFC 6733
// 4.1: 12-octet header with Vendor-ID, data padded to 32 bits).
func avpLen(n int) int { return 12 + (n+3)&^3 }

// appendAVPHeader appends the header of a 3GPP AVP with M and V set; its
// length is filled in by setAVPLength once the data is written.
func appendAVPHeader(b []byte, code uint32) []byte {
	b = binary.BigEndian.AppendUint32(b, code)
	b = append(b, flagsMV, 0, 0, 0)
	return binary.BigEndian.AppendUint32(b, VendorID)
}

// setAVPLength writes the length of the AVP that b starts with and whose
// data runs to the end of b.
func setAVPLength(b []byte) {
	n := len(b)
	b[5], b[6], b[7] = byte(n>>16), byte(n>>8), byte(n)
}

func appendOctetsAVP(b []byte, code uint32, data []byte) []byte {
	start := len(b)
	b = appendAVPHeader(b, code)
	b = append(b, data...)
	setAVPLength(b[start:])
	for range (4 - len(data)%4) % 4 {
		b = append(b, 0)
	}
	return b
}

func appendU32AVP(b []byte, code, v uint32) []byte {
	start := len(b)
	b = appendAVPHeader(b, code)
	b = binary.BigEndian.AppendUint32(b, v)
	setAVPLength(b[start:])
	return b
}
