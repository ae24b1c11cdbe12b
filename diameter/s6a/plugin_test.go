package s6a

import (
	"strings"
	"testing"

	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"

	"github.com/rcmhss/rcmhss/hss"
)

func TestConfigValidate(t *testing.T) {
	if err := testConfig().Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	err := Config{RequestTimeout: -1}.Validate()
	if err == nil {
		t.Fatal("empty config accepted")
	}
	for _, want := range []string{"origin host", "origin realm", "request timeout"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestPluginIdentity(t *testing.T) {
	p := New(testConfig(), nil, nil, nil)
	if p.Name() != "S6a" || p.AppID() != 16777251 || p.VendorID() != 10415 {
		t.Errorf("identity %s %d %d", p.Name(), p.AppID(), p.VendorID())
	}
	cmds := p.Commands()
	for _, code := range []uint32{316, 318, 321, 323} {
		if cmds[code] == nil {
			t.Errorf("no handler for %d", code)
		}
	}
	if len(cmds) != 4 {
		t.Errorf("%d handlers, want 4", len(cmds))
	}
	// Session-Ids are unique and name this HSS (RFC 6733 8.8).
	reg := &hss.MMERegistration{Host: mme1, Realm: mmeRealm}
	sid := func() string {
		a, err := p.newRequest(cmdCancelLocation, testIMSI, reg).FindAVP(avp.SessionID, 0)
		if err != nil {
			t.Fatal(err)
		}
		return string(a.Data.(datatype.UTF8String))
	}
	a, b := sid(), sid()
	if a == b || !strings.HasPrefix(a, hssHost+";") {
		t.Errorf("session ids %q %q", a, b)
	}
}
