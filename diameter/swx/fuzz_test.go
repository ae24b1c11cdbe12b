package swx

import (
	"errors"
	"testing"

	diamdict "github.com/fiorix/go-diameter/v4/diam/dict"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/hss"
)

// checkDecodeError fails unless err is one the handler can answer with a
// spec code: an *diameter.AVPError or the unsupported-scheme sentinel.
func checkDecodeError(t *testing.T, err error) {
	var ae *diameter.AVPError
	if !errors.As(err, &ae) && !errors.Is(err, hss.ErrAuthSchemeNotSupported) {
		t.Fatalf("decode error %v (%T) has no Diameter code", err, err)
	}
}

func FuzzDecodeMAR(f *testing.F) {
	for _, m := range []interface{ Serialize() ([]byte, error) }{
		marRequest(aaa1, naiAKA, SchemeEAPAKA, 3, ""),
		marRequest(aaa1, naiAKAPri, SchemeEAPAKAPrime, 1, wlanANID, oct(codeSIPAuthorization, string(make([]byte, 30)))),
		request(cmdMultimediaAuth, aaa1, userName(testIMSI)),
	} {
		b, err := m.Serialize()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := diameter.DecodeMessage(b, diamdict.Default)
		if err != nil {
			return
		}
		r, err := DecodeMAR(m)
		if err != nil {
			checkDecodeError(t, err)
			return
		}
		if _, err := hss.ParseIMSI(string(r.Auth.IMSI)); err != nil {
			t.Fatalf("accepted bad imsi %q", r.Auth.IMSI)
		}
		if r.Auth.N < 1 {
			t.Fatalf("N = %d", r.Auth.N)
		}
		if r.Auth.Prime != (r.Scheme == SchemeEAPAKAPrime) || (r.Auth.Prime && r.Auth.AccessNetworkID == "") {
			t.Fatalf("scheme %q prime %v anid %q", r.Scheme, r.Auth.Prime, r.Auth.AccessNetworkID)
		}
	})
}

func FuzzDecodeSAR(f *testing.F) {
	for _, m := range []interface{ Serialize() ([]byte, error) }{
		sarRequest(aaa1, naiAKA, hss.SARegistration),
		sarRequest(aaa1, testIMSI, hss.SAPGWUpdate),
		request(cmdServerAssignment, aaa1, userName(testIMSI)),
	} {
		b, err := m.Serialize()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := diameter.DecodeMessage(b, diamdict.Default)
		if err != nil {
			return
		}
		r, err := DecodeSAR(m)
		if err != nil {
			checkDecodeError(t, err)
			return
		}
		if _, err := hss.ParseIMSI(string(r.Assignment.IMSI)); err != nil {
			t.Fatalf("accepted bad imsi %q", r.Assignment.IMSI)
		}
	})
}
