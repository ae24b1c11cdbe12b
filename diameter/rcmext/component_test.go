package rcmext_test

import (
	"context"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/diameter/rcmext"
	"github.com/rcmhss/rcmhss/diameter/s6a"
	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/rcm"
)

var (
	authnRejected = diameter.Result{Code: 4001}
	authzRejected = diameter.Result{Code: 5003}
)

// device is one RCM device attaching through the test MME.
type device struct {
	cred rcm.DeviceCredentials
	sess *rcm.DeviceSession
	boot rcm.Bootstrap
}

func newDevice(t *testing.T, cred rcm.DeviceCredentials, at time.Time) *device {
	t.Helper()
	s, err := rcm.NewDeviceSession(cred)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Bootstrap(guestIMSI, homePLMN, at)
	if err != nil {
		t.Fatal(err)
	}
	return &device{cred: cred, sess: s, boot: b}
}

func (d *device) avp(t *testing.T, vendor uint32) *diam.AVP {
	t.Helper()
	a, err := rcmext.EncodeBootstrap(&d.boot, vendor)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// checkBound plays the device on an accepted AIA: it authenticates the HSS
// against its pinned root and recomputes every vector's KASME from the guest
// AKA and its own ephemeral key.
func checkBound(t *testing.T, e *env, d *device, ans *diam.Message, vendor uint32) {
	t.Helper()
	if r := resultOf(t, ans); r != diameter.Success {
		t.Fatalf("AIA result %v, want 2001", r)
	}
	vs := vectors(t, ans)
	if len(vs) != 2 {
		t.Fatalf("%d vectors, want 2", len(vs))
	}
	proof, err := rcmext.DecodeBindingInfo(ans, vendor)
	if err != nil {
		t.Fatalf("RCM-Binding-Info: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(e.root.cert)
	for i, v := range vs {
		kg := guestKASME(t, v)
		kb, err := d.sess.Finish(proof.HSSEphemeral, proof.Signature, proof.CertChain, roots, kg, v.rand)
		if err != nil {
			t.Fatalf("vector %d: device cannot finish: %v", i, err)
		}
		if kb != v.kasme {
			t.Errorf("vector %d: AIA KASME is not the device's KASME_bound", i)
		}
		if v.kasme == kg {
			t.Errorf("vector %d: AIA carries KASME_guest", i)
		}
	}
	// A device pinning another root does not accept this HSS.
	other := x509.NewCertPool()
	other.AddCert(newCA(t, "other root").cert)
	if _, err := d.sess.Finish(proof.HSSEphemeral, proof.Signature, proof.CertChain, other, guestKASME(t, vs[0]), vs[0].rand); !errors.Is(err, rcm.ErrHSSUnauthenticated) {
		t.Errorf("Finish against a foreign root: %v", err)
	}
}

func lastAudit(t *testing.T, e *env) rcm.AuditEntry {
	t.Helper()
	all, err := e.store.ListAudit(context.Background(), 0, 1000)
	if err != nil || len(all) == 0 {
		t.Fatalf("audit: %d entries, %v", len(all), err)
	}
	if err := rcm.VerifyChain(all); err != nil {
		t.Fatal(err)
	}
	return all[len(all)-1]
}

func TestProvisioningAttach(t *testing.T) {
	e := newEnv(t, envOpts{})
	dev := imei("35000001123456")
	cred, _ := e.vendor.device(t, dev, dev, certOpts{})
	d := newDevice(t, cred, time.Now())
	ans := e.do(t, mme1, air(guestIMSI, 2, d.avp(t, rcmext.DefaultVendorID)))
	checkBound(t, e, d, ans, rcmext.DefaultVendorID)
	if a := lastAudit(t, e); a.Event != rcm.AuditBound || a.IMEI != dev {
		t.Errorf("last audit %+v, want bound for %s", a, dev)
	}

	// ULR with the certified IMEI: the restricted subscription only.
	ula := e.do(t, mme1, ulr(mme1, guestIMSI, dev.TACSNR()))
	if r := resultOf(t, ula); r != diameter.Success {
		t.Fatalf("ULA %v", r)
	}
	checkRestricted(t, ula)

	// ULR naming another device: refused, audited, no subscription.
	ula = e.do(t, mme1, ulr(mme1, guestIMSI, "35000001999999"))
	if r := resultOf(t, ula); r != authzRejected {
		t.Fatalf("ULR with another IMEI: %v, want 5003", r)
	}
	if find(ula.AVP, codeSubscriptionData, s6a.VendorID) != nil {
		t.Error("refused ULA carries Subscription-Data")
	}
	if a := lastAudit(t, e); a.Event != rcm.AuditULRRejected || !strings.Contains(a.Reason, rcm.ErrIMEIMismatch.Error()) {
		t.Errorf("last audit %+v", a)
	}
}

// checkRestricted: one APN, the provisioning one, AMBR within the cap, no
// MSISDN (RCM.md step 3, docs/rcm-crypto.md section 10).
func checkRestricted(t *testing.T, ula *diam.Message) {
	t.Helper()
	sd := members(t, find(ula.AVP, codeSubscriptionData, s6a.VendorID))
	if find(sd, codeMSISDN, s6a.VendorID) != nil {
		t.Error("guest ULA carries an MSISDN")
	}
	prof := members(t, find(sd, codeAPNConfigurationProfile, s6a.VendorID))
	apns := findAll(prof, codeAPNConfiguration, s6a.VendorID)
	if len(apns) != 1 {
		t.Fatalf("guest ULA has %d APN configurations, want 1", len(apns))
	}
	if name := string(octets(t, find(members(t, apns[0]), codeServiceSelection, 0))); name != "rcm.provisioning" {
		t.Errorf("APN %q, want the provisioning APN", name)
	}
	ambr := members(t, find(sd, codeAMBR, s6a.VendorID))
	if ul := octets(t, find(ambr, codeMaxBandwidthUL, s6a.VendorID)); len(ul) != 4 ||
		uint32(ul[0])<<24|uint32(ul[1])<<16|uint32(ul[2])<<8|uint32(ul[3]) > rcm.MaxProvisioningAMBR {
		t.Errorf("AMBR UL %x above the provisioning cap", ul)
	}
}

// TestRejections: every refusal over the wire with its documented code
// (docs/rcm-crypto.md section 7), no vector, no binding proof, and an audit
// entry naming the cause.
func TestRejections(t *testing.T) {
	e := newEnv(t, envOpts{cfg: func(c *rcm.Config) { c.RateLimits.PerIMEI = rcm.RateLimit{Limit: 3, Window: time.Hour} }})
	ctx := context.Background()
	unknown := newCA(t, "unregistered vendor")
	n := 0
	next := func() rcm.IMEI { n++; return imei("350000010000" + string(rune('0'+n/10)) + string(rune('0'+n%10))) }

	type tc struct {
		name  string
		setup func(t *testing.T) *diam.Message
		want  diameter.Result
		cause error
	}
	good := func(t *testing.T, o certOpts, at time.Time) (*device, rcm.IMEI) {
		dev := next()
		cred, _ := e.vendor.device(t, dev, dev, o)
		return newDevice(t, cred, at), dev
	}
	cases := []tc{
		{"NoBootstrap", func(t *testing.T) *diam.Message { return air(guestIMSI, 1) }, authnRejected, rcm.ErrNoBootstrap},
		{"UnknownCA", func(t *testing.T) *diam.Message {
			dev := next()
			cred, _ := unknown.device(t, dev, dev, certOpts{})
			return air(guestIMSI, 1, newDevice(t, cred, time.Now()).avp(t, rcmext.DefaultVendorID))
		}, authnRejected, rcm.ErrUnknownCA},
		{"ExpiredCert", func(t *testing.T) *diam.Message {
			d, _ := good(t, certOpts{notBefore: time.Now().Add(-48 * time.Hour), notAfter: time.Now().Add(-time.Hour)}, time.Now())
			return air(guestIMSI, 1, d.avp(t, rcmext.DefaultVendorID))
		}, authnRejected, rcm.ErrCertExpired},
		{"NotYetValidCert", func(t *testing.T) *diam.Message {
			d, _ := good(t, certOpts{notBefore: time.Now().Add(time.Hour)}, time.Now())
			return air(guestIMSI, 1, d.avp(t, rcmext.DefaultVendorID))
		}, authnRejected, rcm.ErrCertNotYetValid},
		{"RevokedIMEI", func(t *testing.T) *diam.Message {
			d, dev := good(t, certOpts{}, time.Now())
			if err := e.store.RevokeIMEI(ctx, dev); err != nil {
				t.Fatal(err)
			}
			return air(guestIMSI, 1, d.avp(t, rcmext.DefaultVendorID))
		}, authzRejected, rcm.ErrIMEIRevoked},
		{"RevokedSerial", func(t *testing.T) *diam.Message {
			dev := next()
			cred, cert := e.vendor.device(t, dev, dev, certOpts{})
			if err := e.store.RevokeSerial(ctx, rcm.SerialRevocation{Issuer: rcm.FingerprintOf(e.vendor.cert.Raw), Serial: cert.SerialNumber.Text(16)}); err != nil {
				t.Fatal(err)
			}
			return air(guestIMSI, 1, newDevice(t, cred, time.Now()).avp(t, rcmext.DefaultVendorID))
		}, authnRejected, rcm.ErrSerialRevoked},
		{"CRLListed", func(t *testing.T) *diam.Message {
			dev := next()
			cred, cert := e.vendor.device(t, dev, dev, certOpts{})
			if err := e.store.AddCRL(ctx, rcm.FingerprintOf(e.vendor.cert.Raw), e.vendor.crl(t, cert.SerialNumber)); err != nil {
				t.Fatal(err)
			}
			return air(guestIMSI, 1, newDevice(t, cred, time.Now()).avp(t, rcmext.DefaultVendorID))
		}, authnRejected, rcm.ErrCRLRevoked},
		{"IMEIMismatch", func(t *testing.T) *diam.Message {
			cred, _ := e.vendor.device(t, next(), next(), certOpts{})
			return air(guestIMSI, 1, newDevice(t, cred, time.Now()).avp(t, rcmext.DefaultVendorID))
		}, authnRejected, rcm.ErrIMEIMismatch},
		{"IMEIOutsideProfile", func(t *testing.T) *diam.Message {
			dev := imei("35999999000001") // another TAC
			cred, _ := e.vendor.device(t, dev, dev, certOpts{})
			return air(guestIMSI, 1, newDevice(t, cred, time.Now()).avp(t, rcmext.DefaultVendorID))
		}, authzRejected, rcm.ErrIMEINotCovered},
		{"BadSignature", func(t *testing.T) *diam.Message {
			d, _ := good(t, certOpts{}, time.Now())
			d.boot.Timestamp++ // the signature no longer covers the transcript
			return air(guestIMSI, 1, d.avp(t, rcmext.DefaultVendorID))
		}, authnRejected, rcm.ErrBadSignature},
		{"StaleTimestamp", func(t *testing.T) *diam.Message {
			d, _ := good(t, certOpts{}, time.Now().Add(-time.Hour))
			return air(guestIMSI, 1, d.avp(t, rcmext.DefaultVendorID))
		}, authnRejected, rcm.ErrStaleTimestamp},
		{"Replay", func(t *testing.T) *diam.Message {
			d, _ := good(t, certOpts{}, time.Now())
			first := e.do(t, mme1, air(guestIMSI, 1, d.avp(t, rcmext.DefaultVendorID)))
			if r := resultOf(t, first); r != diameter.Success {
				t.Fatalf("first AIR %v", r)
			}
			return air(guestIMSI, 1, d.avp(t, rcmext.DefaultVendorID)) // captured and sent again
		}, authnRejected, rcm.ErrReplay},
		{"RateLimit", func(t *testing.T) *diam.Message {
			dev := next()
			cred, _ := e.vendor.device(t, dev, dev, certOpts{})
			for range 3 {
				if r := resultOf(t, e.do(t, mme1, air(guestIMSI, 1, newDevice(t, cred, time.Now()).avp(t, rcmext.DefaultVendorID)))); r != diameter.Success {
					t.Fatalf("attempt within the limit: %v", r)
				}
			}
			return air(guestIMSI, 1, newDevice(t, cred, time.Now()).avp(t, rcmext.DefaultVendorID))
		}, diameter.Result{Code: 4181, Experimental: true, VendorID: 10415}, rcm.ErrRateLimited},
		{"NotProvisioning", func(t *testing.T) *diam.Message {
			d, _ := good(t, certOpts{}, time.Now())
			d.boot.ConnectionType = rcm.ConnectionNormal
			return air(guestIMSI, 1, d.avp(t, rcmext.DefaultVendorID))
		}, authzRejected, rcm.ErrNotProvisioning},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ans := e.do(t, mme1, c.setup(t))
			if r := resultOf(t, ans); r != c.want {
				t.Fatalf("result %v, want %v", r, c.want)
			}
			if len(vectors(t, ans)) != 0 || find(ans.AVP, codeAuthenticationInfo, s6a.VendorID) != nil {
				t.Error("refused AIA carries vectors")
			}
			if find(ans.AVP, rcmext.CodeBindingInfo, rcmext.DefaultVendorID) != nil {
				t.Error("refused AIA carries RCM-Binding-Info")
			}
			a := lastAudit(t, e)
			if a.Event != rcm.AuditRejected || !strings.Contains(a.Reason, c.cause.Error()) {
				t.Errorf("last audit %+v, want rejected for %q", a, c.cause)
			}
		})
	}
}

// TestMalformedBootstrap: undecodable bootstrap AVPs get 5004/5005 with
// Failed-AVP, no vector, and an audit entry.
func TestMalformedBootstrap(t *testing.T) {
	e := newEnv(t, envOpts{})
	v := uint32(rcmext.DefaultVendorID)
	rcmAVP := func(code uint32, d datatype.Type) *diam.AVP { return diam.NewAVP(code, avp.Vbit, v, d) }
	for _, c := range []struct {
		name string
		boot *diam.AVP
		want uint32
	}{
		{"ChainFraming", rcmAVP(rcmext.CodeBootstrapInfo, &diam.GroupedAVP{AVP: []*diam.AVP{
			rcmAVP(rcmext.CodeConnectionType, datatype.Enumerated(1)),
			rcmAVP(rcmext.CodeIMEI, datatype.UTF8String(imei("35000001000001"))),
			rcmAVP(rcmext.CodeCertificateChain, datatype.OctetString("\x00\x00\x00\x09abc")),
			rcmAVP(rcmext.CodeDeviceEphemeralKey, datatype.OctetString(make([]byte, 65))),
			rcmAVP(rcmext.CodeTimestamp, datatype.Unsigned64(1)),
			rcmAVP(rcmext.CodeDeviceSignature, datatype.OctetString("sig")),
		}}), 5004},
		{"MissingSignature", rcmAVP(rcmext.CodeBootstrapInfo, &diam.GroupedAVP{AVP: []*diam.AVP{
			rcmAVP(rcmext.CodeConnectionType, datatype.Enumerated(1)),
		}}), 5005},
		{"BadPoint", func() *diam.AVP {
			a, err := rcmext.EncodeBootstrap(&rcm.Bootstrap{ConnectionType: 1, IMEI: imei("35000001000001"),
				CertChain: [][]byte{e.vendor.cert.Raw}, DeviceEphemeral: make([]byte, 65), Timestamp: uint64(time.Now().Unix()), Signature: []byte{1}}, v)
			if err != nil {
				t.Fatal(err)
			}
			return a
		}(), 5004},
	} {
		t.Run(c.name, func(t *testing.T) {
			ans := e.do(t, mme1, air(guestIMSI, 1, c.boot))
			if r := resultOf(t, ans); r != (diameter.Result{Code: c.want}) {
				t.Fatalf("result %v, want %d", r, c.want)
			}
			if find(ans.AVP, avp.FailedAVP, 0) == nil {
				t.Error("no Failed-AVP")
			}
			if len(vectors(t, ans)) != 0 {
				t.Error("vectors in a refused AIA")
			}
			if a := lastAudit(t, e); a.Event != rcm.AuditRejected || !strings.Contains(a.Reason, rcm.ErrMalformedBootstrap.Error()) {
				t.Errorf("last audit %+v", a)
			}
		})
	}
}

// TestCompatMode: an AIR without bootstrap gets a plain guest vector and the
// ULA still only the restricted subscription; an AIR with bootstrap is still
// verified and bound.
func TestCompatMode(t *testing.T) {
	e := newEnv(t, envOpts{cfg: func(c *rcm.Config) { c.Compat = true }})
	ans := e.do(t, mme1, air(guestIMSI, 2))
	if r := resultOf(t, ans); r != diameter.Success {
		t.Fatalf("compat AIR %v", r)
	}
	vs := vectors(t, ans)
	if len(vs) != 2 {
		t.Fatalf("%d vectors", len(vs))
	}
	for _, v := range vs {
		if guestKASME(t, v) != v.kasme {
			t.Error("compat vector KASME is not KASME_guest")
		}
	}
	if find(ans.AVP, rcmext.CodeBindingInfo, rcmext.DefaultVendorID) != nil {
		t.Error("compat AIA carries RCM-Binding-Info")
	}
	if a := lastAudit(t, e); a.Event != rcm.AuditCompatGuest {
		t.Errorf("last audit %+v", a)
	}
	ula := e.do(t, mme1, ulr(mme1, guestIMSI, "35000001999999"))
	if r := resultOf(t, ula); r != diameter.Success {
		t.Fatalf("compat ULA %v", r)
	}
	checkRestricted(t, ula)

	dev := imei("35000001000002")
	cred, _ := e.vendor.device(t, dev, dev, certOpts{})
	d := newDevice(t, cred, time.Now())
	checkBound(t, e, d, e.do(t, mme1, air(guestIMSI, 2, d.avp(t, rcmext.DefaultVendorID))), rcmext.DefaultVendorID)
}

// TestGuestNeverGetsFullSubscription: someone provisions a full subscription
// on a guest IMSI directly in the HSS (bypassing the admin guard); the ULA is
// still the restricted one, and the record never reaches a normal ULA.
func TestGuestNeverGetsFullSubscription(t *testing.T) {
	e := newEnv(t, envOpts{})
	full := &hss.Subscriber{IMSI: guestIMSI, K: guestK, OPc: guestOPc, AMF: guestAMF, MSISDN: "33612345678",
		Status: hss.ServiceGranted, NetworkAccessMode: hss.OnlyPacket, AMBR: hss.AMBR{UL: 50_000_000, DL: 100_000_000},
		DefaultContextID: 1, APNs: []hss.APNConfiguration{
			{ContextID: 1, Name: "internet", PDNType: hss.PDNIPv4v6, QCI: 9, ARP: hss.ARP{PriorityLevel: 8}},
			{ContextID: 2, Name: "ims", PDNType: hss.PDNIPv4, QCI: 5, ARP: hss.ARP{PriorityLevel: 1}},
		}}
	if err := e.hss.CreateSubscriber(context.Background(), full); err != nil {
		t.Fatal(err)
	}
	dev := imei("35000001000003")
	cred, _ := e.vendor.device(t, dev, dev, certOpts{})
	d := newDevice(t, cred, time.Now())
	checkBound(t, e, d, e.do(t, mme1, air(guestIMSI, 2, d.avp(t, rcmext.DefaultVendorID))), rcmext.DefaultVendorID)
	ula := e.do(t, mme1, ulr(mme1, guestIMSI, string(dev)))
	if r := resultOf(t, ula); r != diameter.Success {
		t.Fatalf("ULA %v", r)
	}
	checkRestricted(t, ula)

	// A guest record whose keys were changed yields no vector at all.
	if _, err := e.hss.UpdateSubscriber(context.Background(), guestIMSI, func(s *hss.Subscriber) error {
		s.K = mustKey("000102030405060708090a0b0c0d0e0f")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	d2 := newDevice(t, cred, time.Now())
	ans := e.do(t, mme1, air(guestIMSI, 2, d2.avp(t, rcmext.DefaultVendorID)))
	if r := resultOf(t, ans); r == diameter.Success || len(vectors(t, ans)) != 0 {
		t.Fatalf("tampered guest record: result %v with %d vectors", r, len(vectors(t, ans)))
	}
}

// TestGuestRecordCreatedAndNoUTRAN: the first AIR creates the guest SQN
// record; a request for UTRAN vectors gets none (cannot be bound).
func TestGuestRecordCreatedAndNoUTRAN(t *testing.T) {
	e := newEnv(t, envOpts{})
	dev := imei("35000001000004")
	cred, _ := e.vendor.device(t, dev, dev, certOpts{})
	d := newDevice(t, cred, time.Now())
	req := air(guestIMSI, 2, d.avp(t, rcmext.DefaultVendorID),
		grouped(codeRequestedUTRANAuthInfo, v3gpp(codeNumberOfRequestedVecs, datatype.Unsigned32(3))))
	ans := e.do(t, mme1, req)
	checkBound(t, e, d, ans, rcmext.DefaultVendorID)
	if u := findAll(members(t, find(ans.AVP, codeAuthenticationInfo, s6a.VendorID)), codeUTRANVector, s6a.VendorID); len(u) != 0 {
		t.Errorf("guest got %d UTRAN vectors", len(u))
	}
	s, err := e.hss.GetSubscriber(context.Background(), guestIMSI)
	if err != nil {
		t.Fatalf("guest record: %v", err)
	}
	if s.MSISDN != "" || len(s.APNs) != 1 || s.K != guestK {
		t.Errorf("guest record is not the restricted one: %d APNs", len(s.APNs))
	}
}

// TestOtherVendorID: with a vendor id other than dict/rcm.xml's, the AVPs
// are still matched and built with it (go-diameter sees opaque values).
func TestOtherVendorID(t *testing.T) {
	const vendor = 99999
	e := newEnv(t, envOpts{vendorID: vendor})
	dev := imei("35000001000005")
	cred, _ := e.vendor.device(t, dev, dev, certOpts{})
	d := newDevice(t, cred, time.Now())
	ans := e.do(t, mme1, air(guestIMSI, 2, d.avp(t, vendor)))
	checkBound(t, e, d, ans, vendor)
	// The same AVPs under the default vendor id are someone else's: ignored,
	// so this is an AIR without bootstrap.
	d2 := newDevice(t, cred, time.Now())
	if r := resultOf(t, e.do(t, mme1, air(guestIMSI, 1, d2.avp(t, rcmext.DefaultVendorID)))); r != authnRejected {
		t.Fatalf("bootstrap under a foreign vendor id: %v, want 4001", r)
	}
}

// TestBindingExpirySendsCLR: when the binding's lifetime is over, Run sends
// the serving MME a CLR (SUBSCRIPTION_WITHDRAWAL) and the binding is gone.
func TestBindingExpirySendsCLR(t *testing.T) {
	e := newEnv(t, envOpts{})
	dev := imei("35000001000006")
	cred, _ := e.vendor.device(t, dev, dev, certOpts{})
	d := newDevice(t, cred, time.Now())
	checkBound(t, e, d, e.do(t, mme2, request(cmdAIR, mme2, guestIMSI,
		grouped(codeRequestedEUTRANAuthInfo, v3gpp(codeNumberOfRequestedVecs, datatype.Unsigned32(2))),
		v3gpp(codeVisitedPLMNID, datatype.OctetString(homePLMN[:])), d.avp(t, rcmext.DefaultVendorID))), rcmext.DefaultVendorID)
	if r := resultOf(t, e.do(t, mme2, ulr(mme2, guestIMSI, dev.TACSNR()))); r != diameter.Success {
		t.Fatalf("ULA %v", r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = e.ext.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	select {
	case m := <-e.mme(mme2).Received():
		t.Fatalf("request before expiry: command %d", m.Header.CommandCode)
	case <-time.After(50 * time.Millisecond): // several ticks: nothing is due yet
	}
	e.clock.Store(int64(rcm.DefaultConfig().BindingLifetime + time.Second))
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	for {
		select {
		case m := <-e.mme(mme2).Received():
			if m.Header.CommandCode != cmdCLR {
				continue // DWR
			}
			if u := string(octets(t, find(m.AVP, avp.UserName, 0))); u != string(guestIMSI) {
				t.Errorf("CLR for %q", u)
			}
			if ct := octets(t, find(m.AVP, codeCancellationType, s6a.VendorID)); ct[3] != 2 {
				t.Errorf("Cancellation-Type %x, want SUBSCRIPTION_WITHDRAWAL", ct)
			}
			if h := string(octets(t, find(m.AVP, avp.DestinationHost, 0))); h != mme2 {
				t.Errorf("Destination-Host %q", h)
			}
			if _, err := e.store.GetBinding(context.Background(), guestIMSI); !errors.Is(err, rcm.ErrNoBinding) {
				t.Errorf("binding still there: %v", err)
			}
			if a := lastAudit(t, e); a.Event != rcm.AuditExpired {
				t.Errorf("last audit %+v", a)
			}
			return
		case <-timer.C:
			t.Fatal("no CLR after the binding expired")
		}
	}
}

// TestGuestMMEChange: the AIR came through mme1, the ULR through mme2: the
// binding follows mme2 and mme1 gets a CLR (TS 29.272 5.2.1.1.3).
func TestGuestMMEChange(t *testing.T) {
	e := newEnv(t, envOpts{})
	dev := imei("35000001000007")
	cred, _ := e.vendor.device(t, dev, dev, certOpts{})
	d := newDevice(t, cred, time.Now())
	checkBound(t, e, d, e.do(t, mme1, air(guestIMSI, 2, d.avp(t, rcmext.DefaultVendorID))), rcmext.DefaultVendorID)
	if r := resultOf(t, e.do(t, mme2, ulr(mme2, guestIMSI, dev.TACSNR()))); r != diameter.Success {
		t.Fatalf("ULA %v", r)
	}
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	for {
		select {
		case m := <-e.mme(mme1).Received():
			if m.Header.CommandCode != cmdCLR {
				continue
			}
			if u := string(octets(t, find(m.AVP, avp.UserName, 0))); u != string(guestIMSI) {
				t.Errorf("CLR for %q", u)
			}
			b, err := e.store.GetBinding(context.Background(), guestIMSI)
			if err != nil || b.MMEHost != mme2 {
				t.Errorf("binding %+v, %v; want it on %s", b, err, mme2)
			}
			return
		case <-timer.C:
			t.Fatal("the previous MME got no CLR")
		}
	}
}

// TestNonGuestUnaffected: with the extension in place, an IMSI outside the
// guest ranges is the HSS's as before: its full subscription, no RCM AVPs.
func TestNonGuestUnaffected(t *testing.T) {
	e := newEnv(t, envOpts{})
	const imsi = hss.IMSI("001010000000001")
	if err := e.hss.CreateSubscriber(context.Background(), &hss.Subscriber{IMSI: imsi, K: guestK, OPc: guestOPc, AMF: guestAMF,
		MSISDN: "33612345678", Status: hss.ServiceGranted, NetworkAccessMode: hss.OnlyPacket,
		AMBR: hss.AMBR{UL: 50_000_000, DL: 100_000_000}, DefaultContextID: 1,
		APNs: []hss.APNConfiguration{{ContextID: 1, Name: "internet", PDNType: hss.PDNIPv4v6, QCI: 9, ARP: hss.ARP{PriorityLevel: 8}}}}); err != nil {
		t.Fatal(err)
	}
	ans := e.do(t, mme1, air(imsi, 1))
	vs := vectors(t, ans)
	if resultOf(t, ans) != diameter.Success || len(vs) != 1 || guestKASME(t, vs[0]) != vs[0].kasme {
		t.Fatalf("subscriber AIR: %v, %d vectors", resultOf(t, ans), len(vs))
	}
	if find(ans.AVP, rcmext.CodeBindingInfo, rcmext.DefaultVendorID) != nil {
		t.Error("subscriber AIA carries RCM-Binding-Info")
	}
	ula := e.do(t, mme1, ulr(mme1, imsi, "35609204079301"))
	if resultOf(t, ula) != diameter.Success || find(members(t, find(ula.AVP, codeSubscriptionData, s6a.VendorID)), codeMSISDN, s6a.VendorID) == nil {
		t.Fatalf("subscriber ULA lacks its MSISDN")
	}
	if all, _ := e.store.ListAudit(context.Background(), 0, 10); len(all) != 0 {
		t.Errorf("a subscriber attach left %d RCM audit entries", len(all))
	}
}
