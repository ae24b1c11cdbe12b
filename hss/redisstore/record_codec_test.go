package redisstore

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/hss/storetest"
)

// TestMMEGolden pins the MME registration encoding, annotated byte by byte.
func TestMMEGolden(t *testing.T) {
	plmn, _ := hss.ParsePLMN("001", "01")
	r := &hss.MMERegistration{
		Host: "mme1", Realm: "ex", VisitedPLMN: plmn, RATType: hss.RATEUTRAN,
		ULRFlags: hss.ULRS6aS6dIndicator | hss.ULRInitialAttach, IMEI: "35", SoftwareVersion: "1",
		Purged: true, NORFlags: 0x81, UpdatedAt: time.Unix(0, 1).UTC(),
	}
	want := strings.Join([]string{
		"01",              // version
		"04" + "6d6d6531", // host "mme1"
		"02" + "6578",     // realm "ex"
		"00f110",          // PLMN 001/01 (TS 24.008 10.5.1.13)
		"ec07",            // RAT-Type 1004 uvarint
		"22",              // ULR-Flags 0x22
		"02" + "3335",     // IMEI "35"
		"01" + "31",       // software version "1"
		"01",              // purged
		"8101",            // NOR-Flags 0x81 uvarint
		"02",              // updated at: 1 ns, zigzag varint
	}, "")
	enc, err := encodeMME(r)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(enc); got != want {
		t.Fatalf("encodeMME\n got %s\nwant %s", got, want)
	}
	back, err := decodeMME(enc)
	if err != nil || !reflect.DeepEqual(back, r) {
		t.Fatalf("decodeMME = %+v, %v", back, err)
	}
}

func TestAAAGolden(t *testing.T) {
	r := &hss.AAARegistration{ServerName: "aaa", Realm: "r"}
	enc, err := encodeAAA(r)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := hex.EncodeToString(enc), "01"+"03616161"+"0172"+"00"; got != want {
		t.Fatalf("encodeAAA = %s, want %s", got, want)
	}
	if _, err := encodeAAA(&hss.AAARegistration{ServerName: strings.Repeat("a", maxString+1)}); !errors.Is(err, hss.ErrInvalidInput) {
		t.Errorf("oversized server name: %v, want ErrInvalidInput", err)
	}
}

func TestSubscriberRoundTrip(t *testing.T) {
	s := storetest.Subscriber("001010000000001")
	s.CreatedAt = time.Date(2026, 1, 1, 0, 0, 0, 5, time.UTC)
	keys := sealedKeys{AMF: s.AMF, K: []byte{0, 1}, OPc: []byte{0, 2}, OP: []byte{0, 3}}
	rec := encodeSubscriber(keys, s)
	gotKeys, got, err := decodeSubscriber(rec)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotKeys, keys) {
		t.Errorf("keys %+v, want %+v", gotKeys, keys)
	}
	want := *s
	want.IMSI, want.K, want.OPc, want.OP, want.SQN = "", hss.Key{}, hss.Key{}, nil, 0
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("decoded\n%+v\nwant\n%+v", *got, want)
	}
	head, d := decodeKeys(rec)
	if d.err != nil || !reflect.DeepEqual(head, keys) {
		t.Errorf("decodeKeys = %+v, %v", head, d.err)
	}
	t.Logf("typical record: %d bytes before sealing overhead", len(rec))
}

func TestDecodeRefusesDamage(t *testing.T) {
	rec := encodeSubscriber(sealedKeys{K: []byte{1}, OPc: []byte{2}}, storetest.Subscriber("001010000000001"))
	for i := range len(rec) {
		if _, _, err := decodeSubscriber(rec[:i]); !errors.Is(err, errCorrupt) {
			t.Fatalf("truncated to %d bytes: %v, want errCorrupt", i, err)
		}
	}
	if _, _, err := decodeSubscriber(append(bytes.Clone(rec), 0)); !errors.Is(err, errCorrupt) {
		t.Errorf("trailing byte: %v", err)
	}
	bad := bytes.Clone(rec)
	bad[0] = 9
	if _, _, err := decodeSubscriber(bad); !errors.Is(err, errCorrupt) {
		t.Errorf("unknown version: %v", err)
	}
	if _, err := decodeMME([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f}); !errors.Is(err, errCorrupt) {
		t.Errorf("huge length: %v", err)
	}
}

func FuzzDecodeSubscriber(f *testing.F) {
	f.Add(encodeSubscriber(sealedKeys{K: []byte{1}, OPc: []byte{2}}, storetest.Subscriber("001010000000001")))
	f.Add([]byte{1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		keys, s, err := decodeSubscriber(b)
		if err != nil {
			return
		}
		// What decodes re-encodes to the same bytes: no two encodings of a record.
		if again := encodeSubscriber(keys, s); !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n%x\n%x", b, again)
		}
	})
}

func FuzzDecodeMME(f *testing.F) {
	r := storetest.MMERegistration("mme1")
	enc, _ := encodeMME(&r)
	f.Add(enc)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeMME(b)
		if err != nil {
			return
		}
		if again, err := encodeMME(r); err != nil || !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n%x\n%x", b, again)
		}
	})
}

func TestUvarintLen(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 16383, 16384, 1<<63 - 1, 1 << 63, ^uint64(0)} {
		if got, want := uvarintLen(v), len(binary.AppendUvarint(nil, v)); got != want {
			t.Errorf("uvarintLen(%d) = %d, want %d", v, got, want)
		}
	}
	for _, v := range []int64{0, 1, -1, 63, -64, 64, -65, 1<<62 + 5, -1 << 63} {
		if got, want := uvarintLen(zigzag(v)), len(binary.AppendVarint(nil, v)); got != want {
			t.Errorf("varint length of %d = %d, want %d", v, got, want)
		}
	}
}
