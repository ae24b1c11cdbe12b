package hss

import (
	"crypto/aes"
	"crypto/cipher"
)

// Milenage computes the 3GPP authentication functions f1, f1*, f2, f3, f4, f5
// and f5* of TS 35.206 for one subscriber. It holds the AES-128 key schedule of
// K, computed once by NewMilenage, so that every vector of a request reuses it.
//
// A Milenage is not safe for concurrent use: it keeps its scratch blocks inside
// itself so that the hot path does not allocate (cipher.Block is an interface,
// and slices of stack arrays passed to it would escape to the heap).
type Milenage struct {
	block cipher.Block
	opc   [16]byte

	// temp caches TEMP = E_K(RAND xor OPc) for tempRand: f1 and f2..f5 of the
	// same RAND share it (TS 35.206 4.1), which saves one AES per vector.
	temp     [16]byte
	tempRand [16]byte
	haveTemp bool

	in, out [16]byte
}

// NewMilenage prepares Milenage for subscriber key K and operator variant key OPc.
func NewMilenage(k, opc Key) *Milenage {
	b, err := aes.NewCipher(k[:])
	if err != nil {
		// A 16-byte key is always a valid AES-128 key.
		panic("hss: aes-128 rejected a 16-byte key: " + err.Error())
	}
	return &Milenage{block: b, opc: opc}
}

// ComputeOPc derives OPc = OP xor E_K(OP) (TS 35.206 4.1).
func ComputeOPc(k, op Key) Key {
	b, err := aes.NewCipher(k[:])
	if err != nil {
		panic("hss: aes-128 rejected a 16-byte key: " + err.Error())
	}
	var opc Key
	b.Encrypt(opc[:], op[:])
	for i := range opc {
		opc[i] ^= op[i]
	}
	return opc
}

// computeTemp sets m.temp to E_K(RAND xor OPc) unless it is already cached.
func (m *Milenage) computeTemp(rand *[16]byte) {
	if m.haveTemp && m.tempRand == *rand {
		return
	}
	for i := range m.in {
		m.in[i] = rand[i] ^ m.opc[i]
	}
	m.block.Encrypt(m.temp[:], m.in[:])
	m.tempRand = *rand
	m.haveTemp = true
}

// out1 computes OUT1 = E_K(TEMP xor rot(IN1 xor OPc, r1) xor c1) xor OPc with
// IN1 = SQN || AMF || SQN || AMF, r1 = 64, c1 = 0 (TS 35.206 4.1).
func (m *Milenage) out1(rand [16]byte, sqn [6]byte, amf [2]byte) {
	m.computeTemp(&rand)
	var in1 [16]byte
	copy(in1[0:6], sqn[:])
	copy(in1[6:8], amf[:])
	copy(in1[8:14], sqn[:])
	copy(in1[14:16], amf[:])
	for i := range m.in {
		// rot by 64 bits: byte i of the result is byte i+8 of the operand.
		j := (i + 8) % 16
		m.in[i] = in1[j] ^ m.opc[j] ^ m.temp[i]
	}
	m.block.Encrypt(m.out[:], m.in[:])
	for i := range m.out {
		m.out[i] ^= m.opc[i]
	}
}

// outN computes OUTn = E_K(rot(TEMP xor OPc, r) xor c) xor OPc for n = 2..5,
// with r given in bytes (r2 = 0, r3 = 4, r4 = 8, r5 = 12) and c the last octet
// of cn (c2 = 1, c3 = 2, c4 = 4, c5 = 8), TS 35.206 4.1.
func (m *Milenage) outN(rotBytes int, c byte) {
	for i := range m.in {
		j := (i + rotBytes) % 16
		m.in[i] = m.temp[j] ^ m.opc[j]
	}
	m.in[15] ^= c
	m.block.Encrypt(m.out[:], m.in[:])
	for i := range m.out {
		m.out[i] ^= m.opc[i]
	}
}

// F1 is the network authentication function: MAC-A = OUT1[0..63].
func (m *Milenage) F1(rand [16]byte, sqn [6]byte, amf [2]byte) [8]byte {
	m.out1(rand, sqn, amf)
	var mac [8]byte
	copy(mac[:], m.out[0:8])
	return mac
}

// F1Star is the resynchronisation message authentication function:
// MAC-S = OUT1[64..127].
func (m *Milenage) F1Star(rand [16]byte, sqn [6]byte, amf [2]byte) [8]byte {
	m.out1(rand, sqn, amf)
	var mac [8]byte
	copy(mac[:], m.out[8:16])
	return mac
}

// F2345 returns RES (f2, OUT2[64..127]), CK (f3, OUT3), IK (f4, OUT4) and AK
// (f5, OUT2[0..47]).
func (m *Milenage) F2345(rand [16]byte) (res [8]byte, ck, ik [16]byte, ak [6]byte) {
	m.computeTemp(&rand)
	m.outN(0, 1)
	copy(ak[:], m.out[0:6])
	copy(res[:], m.out[8:16])
	m.outN(4, 2)
	ck = m.out
	m.outN(8, 4)
	ik = m.out
	return res, ck, ik, ak
}

// F5Star is the resynchronisation anonymity key function: AK* = OUT5[0..47].
func (m *Milenage) F5Star(rand [16]byte) [6]byte {
	m.computeTemp(&rand)
	m.outN(12, 8)
	var ak [6]byte
	copy(ak[:], m.out[0:6])
	return ak
}
