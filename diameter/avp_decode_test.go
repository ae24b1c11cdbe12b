package diameter

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	diamdict "github.com/fiorix/go-diameter/v4/diam/dict"
)

// TestDecodeMessageMatchesGoDiameter: the allocation-saving decoder must
// produce exactly the AVP values go-diameter's own decoder produces (types,
// values, lengths, nesting), for every type with a fast path, nested
// Grouped AVPs, an AVP of a type without one (Address, Time) and an AVP the
// dictionary does not know (decoded by go-diameter as before).
func TestDecodeMessageMatchesGoDiameter(t *testing.T) {
	m := diam.NewMessage(318, diam.RequestFlag|diam.ProxiableFlag, 16777251, 7, 9, diamdict.Default)
	m.NewAVP(avp.SessionID, avp.Mbit, 0, datatype.UTF8String("mme;1;2"))
	m.NewAVP(avp.AuthSessionState, avp.Mbit, 0, datatype.Enumerated(1))
	m.NewAVP(avp.OriginHost, avp.Mbit, 0, datatype.DiameterIdentity("mme.test"))
	m.NewAVP(avp.OriginRealm, avp.Mbit, 0, datatype.DiameterIdentity("test"))
	m.NewAVP(avp.UserName, avp.Mbit, 0, datatype.UTF8String("001010000000001"))
	m.NewAVP(avp.VisitedPLMNID, avp.Mbit|avp.Vbit, 10415, datatype.OctetString([]byte{0, 0xf1, 0x10}))
	m.NewAVP(avp.RequestedEUTRANAuthenticationInfo, avp.Mbit|avp.Vbit, 10415, &diam.GroupedAVP{AVP: []*diam.AVP{
		diam.NewAVP(avp.NumberOfRequestedVectors, avp.Mbit|avp.Vbit, 10415, datatype.Unsigned32(3)),
		diam.NewAVP(avp.ImmediateResponsePreferred, avp.Mbit|avp.Vbit, 10415, datatype.Unsigned32(0)),
		diam.NewAVP(avp.ResynchronizationInfo, avp.Mbit|avp.Vbit, 10415, datatype.OctetString(bytes.Repeat([]byte{0xab}, 30))),
	}})
	m.NewAVP(avp.ProxyInfo, avp.Mbit, 0, &diam.GroupedAVP{AVP: []*diam.AVP{
		diam.NewAVP(avp.ProxyHost, avp.Mbit, 0, datatype.DiameterIdentity("proxy.test")),
		diam.NewAVP(avp.ProxyState, avp.Mbit, 0, datatype.OctetString("state")),
	}})
	m.NewAVP(avp.HostIPAddress, avp.Mbit, 0, datatype.Address([]byte{127, 0, 0, 1}))
	m.NewAVP(avp.EventTimestamp, 0, 0, datatype.Time{})
	m.NewAVP(avp.OriginStateID, avp.Mbit, 0, datatype.Unsigned32(0xfedcba98))
	m.NewAVP(999999, 0, 0, datatype.OctetString("unknown to the dictionary"))
	frame, err := m.Serialize()
	if err != nil {
		t.Fatal(err)
	}
	want, err := diam.ReadMessage(bytes.NewReader(frame), diamdict.Default)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second time, identities come from the intern table
		got, err := DecodeMessage(frame, diamdict.Default)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.AVP) != len(want.AVP) {
			t.Fatalf("%d avps, want %d", len(got.AVP), len(want.AVP))
		}
		for i := range want.AVP {
			if !reflect.DeepEqual(got.AVP[i], want.AVP[i]) {
				t.Errorf("avp %d: got %v (%T), want %v (%T)", i, got.AVP[i], got.AVP[i].Data, want.AVP[i], want.AVP[i].Data)
			}
		}
		b, err := got.Serialize()
		if err != nil || !bytes.Equal(b, frame) {
			t.Fatalf("re-serialized message differs (err %v)", err)
		}
	}
}

// TestSerializeMatchesGoDiameter: serializeMessage writes byte for byte what
// go-diameter's Serialize writes, for string types (with and without
// padding), nested Grouped AVPs, raw Grouped values and the types it leaves
// to go-diameter.
func TestSerializeMatchesGoDiameter(t *testing.T) {
	m := diam.NewMessage(318, diam.ProxiableFlag, 16777251, 7, 9, diamdict.Default)
	m.NewAVP(avp.SessionID, avp.Mbit, 0, datatype.UTF8String("mme;1;2"))
	m.NewAVP(avp.ResultCode, avp.Mbit, 0, datatype.Unsigned32(2001))
	m.NewAVP(avp.OriginHost, avp.Mbit, 0, datatype.DiameterIdentity("hss.test"))
	m.NewAVP(avp.OriginRealm, avp.Mbit, 0, datatype.DiameterIdentity("realm"))
	m.NewAVP(avp.RedirectHost, avp.Mbit, 0, datatype.DiameterURI("aaa://h.test"))
	m.NewAVP(avp.VisitedPLMNID, avp.Mbit|avp.Vbit, 10415, datatype.OctetString([]byte{0, 0xf1, 0x10}))
	m.NewAVP(avp.ProxyInfo, avp.Mbit, 0, &diam.GroupedAVP{AVP: []*diam.AVP{
		diam.NewAVP(avp.ProxyHost, avp.Mbit, 0, datatype.DiameterIdentity("p")),
		diam.NewAVP(avp.ProxyState, avp.Mbit, 0, datatype.OctetString("state1")),
		diam.NewAVP(avp.VendorSpecificApplicationID, avp.Mbit, 0, &diam.GroupedAVP{AVP: []*diam.AVP{
			diam.NewAVP(avp.VendorID, avp.Mbit, 0, datatype.Unsigned32(10415)),
		}}),
	}})
	m.NewAVP(avp.AuthenticationInfo, avp.Mbit|avp.Vbit, 10415, datatype.Grouped([]byte{0, 0, 5, 0x7f, 0xc0, 0, 0, 16, 0, 0, 0x28, 0xaf, 1, 2, 3, 4}))
	m.NewAVP(avp.HostIPAddress, avp.Mbit, 0, datatype.Address([]byte{127, 0, 0, 1}))
	m.NewAVP(avp.EventTimestamp, 0, 0, datatype.Time{})
	want, err := m.Serialize()
	if err != nil {
		t.Fatal(err)
	}
	got, err := serializeMessage(m)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("serialized\n%x\nwant\n%x", got, want)
	}
}
