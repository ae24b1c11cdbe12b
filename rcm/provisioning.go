package rcm

import (
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/rcmhss/rcmhss/hss"
)

// Audit events of the provisioning server. Entries name the session's IMEI and
// the masked IMSI; never a key, an OPc or sealed bytes.
const (
	AuditSessionStarted AuditEvent = "session_started"
	AuditOfferDeclined  AuditEvent = "offer_declined"
	AuditNoProvider     AuditEvent = "no_provider"
	AuditRenewed        AuditEvent = "pre_registration_renewed"
	AuditSealed         AuditEvent = "credentials_sealed"
	AuditCodeRejected   AuditEvent = "activation_code_rejected"
	AuditSwapped        AuditEvent = "swapped"
	AuditSessionExpired AuditEvent = "session_expired"
)

// Labels of the device signatures and of the HPKE info (docs/rcm-crypto.md
// conventions: length-prefixed fields after a versioned label).
const (
	hpkeKeyLabel     = "rcmhss-rcm-hpke-key-v1"
	acceptanceLabel  = "rcmhss-rcm-accept-v1"
	credentialsLabel = "rcmhss-rcm-credentials-v1"
)

// HPKE suite for the credentials (RFC 9180 7.1-7.3): DHKEM(P-256,
// HKDF-SHA256), HKDF-SHA256, AES-128-GCM, in base mode.
func hpkeSuite() (hpke.KDF, hpke.AEAD) { return hpke.HKDFSHA256(), hpke.AES128GCM() }

// HPKEKeyDigest is what a device signs with its certificate key to present its
// HPKE key: SHA-256 over the label, its certificate fingerprint and the key.
func HPKEKeyDigest(cert Fingerprint, hpkeKey []byte) [32]byte {
	b := appendField(nil, []byte(hpkeKeyLabel))
	b = appendField(b, cert[:])
	return sha256.Sum256(appendField(b, hpkeKey))
}

// AcceptanceDigest is what a device signs to accept an offer: SHA-256 over the
// label, the session id and the offer id (issue 6: "acceptance is signed by
// the device key over the offer and the session id").
func AcceptanceDigest(sessionID, offerID string) [32]byte {
	b := appendField(nil, []byte(acceptanceLabel))
	b = appendField(b, []byte(sessionID))
	return sha256.Sum256(appendField(b, []byte(offerID)))
}

func credentialsInfo(sessionID string) []byte {
	return appendField(appendField(nil, []byte(credentialsLabel)), []byte(sessionID))
}

// Credentials are the subscription credentials delivered to the device (RCM.md
// step 4 "provisioned"). K and OPc redact themselves when printed.
type Credentials struct {
	IMSI       hss.IMSI
	K          hss.Key
	OPc        hss.Key
	AMF        [2]byte
	MSISDN     hss.MSISDN
	ProviderID string
	OfferID    string
}

// credentialsWire is the sealed plaintext; hex so that hss.Key's redacting
// JSON does not apply.
type credentialsWire struct {
	IMSI       string `json:"imsi"`
	K          string `json:"k"`
	OPc        string `json:"opc"`
	AMF        string `json:"amf"`
	MSISDN     string `json:"msisdn,omitempty"`
	ProviderID string `json:"provider_id"`
	OfferID    string `json:"offer_id"`
}

// SealCredentials seals c to the device's P-256 HPKE key, bound to the session
// by the HPKE info (RFC 9180 5.1), so that only that device, and only in this
// session, opens them.
func SealCredentials(deviceKey []byte, sessionID string, c *Credentials) ([]byte, error) {
	pub, err := ecdh.P256().NewPublicKey(deviceKey)
	if err != nil {
		return nil, fmt.Errorf("rcm: seal credentials: device key: %w", ErrMalformedBootstrap)
	}
	pk, err := hpke.NewDHKEMPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("rcm: seal credentials: %w", err)
	}
	pt, err := json.Marshal(credentialsWire{IMSI: string(c.IMSI), K: c.K.Hex(), OPc: c.OPc.Hex(), AMF: hex.EncodeToString(c.AMF[:]),
		MSISDN: string(c.MSISDN), ProviderID: c.ProviderID, OfferID: c.OfferID})
	if err != nil {
		return nil, fmt.Errorf("rcm: seal credentials: %w", err)
	}
	defer clear(pt)
	kdf, aead := hpkeSuite()
	ct, err := hpke.Seal(pk, kdf, aead, credentialsInfo(sessionID), pt)
	if err != nil {
		return nil, fmt.Errorf("rcm: seal credentials: %w", err)
	}
	return ct, nil
}

// ErrCredentialsUnreadable: the sealed credentials do not open with the
// device's key for this session.
var ErrCredentialsUnreadable = errors.New("sealed credentials do not open")

// OpenCredentials is the device side of SealCredentials.
func OpenCredentials(key *ecdh.PrivateKey, sessionID string, sealed []byte) (*Credentials, error) {
	sk, err := hpke.NewDHKEMPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("rcm: open credentials: %w", err)
	}
	kdf, aead := hpkeSuite()
	pt, err := hpke.Open(sk, kdf, aead, credentialsInfo(sessionID), sealed)
	if err != nil {
		return nil, fmt.Errorf("rcm: open credentials: %w", ErrCredentialsUnreadable)
	}
	defer clear(pt)
	var w credentialsWire
	if err := json.Unmarshal(pt, &w); err != nil {
		return nil, fmt.Errorf("rcm: open credentials: %w", ErrCredentialsUnreadable)
	}
	c := &Credentials{IMSI: hss.IMSI(w.IMSI), MSISDN: hss.MSISDN(w.MSISDN), ProviderID: w.ProviderID, OfferID: w.OfferID}
	var e1, e2 error
	c.K, e1 = hss.ParseKey(w.K)
	c.OPc, e2 = hss.ParseKey(w.OPc)
	amf, e3 := hex.DecodeString(w.AMF)
	if e1 != nil || e2 != nil || e3 != nil || len(amf) != 2 {
		return nil, fmt.Errorf("rcm: open credentials: %w", ErrCredentialsUnreadable)
	}
	copy(c.AMF[:], amf)
	return c, nil
}

// SubscriberCreator is what the provisioner needs of the HSS (*hss.HSS
// implements it): RCM.md step 5, patent message 662.
type SubscriberCreator interface {
	CreateSubscriber(ctx context.Context, s *hss.Subscriber) error
	GetSubscriber(ctx context.Context, imsi hss.IMSI) (*hss.Subscriber, error)
}

// Detacher cancels the guest registration of a device (RCM.md step 7,
// patent message 666): the S6a side sends a Cancel-Location-Request to the
// MME of the binding (and an RTR where a AAA server holds one).
type Detacher interface {
	Detach(ctx context.Context, b Binding) error
}

// DetacherFunc adapts a function (such as the S6a RCM extension's
// CancelBinding) to Detacher.
type DetacherFunc func(ctx context.Context, b Binding) error

// Detach implements Detacher.
func (f DetacherFunc) Detach(ctx context.Context, b Binding) error { return f(ctx, b) }

// ProvisioningConfig configures the Provisioner.
type ProvisioningConfig struct {
	// SessionLifetime bounds a session from start to confirmation; an
	// unconfirmed session expires and its IMSI returns to the pool.
	SessionLifetime time.Duration
	// RequireBinding refuses to start a session for a device with no live
	// guest binding on the guest IMSI it names (it must have attached). Off
	// only in compat mode, where mutual TLS is the device authentication.
	RequireBinding bool
}

// DefaultProvisioningConfig: 15 minutes, binding required.
func DefaultProvisioningConfig() ProvisioningConfig {
	return ProvisioningConfig{SessionLifetime: 15 * time.Minute, RequireBinding: true}
}

// Provisioner is the RCM server's domain (RCM.md steps 4 to 8, figures 5 and
// 6): sessions, offers, provisioning and the swap. All state is in the
// stores, so every node runs one and any of them continues any session.
type Provisioner struct {
	cfg      ProvisioningConfig
	store    ProvisioningStore
	rcm      Store
	verifier *Verifier
	hss      SubscriberCreator
	detacher Detacher
	sealer   *hss.KeySealer
	log      *slog.Logger
	now      func() time.Time
}

// NewProvisioner builds the provisioner. rcmCfg and rcmStore are the HSS's RCM
// configuration and store (profiles, revocations, bindings, audit); sealer
// protects pending keys in the provisioning store (hss.NewKeySealer).
func NewProvisioner(cfg ProvisioningConfig, rcmCfg Config, rcmStore Store, store ProvisioningStore, sub SubscriberCreator,
	detacher Detacher, sealer *hss.KeySealer, log *slog.Logger, opts ...ProvisionerOption) (*Provisioner, error) {
	if rcmStore == nil || store == nil || sub == nil || detacher == nil || sealer == nil || log == nil {
		return nil, errors.New("rcm: new provisioner: stores, hss, detacher, key sealer and logger are required")
	}
	if cfg.SessionLifetime <= 0 {
		return nil, fmt.Errorf("rcm: new provisioner: %w: session lifetime must be positive", ErrInvalidConfig)
	}
	v, err := NewVerifier(rcmCfg, rcmStore, rcmStore, rcmStore, rcmStore)
	if err != nil {
		return nil, err
	}
	p := &Provisioner{cfg: cfg, store: store, rcm: rcmStore, verifier: v, hss: sub, detacher: detacher, sealer: sealer, log: log, now: time.Now}
	for _, o := range opts {
		o(p)
	}
	return p, nil
}

// ProvisionerOption configures a Provisioner.
type ProvisionerOption func(*Provisioner)

// WithProvisionerClock replaces time.Now (tests).
func WithProvisionerClock(now func() time.Time) ProvisionerOption {
	return func(p *Provisioner) { p.now = now }
}

// Verifier returns the certificate verifier (the HTTP layer checks client
// certificates with it).
func (p *Provisioner) Verifier() *Verifier { return p.verifier }

// SessionView is what the device is told about its session.
type SessionView struct {
	ID            string       `json:"id"`
	State         SessionState `json:"state"`
	Offer         *OfferView   `json:"offer,omitempty"`
	PreRegistered bool         `json:"pre_registered,omitempty"`
	// Sealed is the HPKE-sealed Credentials, present once provisioned.
	Sealed    []byte    `json:"sealed,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	ExpiresAt time.Time `json:"expires_at"`
}

// StartRequest opens a session (RCM.md step 4, patent message 660).
type StartRequest struct {
	Device *CertifiedDevice
	// GuestIMSI is the guest identity the device attached with.
	GuestIMSI hss.IMSI
	// HPKEKey is a P-256 public key (uncompressed) and HPKESignature the
	// device's ECDSA signature over HPKEKeyDigest.
	HPKEKey       []byte
	HPKESignature []byte
}

// Start looks for a subscription for the device: a pre-registration is
// provisioned at once; otherwise the first offer of figure 5 is returned.
// With no provider at all the session fails with ErrNoProviderAvailable and
// the device is detached.
func (p *Provisioner) Start(ctx context.Context, r StartRequest) (SessionView, error) {
	const op = "rcm: start session: %w"
	if r.Device == nil {
		return SessionView{}, fmt.Errorf(op, hss.ErrInvalidInput)
	}
	d := r.Device
	if _, err := ecdh.P256().NewPublicKey(r.HPKEKey); err != nil {
		return SessionView{}, fmt.Errorf("rcm: start session: hpke key is not a P-256 point: %w", ErrMalformedBootstrap)
	}
	dg := HPKEKeyDigest(d.CertFingerprint, r.HPKEKey)
	if !ecdsa.VerifyASN1(d.Key, dg[:], r.HPKESignature) {
		return SessionView{}, fmt.Errorf("rcm: start session: hpke key: %w", ErrBadAcceptance)
	}
	now := p.now()
	var binding *Binding
	if r.GuestIMSI != "" {
		b, err := p.rcm.GetBinding(ctx, r.GuestIMSI)
		switch {
		case err == nil:
			if b.Expired(now) {
				return SessionView{}, fmt.Errorf(op, ErrBindingExpired)
			}
			if b.CertFingerprint != d.CertFingerprint {
				return SessionView{}, fmt.Errorf("rcm: start session: guest binding is another device's: %w", ErrIMEIMismatch)
			}
			binding = &b
		case !errors.Is(err, ErrNoBinding):
			return SessionView{}, fmt.Errorf(op, err)
		}
	}
	if binding == nil && p.cfg.RequireBinding {
		return SessionView{}, fmt.Errorf(op, ErrNoBinding)
	}
	id, err := newSessionID()
	if err != nil {
		return SessionView{}, fmt.Errorf(op, err)
	}
	s := Session{ID: id, State: StateAuthenticated, IMEI: d.IMEI, CertFingerprint: d.CertFingerprint, GuestIMSI: r.GuestIMSI,
		HPKEKey: append([]byte(nil), r.HPKEKey...), CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(p.cfg.SessionLifetime)}
	p.audit(ctx, AuditSessionStarted, s.GuestIMSI, d.IMEI, nil)

	// RCM.md step 4 "Found": a pre-registered (or renewable) subscription.
	pre, err := p.store.GetPreRegistration(ctx, d.IMEI)
	switch {
	case err == nil:
		covered, cerr := p.coveredBy(ctx, d, pre.ProviderID)
		if cerr != nil {
			return SessionView{}, fmt.Errorf(op, cerr)
		}
		if !covered {
			// A provider may pre-register only devices its own profiles
			// cover; otherwise it could capture another provider's devices.
			p.audit(ctx, AuditRejected, r.GuestIMSI, d.IMEI, errPreRegistrationNotCovered)
			break
		}
		if cur, ok, renewed := pre.Applies(now); ok {
			if renewed {
				if err := p.store.PutPreRegistration(ctx, cur); err != nil {
					return SessionView{}, fmt.Errorf(op, err)
				}
				p.audit(ctx, AuditRenewed, "", d.IMEI, nil)
			}
			s.PreRegistered, s.ProviderID, s.OfferID = true, cur.ProviderID, cur.OfferID
			if s, err = s.Transition(StateAccepted, now); err != nil {
				return SessionView{}, err
			}
			if err := p.store.CreateSession(ctx, s); err != nil {
				return SessionView{}, fmt.Errorf(op, err)
			}
			if s, err = p.store.GetSession(ctx, id); err != nil {
				return SessionView{}, fmt.Errorf(op, err)
			}
			return p.provision(ctx, s)
		}
	case !errors.Is(err, ErrNoPreRegistration):
		return SessionView{}, fmt.Errorf(op, err)
	}

	// Figure 5: every provider whose profiles cover the device, in turn.
	if s.Candidates, err = p.candidates(ctx, d); err != nil {
		return SessionView{}, fmt.Errorf(op, err)
	}
	if len(s.Candidates) == 0 {
		s, _ = s.Transition(StateFailed, now)
		s.Reason = ErrNoProviderAvailable.Error()
		if err := p.store.CreateSession(ctx, s); err != nil {
			return SessionView{}, fmt.Errorf(op, err)
		}
		p.noProvider(ctx, s, binding)
		return p.view(ctx, s), fmt.Errorf(op, ErrNoProviderAvailable)
	}
	s, _ = s.Transition(StateOffered, now)
	if err := p.store.CreateSession(ctx, s); err != nil {
		return SessionView{}, fmt.Errorf(op, err)
	}
	return p.view(ctx, s), nil
}

func newSessionID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// candidates lists the offers of every provider that owns a profile covering
// the device, providers by id, then offers by id.
func (p *Provisioner) candidates(ctx context.Context, d *CertifiedDevice) ([]Candidate, error) {
	providers, err := p.store.ListProviders(ctx)
	if err != nil {
		return nil, err
	}
	var out []Candidate
	for i := range providers {
		pr := &providers[i]
		var own []string
		for _, prof := range d.Profiles {
			// A provider covers the device through its own profiles only: a
			// profile id listed by another provider does not count.
			if prof.ProviderID == pr.ID {
				own = append(own, prof.ID)
			}
		}
		if !pr.coversAny(own) {
			continue
		}
		offers, err := p.store.ListOffers(ctx, pr.ID)
		if err != nil {
			return nil, err
		}
		for _, o := range offers {
			out = append(out, Candidate{ProviderID: pr.ID, OfferID: o.ID})
		}
	}
	return out, nil
}

var errPreRegistrationNotCovered = errors.New("pre-registration ignored: its provider does not cover the device")

// coveredBy reports whether the provider owns a profile covering the device.
func (p *Provisioner) coveredBy(ctx context.Context, d *CertifiedDevice, providerID string) (bool, error) {
	pr, err := p.store.GetProvider(ctx, providerID)
	if errors.Is(err, ErrUnknownProvider) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var own []string
	for _, prof := range d.Profiles {
		if prof.ProviderID == pr.ID {
			own = append(own, prof.ID)
		}
	}
	return pr.coversAny(own), nil
}

// noProvider records the figure-5 dead end and detaches the device.
func (p *Provisioner) noProvider(ctx context.Context, s Session, b *Binding) {
	p.audit(ctx, AuditNoProvider, s.GuestIMSI, s.IMEI, ErrNoProviderAvailable)
	if b == nil && s.GuestIMSI != "" {
		if got, err := p.rcm.GetBinding(ctx, s.GuestIMSI); err == nil && got.CertFingerprint == s.CertFingerprint {
			b = &got
		}
	}
	if b != nil {
		p.detach(ctx, *b)
	}
}

func (p *Provisioner) detach(ctx context.Context, b Binding) {
	if err := p.rcm.DeleteBinding(ctx, b.GuestIMSI); err != nil {
		p.log.ErrorContext(ctx, "rcm guest binding delete failed", "imsi", b.GuestIMSI, "err", err)
	}
	if err := p.detacher.Detach(ctx, b); err != nil {
		p.log.ErrorContext(ctx, "rcm detach failed", "imsi", b.GuestIMSI, "mme", b.MMEHost, "err", err)
	}
}

// session loads a session and checks it is the device's: another device's
// session is reported unknown, so ids cannot be probed.
func (p *Provisioner) session(ctx context.Context, id string, d *CertifiedDevice) (Session, error) {
	if d == nil {
		return Session{}, hss.ErrInvalidInput
	}
	s, err := p.store.GetSession(ctx, id)
	if err != nil {
		return Session{}, err
	}
	if s.CertFingerprint != d.CertFingerprint {
		return Session{}, ErrUnknownSession
	}
	return s, nil
}

// Get returns the device's session.
func (p *Provisioner) Get(ctx context.Context, id string, d *CertifiedDevice) (SessionView, error) {
	s, err := p.session(ctx, id, d)
	if err != nil {
		return SessionView{}, fmt.Errorf("rcm: get session: %w", err)
	}
	return p.view(ctx, s), nil
}

func (p *Provisioner) view(ctx context.Context, s Session) SessionView {
	v := SessionView{ID: s.ID, State: s.State, PreRegistered: s.PreRegistered, Reason: s.Reason, ExpiresAt: s.ExpiresAt}
	switch s.State {
	case StateOffered:
		if c, ok := s.current(); ok {
			if o, err := p.store.GetOffer(ctx, c.ProviderID, c.OfferID); err == nil {
				ov := o.View()
				v.Offer = &ov
			}
		}
	case StateProvisioned, StateConfirmed, StateSwapped:
		v.Sealed = s.Sealed
	}
	return v
}

// AcceptRequest accepts the offer on the table.
type AcceptRequest struct {
	SessionID string
	Device    *CertifiedDevice
	OfferID   string
	// Signature is the device's ECDSA signature over AcceptanceDigest.
	Signature      []byte
	ActivationCode string
}

// maxCASRetries bounds the re-reads after a lost compare-and-set.
const maxCASRetries = 4

// Accept checks the acceptance (signature, activation code with its attempt
// limit) and provisions. Retried for a session already provisioned with this
// offer, it returns the stored sealed credentials, byte for byte.
func (p *Provisioner) Accept(ctx context.Context, r AcceptRequest) (SessionView, error) {
	const op = "rcm: accept: %w"
	for range maxCASRetries {
		s, err := p.session(ctx, r.SessionID, r.Device)
		if err != nil {
			return SessionView{}, fmt.Errorf(op, err)
		}
		switch s.State {
		case StateProvisioned, StateConfirmed, StateSwapped:
			if s.OfferID != r.OfferID {
				return SessionView{}, fmt.Errorf(op, ErrWrongOffer)
			}
			return p.view(ctx, s), nil // exactly-once: the same sealed bytes
		case StateAccepted:
			if s.OfferID != r.OfferID {
				return SessionView{}, fmt.Errorf(op, ErrWrongOffer)
			}
			// A node died between acceptance and provisioning, or one is
			// provisioning now; provision's CAS lets exactly one win.
			return p.provision(ctx, s)
		case StateOffered:
		default:
			return SessionView{}, fmt.Errorf(op, &TransitionError{From: s.State, To: StateAccepted})
		}
		c, _ := s.current()
		if c.OfferID != r.OfferID {
			return SessionView{}, fmt.Errorf(op, ErrWrongOffer)
		}
		dg := AcceptanceDigest(s.ID, r.OfferID)
		if !ecdsa.VerifyASN1(r.Device.Key, dg[:], r.Signature) {
			return SessionView{}, fmt.Errorf(op, ErrBadAcceptance)
		}
		o, err := p.store.GetOffer(ctx, c.ProviderID, c.OfferID)
		if err != nil {
			return SessionView{}, fmt.Errorf(op, err)
		}
		now := p.now()
		if o.ActivationCode != nil && !o.ActivationCode.Check(r.ActivationCode) {
			s.CodeAttempts++
			locked := s.CodeAttempts >= o.codeAttempts()
			if locked {
				if s, err = s.Transition(StateFailed, now); err != nil {
					return SessionView{}, err
				}
				s.Reason = ErrActivationLocked.Error()
			}
			if _, err := p.store.UpdateSession(ctx, s); errors.Is(err, ErrSessionConflict) {
				continue
			} else if err != nil {
				return SessionView{}, fmt.Errorf(op, err)
			}
			p.audit(ctx, AuditCodeRejected, s.GuestIMSI, s.IMEI, ErrBadActivationCode)
			if locked {
				p.noProvider(ctx, s, nil)
				return SessionView{}, fmt.Errorf(op, ErrActivationLocked)
			}
			return SessionView{}, fmt.Errorf(op, ErrBadActivationCode)
		}
		if s, err = s.Transition(StateAccepted, now); err != nil {
			return SessionView{}, err
		}
		s.ProviderID, s.OfferID = c.ProviderID, c.OfferID
		if s, err = p.store.UpdateSession(ctx, s); errors.Is(err, ErrSessionConflict) {
			continue
		} else if err != nil {
			return SessionView{}, fmt.Errorf(op, err)
		}
		return p.provision(ctx, s)
	}
	return SessionView{}, fmt.Errorf(op, ErrSessionBusy)
}

// maxIMSISkips bounds how many pool numbers already held by an existing
// subscriber (provisioned outside RCM) allocation steps over.
const maxIMSISkips = 16

// provision turns an accepted session into a provisioned one: IMSI from the
// provider's pool, fresh K, OPc per the provider's policy, MSISDN from the
// template's pool, all sealed to the device. The plaintext exists only in this
// call; the session keeps the HPKE ciphertext and the keys sealed under the
// HSS KEK. If another node provisioned first, this one's numbers go back to
// the pool and the winner's sealed bytes are returned.
func (p *Provisioner) provision(ctx context.Context, s Session) (SessionView, error) {
	const op = "rcm: provision: %w"
	pr, err := p.store.GetProvider(ctx, s.ProviderID)
	if err != nil {
		return SessionView{}, p.fail(ctx, s, fmt.Errorf(op, err))
	}
	var imsi hss.IMSI
	for range maxIMSISkips {
		n, err := p.store.AllocateNumber(ctx, pr.ID, PoolIMSI, pr.IMSIPool)
		if err != nil {
			return SessionView{}, p.fail(ctx, s, fmt.Errorf(op, err))
		}
		if _, err := p.hss.GetSubscriber(ctx, hss.IMSI(n)); errors.Is(err, hss.ErrUnknownSubscriber) {
			imsi = hss.IMSI(n)
			break
		} else if err != nil {
			_ = p.store.ReleaseNumber(ctx, pr.ID, PoolIMSI, n)
			return SessionView{}, fmt.Errorf(op, err)
		}
		// Taken by a subscriber provisioned by other means: leave it allocated.
	}
	if imsi == "" {
		return SessionView{}, p.fail(ctx, s, fmt.Errorf(op, ErrPoolExhausted))
	}
	release := func() {
		_ = p.store.ReleaseNumber(ctx, pr.ID, PoolIMSI, string(imsi))
		if s.MSISDN != "" {
			_ = p.store.ReleaseNumber(ctx, pr.ID, PoolMSISDN, string(s.MSISDN))
		}
	}
	s.IMSI = imsi
	if len(pr.Template.MSISDNPool) > 0 {
		n, err := p.store.AllocateNumber(ctx, pr.ID, PoolMSISDN, pr.Template.MSISDNPool)
		if err != nil {
			release()
			return SessionView{}, p.fail(ctx, s, fmt.Errorf(op, err))
		}
		s.MSISDN = hss.MSISDN(n)
	}
	var k hss.Key
	if _, err := rand.Read(k[:]); err != nil {
		release()
		return SessionView{}, fmt.Errorf(op, err)
	}
	opc := hss.ComputeOPc(k, pr.OP) // TS 35.206 4.1
	c := &Credentials{IMSI: imsi, K: k, OPc: opc, AMF: pr.AMF, MSISDN: s.MSISDN, ProviderID: pr.ID, OfferID: s.OfferID}
	sealed, err := SealCredentials(s.HPKEKey, s.ID, c)
	if err != nil {
		release()
		return SessionView{}, p.fail(ctx, s, fmt.Errorf(op, err))
	}
	s.Sealed = sealed
	s.PendingK = p.sealer.Seal(imsi, hss.FieldK, k)
	s.PendingOPc = p.sealer.Seal(imsi, hss.FieldOPc, opc)
	next, err := s.Transition(StateProvisioned, p.now())
	if err != nil {
		release()
		return SessionView{}, err
	}
	stored, err := p.store.UpdateSession(ctx, next)
	if errors.Is(err, ErrSessionConflict) {
		release()
		cur, gerr := p.store.GetSession(ctx, s.ID)
		if gerr == nil && cur.Sealed != nil && (cur.State == StateProvisioned || cur.State == StateConfirmed || cur.State == StateSwapped) {
			return p.view(ctx, cur), nil
		}
		return SessionView{}, fmt.Errorf(op, ErrSessionBusy)
	}
	if err != nil {
		release()
		return SessionView{}, fmt.Errorf(op, err)
	}
	p.audit(ctx, AuditSealed, imsi, s.IMEI, nil)
	p.log.InfoContext(ctx, "rcm credentials sealed", "session", s.ID, "imsi", imsi, "imei", s.IMEI, "provider", pr.ID)
	return p.view(ctx, stored), nil
}

// fail moves s to failed (best effort: the CAS may lose to another node) and
// returns err.
func (p *Provisioner) fail(ctx context.Context, s Session, err error) error {
	if f, terr := s.Transition(StateFailed, p.now()); terr == nil {
		f.Reason = err.Error()
		if _, uerr := p.store.UpdateSession(ctx, f); uerr == nil {
			p.audit(ctx, AuditRejected, s.GuestIMSI, s.IMEI, err)
		}
	}
	return err
}

// Decline refuses the offer on the table; the next candidate is offered, or,
// when none is left, the session fails with ErrNoProviderAvailable and the
// device is detached (figure 5).
func (p *Provisioner) Decline(ctx context.Context, id string, d *CertifiedDevice, offerID string) (SessionView, error) {
	const op = "rcm: decline: %w"
	for range maxCASRetries {
		s, err := p.session(ctx, id, d)
		if err != nil {
			return SessionView{}, fmt.Errorf(op, err)
		}
		if s.State != StateOffered {
			return SessionView{}, fmt.Errorf(op, &TransitionError{From: s.State, To: StateDeclined})
		}
		if c, _ := s.current(); c.OfferID != offerID {
			return SessionView{}, fmt.Errorf(op, ErrWrongOffer)
		}
		now := p.now()
		s, _ = s.Transition(StateDeclined, now)
		s.Current++
		none := s.Current >= len(s.Candidates)
		if none {
			s, _ = s.Transition(StateFailed, now)
			s.Reason = ErrNoProviderAvailable.Error()
		} else {
			s, _ = s.Transition(StateOffered, now)
		}
		stored, err := p.store.UpdateSession(ctx, s)
		if errors.Is(err, ErrSessionConflict) {
			continue
		} else if err != nil {
			return SessionView{}, fmt.Errorf(op, err)
		}
		p.audit(ctx, AuditOfferDeclined, s.GuestIMSI, s.IMEI, nil)
		if none {
			p.noProvider(ctx, stored, nil)
			return p.view(ctx, stored), fmt.Errorf(op, ErrNoProviderAvailable)
		}
		return p.view(ctx, stored), nil
	}
	return SessionView{}, fmt.Errorf(op, ErrSessionBusy)
}

// Confirm is the device saying it installed the credentials; it performs the
// swap (RCM.md steps 5 and 7):
//
//  1. provisioned -> confirmed (CAS; a retry finds confirmed and goes on);
//  2. the subscriber is created through the HSS in one store write, so it
//     becomes active atomically; ErrSubscriberExists on a retry is this
//     session's own subscriber, because the IMSI has been reserved to this
//     session in the pool since provisioning and nothing else allocates it;
//  3. the guest binding is deleted and the MME holding the guest registration
//     gets a CLR through the Detacher. Doing this after step 2 means that a
//     crash in between leaves the device attached as a guest with its new
//     subscription already usable, never without either;
//  4. confirmed -> swapped, with the pending keys dropped.
func (p *Provisioner) Confirm(ctx context.Context, id string, d *CertifiedDevice) (SessionView, error) {
	const op = "rcm: confirm: %w"
	s, err := p.session(ctx, id, d)
	if err != nil {
		return SessionView{}, fmt.Errorf(op, err)
	}
	switch s.State {
	case StateSwapped:
		return p.view(ctx, s), nil
	case StateProvisioned:
		next, _ := s.Transition(StateConfirmed, p.now())
		if s, err = p.store.UpdateSession(ctx, next); err != nil {
			if errors.Is(err, ErrSessionConflict) {
				return SessionView{}, fmt.Errorf(op, ErrSessionBusy)
			}
			return SessionView{}, fmt.Errorf(op, err)
		}
	case StateConfirmed:
	default:
		return SessionView{}, fmt.Errorf(op, &TransitionError{From: s.State, To: StateConfirmed})
	}
	pr, err := p.store.GetProvider(ctx, s.ProviderID)
	if err != nil {
		return SessionView{}, fmt.Errorf(op, err)
	}
	k, err1 := p.sealer.Open(s.IMSI, hss.FieldK, s.PendingK)
	opc, err2 := p.sealer.Open(s.IMSI, hss.FieldOPc, s.PendingOPc)
	if err := errors.Join(err1, err2); err != nil {
		return SessionView{}, fmt.Errorf(op, err)
	}
	sub := pr.subscriber(s.IMSI, k, opc, s.MSISDN)
	if err := p.hss.CreateSubscriber(ctx, sub); err != nil && !errors.Is(err, hss.ErrSubscriberExists) {
		return SessionView{}, fmt.Errorf(op, err)
	}
	if s.GuestIMSI != "" {
		if b, err := p.rcm.GetBinding(ctx, s.GuestIMSI); err == nil && b.CertFingerprint == s.CertFingerprint {
			p.detach(ctx, b)
		} else if err != nil && !errors.Is(err, ErrNoBinding) {
			return SessionView{}, fmt.Errorf(op, err)
		}
	}
	next, err := s.Transition(StateSwapped, p.now())
	if err != nil {
		return SessionView{}, err
	}
	next.PendingK, next.PendingOPc = nil, nil
	stored, err := p.store.UpdateSession(ctx, next)
	if err != nil {
		if errors.Is(err, ErrSessionConflict) {
			if cur, gerr := p.store.GetSession(ctx, id); gerr == nil && cur.State == StateSwapped {
				return p.view(ctx, cur), nil
			}
			return SessionView{}, fmt.Errorf(op, ErrSessionBusy)
		}
		return SessionView{}, fmt.Errorf(op, err)
	}
	p.audit(ctx, AuditSwapped, s.IMSI, s.IMEI, nil)
	p.audit(ctx, AuditProvisioned, s.IMSI, s.IMEI, nil)
	p.log.InfoContext(ctx, "rcm subscriber swapped in", "session", s.ID, "imsi", s.IMSI, "imei", s.IMEI)
	return p.view(ctx, stored), nil
}

// ExpireSessions ends up to limit sessions past their lifetime that never
// confirmed: each becomes expired, its IMSI and MSISDN go back to the pool and
// the audit log says so. A confirmed session is not expired: its swap is
// under way and a retried Confirm finishes it.
func (p *Provisioner) ExpireSessions(ctx context.Context, limit int) (int, error) {
	now := p.now()
	ss, err := p.store.ExpiredSessions(ctx, now, limit)
	if err != nil {
		return 0, fmt.Errorf("rcm: expire sessions: %w", err)
	}
	n := 0
	for _, s := range ss {
		next, err := s.Transition(StateExpired, now)
		if err != nil {
			continue // confirmed: the swap finishes it
		}
		next.PendingK, next.PendingOPc, next.Reason = nil, nil, "session expired before confirmation"
		if _, err := p.store.UpdateSession(ctx, next); err != nil {
			if errors.Is(err, ErrSessionConflict) {
				continue // it moved on meanwhile; the next sweep looks again
			}
			return n, fmt.Errorf("rcm: expire sessions: %w", err)
		}
		if s.IMSI != "" {
			if err := p.store.ReleaseNumber(ctx, s.ProviderID, PoolIMSI, string(s.IMSI)); err != nil {
				return n, fmt.Errorf("rcm: expire sessions: release imsi: %w", err)
			}
		}
		if s.MSISDN != "" {
			if err := p.store.ReleaseNumber(ctx, s.ProviderID, PoolMSISDN, string(s.MSISDN)); err != nil {
				return n, fmt.Errorf("rcm: expire sessions: release msisdn: %w", err)
			}
		}
		p.audit(ctx, AuditSessionExpired, s.IMSI, s.IMEI, nil)
		n++
	}
	return n, nil
}

// RunExpiry calls ExpireSessions every interval (batches of batch) until ctx
// is done; every node may run it, the session compare-and-set making each
// expiry happen once. Failures are logged and retried at the next tick.
func (p *Provisioner) RunExpiry(ctx context.Context, interval time.Duration, batch int) error {
	if interval <= 0 || batch <= 0 {
		return fmt.Errorf("rcm: run expiry: %w: interval and batch must be positive", ErrInvalidConfig)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			for {
				n, err := p.ExpireSessions(ctx, batch)
				if err != nil {
					p.log.WarnContext(ctx, "rcm session expiry failed", "err", err)
				}
				if err != nil || n < batch {
					break
				}
			}
		}
	}
}

func (p *Provisioner) audit(ctx context.Context, ev AuditEvent, imsi hss.IMSI, imei IMEI, err error) {
	if _, aerr := p.rcm.AppendAudit(ctx, NewAuditRecord(p.now(), ev, imsi, imei, err)); aerr != nil {
		p.log.ErrorContext(ctx, "rcm audit append failed", "event", string(ev), "err", aerr)
	}
}
