package hss

// AMFSeparationBit is bit 0 of the AMF (its most significant bit), the "AMF
// separation bit" of TS 33.102 Annex H: 1 in vectors for E-UTRAN (TS 33.401
// 6.1.2) and for EAP-AKA' (TS 33.402 6.2), 0 otherwise.
const AMFSeparationBit byte = 0x80

// resLen is the length of RES / XRES that Milenage f2 produces.
const resLen = 8

// autn assembles AUTN = SQN xor AK || AMF || MAC-A (TS 33.102 6.3.2).
func autn(sqnXorAK [6]byte, amf [2]byte, mac [8]byte) [16]byte {
	var a [16]byte
	copy(a[0:6], sqnXorAK[:])
	copy(a[6:8], amf[:])
	copy(a[8:16], mac[:])
	return a
}

// quintet runs Milenage once for RAND and SQN and returns the parts every kind
// of vector is built from.
func (m *Milenage) quintet(rand [16]byte, sqn uint64, amf [2]byte) (res [8]byte, ck, ik [16]byte, sqnXorAK [6]byte, autnOut [16]byte) {
	sqnb := SQNBytes(sqn)
	res, ck, ik, ak := m.F2345(rand)
	mac := m.F1(rand, sqnb, amf)
	for i := range sqnXorAK {
		sqnXorAK[i] = sqnb[i] ^ ak[i]
	}
	return res, ck, ik, sqnXorAK, autn(sqnXorAK, amf, mac)
}

// EUTRANVector builds an E-UTRAN vector (TS 33.401 6.1.2): the AMF separation
// bit is set on the provisioned amf, and KASME is bound to the serving network
// sn (TS 33.401 A.2).
func (m *Milenage) EUTRANVector(rand [16]byte, sqn uint64, amf [2]byte, sn PLMN) EUTRANVector {
	var v EUTRANVector
	m.eutranInto(&v, rand, sqn, amf, sn, make([]byte, resLen))
	return v
}

// eutranInto fills v, writing XRES into xres (resLen octets) so that a request
// can back every XRES with one allocation.
func (m *Milenage) eutranInto(v *EUTRANVector, rand [16]byte, sqn uint64, amf [2]byte, sn PLMN, xres []byte) {
	amf[0] |= AMFSeparationBit
	res, ck, ik, sqnXorAK, a := m.quintet(rand, sqn, amf)
	copy(xres, res[:])
	v.RAND = rand
	v.XRES = xres[:resLen:resLen]
	v.AUTN = a
	v.KASME = DeriveKASME(ck, ik, sn, sqnXorAK)
	v.SQN = sqn
}

// UTRANVector builds a UMTS quintet (TS 33.102 6.3.2) with the AMF as provisioned.
func (m *Milenage) UTRANVector(rand [16]byte, sqn uint64, amf [2]byte) UTRANVector {
	var v UTRANVector
	m.utranInto(&v, rand, sqn, amf, make([]byte, resLen))
	return v
}

func (m *Milenage) utranInto(v *UTRANVector, rand [16]byte, sqn uint64, amf [2]byte, xres []byte) {
	res, ck, ik, _, a := m.quintet(rand, sqn, amf)
	copy(xres, res[:])
	v.RAND = rand
	v.XRES = xres[:resLen:resLen]
	v.AUTN = a
	v.CK = ck
	v.IK = ik
	v.SQN = sqn
}

// GERANVector builds a GSM triplet from a fresh quintet (TS 33.102 6.8.1.2).
func (m *Milenage) GERANVector(rand [16]byte, sqn uint64, amf [2]byte) GERANVector {
	res, ck, ik, _, _ := m.quintet(rand, sqn, amf)
	return GERANVector{RAND: rand, SRES: C2(res[:]), Kc: C3(ck, ik)}
}

// C2 is the conversion function c2 (TS 33.102 6.8.1.2): XRES is padded with
// zeros to 128 bits and SRES is the xor of its four 32-bit words, which for an
// 8-octet RES is XRES[0:4] xor XRES[4:8].
func C2(xres []byte) [4]byte {
	var padded [16]byte
	copy(padded[:], xres)
	var sres [4]byte
	for i := range sres {
		sres[i] = padded[i] ^ padded[4+i] ^ padded[8+i] ^ padded[12+i]
	}
	return sres
}

// C3 is the conversion function c3 (TS 33.102 6.8.1.2):
// Kc = CK1 xor CK2 xor IK1 xor IK2, the halves of CK and IK.
func C3(ck, ik [16]byte) [8]byte {
	var kc [8]byte
	for i := range kc {
		kc[i] = ck[i] ^ ck[8+i] ^ ik[i] ^ ik[8+i]
	}
	return kc
}

// EAPVector builds a SIP-Auth-Data-Item for EAP-AKA (RFC 4187; CK and IK as
// computed, AMF as provisioned) or, when prime is set, for EAP-AKA' (RFC 9048,
// TS 33.402 6.2: AMF separation bit set, CK' and IK' derived with the access
// network identity per TS 33.402 A.2).
func (m *Milenage) EAPVector(rand [16]byte, sqn uint64, amf [2]byte, prime bool, accessNetworkID string) (EAPVector, error) {
	var v EAPVector
	if err := m.eapInto(&v, rand, sqn, amf, prime, accessNetworkID, make([]byte, resLen)); err != nil {
		return EAPVector{}, err
	}
	return v, nil
}

func (m *Milenage) eapInto(v *EAPVector, rand [16]byte, sqn uint64, amf [2]byte, prime bool, anid string, xres []byte) error {
	if prime {
		amf[0] |= AMFSeparationBit
	}
	res, ck, ik, sqnXorAK, a := m.quintet(rand, sqn, amf)
	if prime {
		var err error
		ck, ik, err = DeriveCKIKPrime(ck, ik, anid, sqnXorAK)
		if err != nil {
			return err
		}
	}
	copy(xres, res[:])
	v.RAND = rand
	v.XRES = xres[:resLen:resLen]
	v.AUTN = a
	v.CK = ck
	v.IK = ik
	v.SQN = sqn
	return nil
}
