package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/rcmhss/rcmhss/diameter/rcmext"
	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/rcm"
)

// RCMSection configures Remote Credential Management (docs/rcm.md,
// docs/rcm-crypto.md). Off by default: the guest range and the HSS RCM
// signing identity must be configured first.
type RCMSection struct {
	Enabled bool `mapstructure:"enabled"`
	// GuestRanges: each an IMSI prefix (at least MCC+MNC, "00101999") or an
	// inclusive range "first-last" of equal-length IMSIs.
	GuestRanges []string `mapstructure:"guest_ranges"`
	// GuestK, GuestOPc (32 hex digits) and GuestAMF (4 hex digits) are the
	// well-known guest credential every RCM device ships with: public by design.
	GuestK          string        `mapstructure:"guest_k"`
	GuestOPc        string        `mapstructure:"guest_opc"`
	GuestAMF        string        `mapstructure:"guest_amf"`
	APN             string        `mapstructure:"apn"`
	AMBRUL          uint32        `mapstructure:"ambr_ul"`
	AMBRDL          uint32        `mapstructure:"ambr_dl"`
	BindingLifetime time.Duration `mapstructure:"binding_lifetime"`
	TimestampWindow time.Duration `mapstructure:"timestamp_window"`
	Compat          bool          `mapstructure:"compat"`
	VendorID        uint32        `mapstructure:"vendor_id"`
	// SigningKeyFile (PEM EC or PKCS#8 P-256 key) and SigningCertFile (PEM
	// chain, the certificate of that key first) are the HSS RCM identity the
	// device checks against its pinned root.
	SigningKeyFile  string `mapstructure:"signing_key_file"`
	SigningCertFile string `mapstructure:"signing_cert_file"`
	// VendorCAFiles (PEM) and VendorTACs seed, at start, the device profile
	// "config" (provider "config"): the CAs and the TACs they cover. Profiles
	// are otherwise managed through /v1/rcm/profiles.
	VendorCAFiles  []string      `mapstructure:"vendor_ca_files"`
	VendorTACs     []string      `mapstructure:"vendor_tacs"`
	ExpiryInterval time.Duration `mapstructure:"expiry_interval"`
	// Provisioning is the RCM provisioning server (rcm_provisioning.go).
	Provisioning RCMProvisioningSection `mapstructure:"provisioning"`
	// Demo seeds, at start, the demo provider, profile and offers
	// (rcm.SeedDemo) trusting the vendor CA of DemoDir, a directory written
	// by `rcmdevice pki`, and takes every unset RCM file and guest setting
	// from the demo (RCMSection.withDemo). Lab only: the demo keys are public.
	Demo    bool   `mapstructure:"demo"`
	DemoDir string `mapstructure:"demo_dir"`
}

// rcmDefaults are merged into defaults (config.go).
var rcmDefaults = map[string]any{
	"rcm.enabled":           false,
	"rcm.guest_ranges":      []string{},
	"rcm.guest_k":           "",
	"rcm.guest_opc":         "",
	"rcm.guest_amf":         "8000",
	"rcm.apn":               "rcm.provisioning",
	"rcm.ambr_ul":           256000,
	"rcm.ambr_dl":           256000,
	"rcm.binding_lifetime":  "10m",
	"rcm.timestamp_window":  "2m",
	"rcm.compat":            false,
	"rcm.vendor_id":         rcmext.DefaultVendorID,
	"rcm.signing_key_file":  "",
	"rcm.signing_cert_file": "",
	"rcm.vendor_ca_files":   []string{},
	"rcm.vendor_tacs":       []string{},
	"rcm.expiry_interval":   "5s",
}

// rcmConfig converts the section into rcm.Config and validates it.
func (c Config) rcmConfig() (rcm.Config, error) {
	r := c.RCM
	out := rcm.DefaultConfig()
	var errs []error
	for i, s := range r.GuestRanges {
		if first, last, ok := strings.Cut(s, "-"); ok {
			out.Guest.Ranges = append(out.Guest.Ranges, rcm.IMSIRange{First: hss.IMSI(strings.TrimSpace(first)), Last: hss.IMSI(strings.TrimSpace(last))})
		} else if s = strings.TrimSpace(s); s != "" {
			out.Guest.Ranges = append(out.Guest.Ranges, rcm.IMSIRange{Prefix: s})
		} else {
			errs = append(errs, fmt.Errorf("config: rcm.guest_ranges[%d]: empty: %w", i, ErrConfig))
		}
	}
	if r.GuestK != "" {
		k, err := hss.ParseKey(r.GuestK)
		if err != nil {
			errs = append(errs, fmt.Errorf("config: rcm.guest_k: must be 32 hex digits: %w", ErrConfig))
		}
		out.Guest.K = k
	}
	if r.GuestOPc != "" {
		k, err := hss.ParseKey(r.GuestOPc)
		if err != nil {
			errs = append(errs, fmt.Errorf("config: rcm.guest_opc: must be 32 hex digits: %w", ErrConfig))
		}
		out.Guest.OPc = k
	}
	if b, err := hex.DecodeString(r.GuestAMF); err != nil || len(b) != 2 {
		errs = append(errs, fmt.Errorf("config: rcm.guest_amf: must be 4 hex digits: %w", ErrConfig))
	} else {
		out.Guest.AMF = [2]byte(b)
	}
	out.Guest.APN = r.APN
	out.Guest.AMBR = hss.AMBR{UL: r.AMBRUL, DL: r.AMBRDL}
	out.BindingLifetime, out.TimestampWindow, out.Compat = r.BindingLifetime, r.TimestampWindow, r.Compat
	if r.SigningKeyFile == "" || r.SigningCertFile == "" {
		errs = append(errs, fmt.Errorf("config: rcm.signing_key_file and rcm.signing_cert_file: are required: %w", ErrConfig))
	}
	if len(r.VendorCAFiles) > 0 && len(r.VendorTACs) == 0 {
		errs = append(errs, fmt.Errorf("config: rcm.vendor_tacs: vendor_ca_files need the TACs they cover: %w", ErrConfig))
	}
	errs = append(errs, out.Validate(), c.rcmextConfig().Validate())
	return out, errors.Join(errs...)
}

func (c Config) rcmextConfig() rcmext.Config {
	return rcmext.Config{VendorID: c.RCM.VendorID, OriginHost: c.Diameter.OriginHost, OriginRealm: c.Diameter.OriginRealm,
		ExpiryInterval: c.RCM.ExpiryInterval, RequestTimeout: c.S6a.RequestTimeout}
}

// loadRCMIdentity reads the HSS RCM signing key and its certificate chain.
// Errors never contain key bytes.
func loadRCMIdentity(keyFile, certFile string) (*rcm.HSSIdentity, error) {
	kb, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("config: rcm.signing_key_file: %w", err)
	}
	blk, _ := pem.Decode(kb)
	if blk == nil {
		return nil, fmt.Errorf("config: rcm.signing_key_file: no PEM block: %w", ErrConfig)
	}
	var key *ecdsa.PrivateKey
	switch blk.Type {
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(blk.Bytes)
	case "PRIVATE KEY":
		var k any
		if k, err = x509.ParsePKCS8PrivateKey(blk.Bytes); err == nil {
			var ok bool
			if key, ok = k.(*ecdsa.PrivateKey); !ok {
				err = errors.New("not an ECDSA key")
			}
		}
	default:
		err = fmt.Errorf("PEM block %q", blk.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("config: rcm.signing_key_file: not an EC P-256 private key (%v): %w", err, ErrConfig)
	}
	chain, err := readPEMCerts(certFile)
	if err != nil {
		return nil, fmt.Errorf("config: rcm.signing_cert_file: %w", err)
	}
	id, err := rcm.NewHSSIdentity(key, chain)
	if err != nil {
		return nil, fmt.Errorf("config: rcm signing identity: %w: %w", err, ErrConfig)
	}
	return id, nil
}

func readPEMCerts(path string) ([][]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type == "CERTIFICATE" {
			out = append(out, blk.Bytes)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no PEM certificate: %w", ErrConfig)
	}
	return out, nil
}

// seedVendorProfile creates or replaces the "config" device profile from
// rcm.vendor_ca_files and rcm.vendor_tacs.
func seedVendorProfile(ctx context.Context, st rcm.Store, r RCMSection) error {
	if len(r.VendorCAFiles) == 0 {
		return nil
	}
	p := rcm.DeviceProfile{ID: "config", ProviderID: "config", Coverage: rcm.Coverage{TACs: r.VendorTACs}}
	for _, f := range r.VendorCAFiles {
		certs, err := readPEMCerts(f)
		if err != nil {
			return fmt.Errorf("config: rcm.vendor_ca_files %s: %w", f, err)
		}
		p.VendorCAs = append(p.VendorCAs, certs...)
	}
	if err := p.Validate(); err != nil {
		return fmt.Errorf("config: rcm vendor profile: %w", err)
	}
	err := st.CreateProfile(ctx, p)
	if errors.Is(err, rcm.ErrProfileExists) {
		err = st.UpdateProfile(ctx, p)
	}
	return err
}

// rcmPart is the RCM graph of the server.
type rcmPart struct {
	svc    *rcm.Service
	ext    *rcmext.Extension
	stores rcmStores
	// prov and provSrv are nil unless rcm.provisioning.enabled.
	prov    *rcm.Provisioner
	provSrv *provisioningServer
	close   func() error
	stop    context.CancelFunc
	wg      sync.WaitGroup
}

// start runs binding expiry, and session expiry when the provisioning
// server is on, until stop.
func (p *rcmPart) start(log *slog.Logger) {
	ctx, cancel := context.WithCancel(context.Background())
	p.stop = cancel
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		if err := p.ext.Run(ctx); err != nil {
			log.Error("rcm: binding expiry stopped", "err", err)
		}
	}()
	if p.prov != nil {
		pc := p.provSrv.cfg
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			if err := p.prov.RunExpiry(ctx, pc.ExpiryInterval, pc.ExpiryBatch); err != nil && !errors.Is(err, context.Canceled) {
				log.Error("rcm: session expiry stopped", "err", err)
			}
		}()
	}
}

func (p *rcmPart) shutdown() error {
	if p.stop != nil {
		p.stop()
		p.wg.Wait()
	}
	return p.close()
}

// newRCMPart builds the RCM service, its stores and the S6a extension, and
// the provisioning server when enabled: its Provisioner creates subscribers
// through sub (the HSS) and detaches guests with the extension's CLR.
func newRCMPart(ctx context.Context, c Config, rc rcm.Config, vectors rcmext.Vectors, s *server,
	sub rcm.SubscriberCreator, sealer *hss.KeySealer, log *slog.Logger) (_ *rcmPart, err error) {
	id, err := loadRCMIdentity(c.RCM.SigningKeyFile, c.RCM.SigningCertFile)
	if err != nil {
		return nil, err
	}
	stores, err := openRCMStores(ctx, c, sealer, log)
	if err != nil {
		return nil, err
	}
	st := stores.rcm
	defer func() {
		if err != nil {
			_ = stores.close()
		}
	}()
	if err := seedVendorProfile(ctx, st, c.RCM); err != nil {
		return nil, err
	}
	if c.RCM.Demo {
		if err := seedDemo(ctx, c.RCM, st, stores.prov, log); err != nil {
			return nil, err
		}
	}
	svc, err := rcm.NewService(rc, st, id, log)
	if err != nil {
		return nil, err
	}
	ext, err := rcmext.New(c.rcmextConfig(), svc, vectors, st, s.diam, log)
	if err != nil {
		return nil, err
	}
	part := &rcmPart{svc: svc, ext: ext, stores: stores, close: stores.close}
	if pc := c.RCM.Provisioning; pc.Enabled {
		cfg := rcm.DefaultProvisioningConfig()
		cfg.SessionLifetime = pc.SessionLifetime
		// Compat mode serves guests without the bootstrap, so there may be
		// no binding: mutual TLS is then the device authentication.
		cfg.RequireBinding = !rc.Compat
		if part.prov, err = rcm.NewProvisioner(cfg, rc, st, stores.prov, sub, rcm.DetacherFunc(ext.CancelBinding), sealer, log); err != nil {
			return nil, err
		}
		if part.provSrv, err = newProvisioningServer(pc, part.prov, log); err != nil {
			return nil, err
		}
	}
	log.Info("rcm: enabled", "guest_ranges", len(rc.Guest.Ranges), "compat", rc.Compat, "vendor_id", c.rcmextConfig().VendorID,
		"provisioning", c.RCM.Provisioning.Enabled, "demo", c.RCM.Demo)
	return part, nil
}
