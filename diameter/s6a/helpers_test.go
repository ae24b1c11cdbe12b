package s6a

import (
	"testing"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	diamdict "github.com/fiorix/go-diameter/v4/diam/dict"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/dict"
	"github.com/rcmhss/rcmhss/hss"
)

// Test identities: an IMSI of the test PLMN 001/01 and two MMEs.
const (
	testIMSI  = "001010000000001"
	testIMSI2 = "001010000000003"
	mme1      = "mme1.epc.mnc001.mcc001.3gppnetwork.org"
	mme2      = "mme2.epc.mnc001.mcc001.3gppnetwork.org"
	mmeRealm  = "epc.mnc001.mcc001.3gppnetwork.org"
	hssHost   = "hss.epc.mnc001.mcc001.3gppnetwork.org"
	hssRealm  = "epc.mnc001.mcc001.3gppnetwork.org"
	homePLMN  = "\x00\xf1\x10" // 001/01 (TS 24.008 10.5.1.13)
	otherPLMN = "\x13\x00\x62" // 310/260
)

func init() {
	if err := dict.Default(); err != nil {
		panic(err)
	}
}

func u32(code uint32, v uint32) *diam.AVP {
	return diam.NewAVP(code, flagsMV, VendorID, datatype.Unsigned32(v))
}

func enum(code uint32, v int32) *diam.AVP {
	return diam.NewAVP(code, flagsMV, VendorID, datatype.Enumerated(v))
}

func oct(code uint32, b string) *diam.AVP {
	return diam.NewAVP(code, flagsMV, VendorID, datatype.OctetString(b))
}

func utf8(code uint32, s string) *diam.AVP {
	return diam.NewAVP(code, flagsMV, VendorID, datatype.UTF8String(s))
}

func grp(code uint32, members ...*diam.AVP) *diam.AVP {
	return diam.NewAVP(code, flagsMV, VendorID, &diam.GroupedAVP{AVP: members})
}

func userName(imsi string) *diam.AVP {
	return diam.NewAVP(avp.UserName, flagsM, 0, datatype.UTF8String(imsi))
}

// request builds an S6a request from origin as an MME sends it (TS 29.272
// 7.2.x heads) followed by body.
func request(cmd uint32, origin string, body ...*diam.AVP) *diam.Message {
	m := diam.NewRequest(cmd, AppID, diamdict.Default)
	m.Header.CommandFlags |= diam.ProxiableFlag
	m.Header.HopByHopID, m.Header.EndToEndID = 0x1234, 0x5678
	m.NewAVP(avp.SessionID, flagsM, 0, datatype.UTF8String(origin+";1;1"))
	m.AddAVP(vendorSpecificAppID())
	m.NewAVP(avp.AuthSessionState, flagsM, 0, datatype.Enumerated(1))
	m.NewAVP(avp.OriginHost, flagsM, 0, datatype.DiameterIdentity(origin))
	m.NewAVP(avp.OriginRealm, flagsM, 0, datatype.DiameterIdentity(mmeRealm))
	m.NewAVP(avp.DestinationRealm, flagsM, 0, datatype.DiameterIdentity(hssRealm))
	for _, a := range body {
		m.AddAVP(a)
	}
	return m
}

// airRequest is an AIR for n E-UTRAN vectors from the home PLMN.
func airRequest(imsi string, n uint32, extra ...*diam.AVP) *diam.Message {
	body := []*diam.AVP{
		userName(imsi),
		grp(codeRequestedEUTRANAuthInfo, u32(codeNumberOfRequestedVecs, n), u32(codeImmediateResponsePref, 0)),
		oct(codeVisitedPLMNID, homePLMN),
	}
	return request(cmdAuthenticationInfo, mme1, append(body, extra...)...)
}

// ulrRequest is an initial-attach ULR over S6a from origin on E-UTRAN.
func ulrRequest(imsi, origin string, flags hss.ULRFlags, extra ...*diam.AVP) *diam.Message {
	body := []*diam.AVP{
		userName(imsi),
		grp(codeTerminalInformation, utf8(codeIMEI, "35609204079301"), utf8(codeSoftwareVersion, "12")),
		enum(codeRATType, int32(hss.RATEUTRAN)),
		u32(codeULRFlags, uint32(flags)),
		oct(codeVisitedPLMNID, homePLMN),
	}
	return request(cmdUpdateLocation, origin, append(body, extra...)...)
}

// wire serializes m and decodes it again as the server does, so tests see
// exactly what a peer's bytes turn into.
func wire(t testing.TB, m *diam.Message) *diam.Message {
	t.Helper()
	b, err := m.Serialize()
	if err != nil {
		t.Fatalf("serialize: %v", err)
	}
	out, err := diameter.DecodeMessage(b, diamdict.Default)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return out
}

func serialize(t testing.TB, m *diam.Message) []byte {
	t.Helper()
	b, err := m.Serialize()
	if err != nil {
		t.Fatalf("serialize: %v", err)
	}
	return b
}

// find returns the first member of avps with code (3GPP vendor unless code is
// an IETF one given with vendor 0).
func find(avps []*diam.AVP, code, vendor uint32) *diam.AVP {
	for _, a := range avps {
		if a.Code == code && a.VendorID == vendor {
			return a
		}
	}
	return nil
}

func findAll(avps []*diam.AVP, code, vendor uint32) []*diam.AVP {
	var out []*diam.AVP
	for _, a := range avps {
		if a.Code == code && a.VendorID == vendor {
			out = append(out, a)
		}
	}
	return out
}

func members(t testing.TB, a *diam.AVP) []*diam.AVP {
	t.Helper()
	if a == nil {
		t.Fatalf("grouped avp missing")
	}
	g, ok := a.Data.(*diam.GroupedAVP)
	if !ok {
		t.Fatalf("avp %d is %T, not grouped", a.Code, a.Data)
	}
	return g.AVP
}

func mustU32(t testing.TB, a *diam.AVP) uint32 {
	t.Helper()
	if a == nil {
		t.Fatalf("avp missing")
	}
	v, ok := diameter.AVPUnsigned(a)
	if !ok {
		t.Fatalf("avp %d is %T, not an integer", a.Code, a.Data)
	}
	return v
}

func mustOctets(t testing.TB, a *diam.AVP) []byte {
	t.Helper()
	if a == nil {
		t.Fatalf("avp missing")
	}
	s, ok := diameter.AVPOctets(a)
	if !ok {
		t.Fatalf("avp %d is %T, not an octet string", a.Code, a.Data)
	}
	return []byte(s)
}

// resultOf returns the answer's result, failing when there is none.
func resultOf(t testing.TB, m *diam.Message) diameter.Result {
	t.Helper()
	r, ok := diameter.ResultOf(m)
	if !ok {
		t.Fatalf("answer has no result:\n%s", m)
	}
	return r
}

// failedAVPCode returns the code of the AVP inside Failed-AVP (0 if none).
func failedAVPCode(t testing.TB, m *diam.Message) uint32 {
	t.Helper()
	f := find(m.AVP, avp.FailedAVP, 0)
	if f == nil {
		return 0
	}
	in := members(t, f)
	if len(in) != 1 {
		t.Fatalf("failed-avp holds %d avps", len(in))
	}
	return in[0].Code
}
