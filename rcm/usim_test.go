package rcm_test

import (
	"encoding/hex"
	"errors"
	"testing"

	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/rcm"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestUSIMTestSet1: TS 35.208 test set 1 (f1 4a9ffac354dfafb3, f2 RES
// a54211d5e3ba50bf, AK aa689c648370) and the KASME of docs/rcm-crypto.md
// section 12 for serving network 001/01.
func TestUSIMTestSet1(t *testing.T) {
	u := rcm.USIM{K: mustParseKey(t, "465b5ce8b199b49faa5f0a2ee238a6bc"), OPc: mustParseKey(t, "cd63cb71954a9f4e48a5994e37a02baf")}
	var rand [16]byte
	copy(rand[:], unhex(t, "23553cbe9637a89d218ae64dae47bf35"))
	// AUTN = SQN^AK || AMF || MAC-A (TS 33.102 6.3.2).
	autn := unhex(t, "55f328b43577"+"b9b9"+"4a9ffac354dfafb3")
	serving := hss.PLMN{0x00, 0xf1, 0x10}
	res, kasme, err := u.Authenticate(rand, autn, serving)
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(res[:]) != "a54211d5e3ba50bf" {
		t.Errorf("RES %x", res)
	}
	if hex.EncodeToString(kasme[:]) != "48579af8781c742d5120e6ed8ccac13193f38c53ab7aa69396f49ca6e1b0562d" {
		t.Errorf("KASME %x", kasme)
	}
	autn[15] ^= 1
	if _, _, err := u.Authenticate(rand, autn, serving); !errors.Is(err, rcm.ErrAUTNMismatch) {
		t.Fatalf("tampered MAC: %v", err)
	}
	if _, _, err := u.Authenticate(rand, autn[:8], serving); err == nil {
		t.Fatal("short AUTN accepted")
	}
}

func mustParseKey(t *testing.T, s string) hss.Key {
	t.Helper()
	k, err := hss.ParseKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
