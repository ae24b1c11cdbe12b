package hss_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/rcmhss/rcmhss/hss"
)

func FuzzParseIMSI(f *testing.F) {
	for _, s := range []string{"001010000000001", "00101", "0010100000000011", "00101000000000a", "", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		imsi, err := hss.ParseIMSI(s)
		if err != nil {
			if !errors.Is(err, hss.ErrInvalidInput) {
				t.Fatalf("error %v does not wrap ErrInvalidInput", err)
			}
			return
		}
		if string(imsi) != s || len(s) < 6 || len(s) > 15 {
			t.Fatalf("accepted %q as %q", s, imsi)
		}
		for i := range len(s) {
			if s[i] < '0' || s[i] > '9' {
				t.Fatalf("accepted non-digit in %q", s)
			}
		}
		if m := imsi.Masked(); len(m) != len(s) && len(s) > 7 {
			t.Fatalf("Masked(%q) = %q", s, m)
		}
	})
}

func FuzzDecodeTBCD(f *testing.F) {
	for _, b := range [][]byte{{0x51, 0x55, 0x21, 0x43, 0x65, 0xf7}, {0x21, 0x43}, {}, {0xff}, {0xf1, 0x21}, {0x1a}} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		digits, err := hss.DecodeTBCD(b)
		if err != nil {
			if !errors.Is(err, hss.ErrInvalidInput) {
				t.Fatalf("error %v does not wrap ErrInvalidInput", err)
			}
			return
		}
		if digits == "" {
			if len(b) != 0 {
				t.Fatalf("%x decoded to no digits", b)
			}
			return
		}
		// Every accepted encoding is canonical: encoding the digits gives it back.
		back, err := hss.EncodeTBCD(digits)
		if err != nil || !bytes.Equal(back, b) {
			t.Fatalf("%x -> %q -> %x, %v", b, digits, back, err)
		}
	})
}

func FuzzPLMNFromBytes(f *testing.F) {
	for _, b := range [][]byte{{0x00, 0xf1, 0x10}, {0x13, 0x00, 0x14}, {0xff, 0xff, 0xff}, {0x00}, {0x00, 0xf1, 0x1f, 0x00}} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := hss.PLMNFromBytes(b)
		if err != nil {
			if !errors.Is(err, hss.ErrInvalidInput) {
				t.Fatalf("error %v does not wrap ErrInvalidInput", err)
			}
			return
		}
		if !bytes.Equal(p.Bytes(), b) {
			t.Fatalf("%x came back as %x", b, p.Bytes())
		}
		q, err := hss.PLMNFromString(p.String())
		if err != nil || q != p {
			t.Fatalf("%x -> %q -> %x, %v", b, p.String(), q.Bytes(), err)
		}
	})
}

// FuzzResync feeds arbitrary Re-Synchronization-Info to AIR: it must never
// panic, a rejected AUTS must be ErrResyncFailed and leave SEQ_HE unchanged,
// and an accepted one must yield vectors past SQN_MS.
func FuzzResync(f *testing.F) {
	fx := newSvcFixture(f, hss.Config{}, svcSubscriber())
	m := hss.NewMilenage(set1K, set1OPc)
	var rand [16]byte
	rand[3] = 9
	valid := makeAUTS(m, rand, hss.ComposeSQN(7000, 2, 5))
	f.Add(rand[:], valid[:])
	f.Add(rand[:], make([]byte, 14))
	f.Add([]byte{}, []byte{1, 2, 3})
	home := svcPLMN(f, "00101")
	f.Fuzz(func(t *testing.T, r, a []byte) {
		var rs hss.Resync
		copy(rs.RAND[:], r)
		copy(rs.AUTS[:], a)
		before := fx.seqHE(t, svcIMSI)
		info, err := fx.h.AuthenticationInfo(context.Background(), hss.AuthInfoRequest{IMSI: svcIMSI, VisitedPLMN: home, ServingNode: "mme-f", Resync: &rs})
		if err != nil {
			if !errors.Is(err, hss.ErrResyncFailed) {
				t.Fatalf("unexpected error %v", err)
			}
			if after := fx.seqHE(t, svcIMSI); after != before {
				t.Fatalf("rejected AUTS moved SEQ_HE %d -> %d", before, after)
			}
			return
		}
		sqnMS, verr := hss.NewMilenage(set1K, set1OPc).VerifyAUTS(rs.RAND, rs.AUTS)
		if verr != nil {
			t.Fatalf("AIR accepted an AUTS that does not verify")
		}
		seqMS, _ := hss.SplitSQN(sqnMS, 5)
		if seq, _ := hss.SplitSQN(info.EUTRAN[0].SQN, 5); seq <= seqMS {
			t.Fatalf("vector SEQ %d not past SEQ_MS %d", seq, seqMS)
		}
	})
}
