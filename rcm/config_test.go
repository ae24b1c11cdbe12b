package rcm

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rcmhss/rcmhss/hss"
)

func TestConfigValidate(t *testing.T) {
	if err := testConfig().Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	if err := DefaultConfig().Validate(); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("default config has no guest range or keys, err = %v", err)
	}
	bad := testConfig()
	bad.Guest.Ranges = []IMSIRange{{Prefix: "001"}, {First: "001019990000009", Last: "001019990000001"}, {Prefix: "00101", First: "001010000000001"}, {First: "00101999000000", Last: "001019990000001"}}
	bad.Guest.OPc = hss.Key{}
	bad.Guest.APN = "internet.*"
	bad.Guest.AMBR.DL = MaxProvisioningAMBR + 1
	bad.BindingLifetime = 0
	bad.TimestampWindow = 2 * time.Hour
	bad.RateLimits.PerTAC = RateLimit{Limit: 5}
	bad.RateLimits.PerIMEI.Limit = -1
	err := bad.Validate()
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"ranges[0].prefix", "ranges[1]: first is after last", "ranges[2]: give either", "ranges[3]: first and last must have the same length",
		"guest.opc", "guest.apn", "guest.ambr.dl", "binding_lifetime", "timestamp_window", "per_tac.window", "per_imei.limit"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate did not report %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), testConfig().Guest.K.Hex()) {
		t.Fatal("the error prints the guest K")
	}
}

func TestGuestRangeContains(t *testing.T) {
	g := GuestRange{Ranges: []IMSIRange{{Prefix: "00101999"}, {First: "310410000000100", Last: "310410000000199"}}}
	for imsi, want := range map[hss.IMSI]bool{
		"001019990000001":  true,
		"00101999":         true,
		"001019980000001":  false,
		"310410000000100":  true,
		"310410000000150":  true,
		"310410000000199":  true,
		"310410000000200":  false,
		"31041000000015":   false, // shorter: not in a same-length range
		"3104100000001500": false,
	} {
		if got := g.Contains(imsi); got != want {
			t.Errorf("Contains(%s) = %v, want %v", imsi, got, want)
		}
	}
	m := testConfig().Guest.Material()
	if m.K != testConfig().Guest.K || m.AMF != [2]byte{0x80, 0} {
		t.Fatal("Material does not carry the guest K/AMF")
	}
}

func TestDeviceProfileValidate(t *testing.T) {
	ca := newCA(t, "Vendor", nil)
	leaf := ca.issue(t, "not a ca", &newKey(t).PublicKey, leafOpts{})
	good := DeviceProfile{ID: "p1", ProviderID: "acme", VendorCAs: [][]byte{ca.cert.Raw}, Coverage: Coverage{TACs: []string{"49015420"}}}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := DeviceProfile{ID: "p 1", VendorCAs: [][]byte{leaf.Raw, []byte("junk")}, Coverage: Coverage{
		IMEIs: []IMEI{"490154203237517"}, IMEIRanges: []IMEIRange{{First: "490154203237526", Last: "490154203237518"}},
		TACs: []string{"4901542"}, DeviceClasses: []string{""}}}
	err := bad.Validate()
	if !errors.Is(err, ErrInvalidProfile) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"id:", "provider_id", "vendor_cas[0]: not a CA", "vendor_cas[1]: not a DER", "imeis[0]", "imei_ranges[0]: first is after last", "tacs[0]", "device_classes[0]"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate did not report %q:\n%v", want, err)
		}
	}
	if err := (&DeviceProfile{ID: "p", ProviderID: "v", VendorCAs: [][]byte{ca.cert.Raw}}).Validate(); err == nil {
		t.Fatal("a profile covering nothing was accepted")
	}
}

func TestCoverage(t *testing.T) {
	c := Coverage{
		IMEIs:         []IMEI{"356938035643809"},
		IMEIRanges:    []IMEIRange{{First: "490154200000007", Last: "490154209999995"}},
		TACs:          []string{"35332510"},
		DeviceClasses: []string{"meter"},
	}
	for _, tc := range []struct {
		imei    IMEI
		classes []string
		want    bool
	}{
		{"356938035643809", nil, true},
		{"490154203237518", nil, true},
		{"490154210000003", nil, false},
		{"353325100000009", nil, true},
		{"111111111111116", []string{"sensor", "meter"}, true},
		{"111111111111116", []string{"sensor"}, false},
	} {
		if got := c.Covers(tc.imei, tc.classes); got != tc.want {
			t.Errorf("Covers(%s, %v) = %v, want %v", tc.imei, tc.classes, got, tc.want)
		}
	}
	if (Coverage{}).Covers("356938035643809", []string{"meter"}) {
		t.Fatal("empty coverage covers a device")
	}
}
