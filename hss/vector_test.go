package hss

import (
	"bytes"
	"testing"
)

// usim plays the USIM side of TS 33.102 6.3.3 for one vector: it recovers
// SQN from AUTN with f5, checks MAC-A with f1 over the AMF carried in AUTN and
// returns SQN, RES, CK and IK.
func usimCheck(t *testing.T, m *Milenage, rand, a [16]byte) (sqn uint64, amf [2]byte, res [8]byte, ck, ik [16]byte) {
	t.Helper()
	res, ck, ik, ak := m.F2345(rand)
	var sqnb [6]byte
	for i := range sqnb {
		sqnb[i] = a[i] ^ ak[i]
	}
	copy(amf[:], a[6:8])
	mac := m.F1(rand, sqnb, amf)
	if !bytes.Equal(mac[:], a[8:16]) {
		t.Fatalf("USIM: MAC-A of AUTN %x does not verify", a)
	}
	return SQNFromBytes(sqnb), amf, res, ck, ik
}

func TestEUTRANVector(t *testing.T) {
	s := milenageSets[0]
	k, opc := key(t, s.k), key(t, s.opc)
	sn, _ := ParsePLMN("001", "01")
	rand := arr16(t, s.rand)
	const sqn = 0x123456789a
	for _, amf := range [][2]byte{{0x00, 0x00}, {0x80, 0x00}, {0x12, 0x34}} {
		v := NewMilenage(k, opc).EUTRANVector(rand, sqn, amf, sn)
		u := NewMilenage(k, opc)
		gotSQN, gotAMF, res, ck, ik := usimCheck(t, u, v.RAND, v.AUTN)
		if gotSQN != sqn || v.SQN != sqn {
			t.Errorf("SQN = %#x (vector says %#x), want %#x", gotSQN, v.SQN, sqn)
		}
		// TS 33.401 6.1.2 / TS 33.102 Annex H: separation bit 1, other AMF bits as provisioned.
		if gotAMF != [2]byte{amf[0] | 0x80, amf[1]} {
			t.Errorf("AMF in AUTN = %x, provisioned %x", gotAMF, amf)
		}
		if !bytes.Equal(v.XRES, res[:]) {
			t.Errorf("XRES = %x, USIM RES = %x", v.XRES, res)
		}
		var x [6]byte
		copy(x[:], v.AUTN[:6])
		if v.KASME != DeriveKASME(ck, ik, sn, x) {
			t.Error("KASME is not KDF(CK||IK, SN id, SQN xor AK)")
		}
	}
}

func TestUTRANVectorKeepsAMF(t *testing.T) {
	s := milenageSets[1]
	m := NewMilenage(key(t, s.k), key(t, s.opc))
	rand, amf := arr16(t, s.rand), arr2(t, s.amf)
	sqn := SQNFromBytes(arr6(t, s.sqn))
	v := m.UTRANVector(rand, sqn, amf)
	// With TS 35.208's own SQN and AMF, AUTN and XRES follow from the published
	// f1, f2, f5: AUTN = SQN^AK || AMF || MAC-A.
	sqnb, ak := arr6(t, s.sqn), arr6(t, s.f5)
	var want [16]byte
	for i := range 6 {
		want[i] = sqnb[i] ^ ak[i]
	}
	copy(want[6:8], amf[:])
	copy(want[8:], unhex(t, s.f1))
	if v.AUTN != want {
		t.Errorf("AUTN = %x, want %x", v.AUTN, want)
	}
	if !bytes.Equal(v.XRES, unhex(t, s.f2)) || v.CK != arr16(t, s.f3) || v.IK != arr16(t, s.f4) {
		t.Errorf("quintet does not carry f2/f3/f4 of %s", s.name)
	}
}

func BenchmarkEUTRANVector(b *testing.B) {
	s := milenageSets[0]
	m := NewMilenage(key(b, s.k), key(b, s.opc))
	sn, _ := ParsePLMN("001", "01")
	rand := arr16(b, s.rand)
	xres := make([]byte, resLen)
	var v EUTRANVector
	b.ReportAllocs()
	sqn := uint64(32)
	for b.Loop() {
		rand[0]++
		sqn += 32
		m.eutranInto(&v, rand, sqn, [2]byte{}, sn, xres)
	}
}
