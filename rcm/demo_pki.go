package rcm

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// DemoPKI is a complete, throw-away PKI for demos and tests (issue 6 item 3):
// a vendor CA that issues device IMEI certificates, and an infrastructure
// root that devices pin, under which the HSS RCM signing certificate and the
// provisioning server's TLS certificate are issued. Never for production:
// every key is generated in memory and written unencrypted.
type DemoPKI struct {
	VendorCA, InfraRoot *x509.Certificate
	vendorKey, infraKey *ecdsa.PrivateKey
	HSSCert             *x509.Certificate
	HSSKey              *ecdsa.PrivateKey
	ServerCert          *x509.Certificate
	ServerKey           *ecdsa.PrivateKey
	notBefore, notAfter time.Time
}

func demoSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
}

func demoCert(tmpl *x509.Certificate, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	if tmpl.SerialNumber, err = demoSerial(); err != nil {
		return nil, nil, err
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, nil, err
	}
	c, err := x509.ParseCertificate(der)
	return c, key, err
}

// NewDemoPKI creates the PKI, valid from an hour before now for validity;
// serverHosts are the provisioning server's DNS names or IP addresses.
func NewDemoPKI(now time.Time, validity time.Duration, serverHosts []string) (*DemoPKI, error) {
	p := &DemoPKI{notBefore: now.Add(-time.Hour), notAfter: now.Add(validity)}
	ca := func(cn string) *x509.Certificate {
		return &x509.Certificate{Subject: pkix.Name{CommonName: cn, Organization: []string{"rcmhss demo"}}, NotBefore: p.notBefore,
			NotAfter: p.notAfter, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	}
	var err error
	if p.VendorCA, p.vendorKey, err = demoCert(ca("rcmhss demo vendor device CA"), nil, nil); err != nil {
		return nil, fmt.Errorf("rcm: demo pki: %w", err)
	}
	if p.InfraRoot, p.infraKey, err = demoCert(ca("rcmhss demo infrastructure root"), nil, nil); err != nil {
		return nil, fmt.Errorf("rcm: demo pki: %w", err)
	}
	if p.HSSCert, p.HSSKey, err = demoCert(&x509.Certificate{Subject: pkix.Name{CommonName: "rcmhss demo HSS RCM signer"},
		NotBefore: p.notBefore, NotAfter: p.notAfter, KeyUsage: x509.KeyUsageDigitalSignature}, p.InfraRoot, p.infraKey); err != nil {
		return nil, fmt.Errorf("rcm: demo pki: %w", err)
	}
	st := &x509.Certificate{Subject: pkix.Name{CommonName: "rcmhss demo provisioning server"}, NotBefore: p.notBefore, NotAfter: p.notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, h := range serverHosts {
		if ip := net.ParseIP(h); ip != nil {
			st.IPAddresses = append(st.IPAddresses, ip)
		} else {
			st.DNSNames = append(st.DNSNames, h)
		}
	}
	if p.ServerCert, p.ServerKey, err = demoCert(st, p.InfraRoot, p.infraKey); err != nil {
		return nil, fmt.Errorf("rcm: demo pki: %w", err)
	}
	return p, nil
}

// IssueDevice makes the bootstrap information of one device: an IMEI
// certificate (RFC 7254 URN, device classes as urn:rcmhss:device-class:)
// under the vendor CA, and its key.
func (p *DemoPKI) IssueDevice(imei IMEI, classes ...string) (DeviceCredentials, error) {
	if _, err := ParseIMEI(string(imei)); err != nil {
		return DeviceCredentials{}, err
	}
	tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: "IMEI " + string(imei)}, NotBefore: p.notBefore, NotAfter: p.notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	for _, u := range append([]string{imei.URN()}, prefixed(classes)...) {
		pu, err := url.Parse(u)
		if err != nil {
			return DeviceCredentials{}, err
		}
		tmpl.URIs = append(tmpl.URIs, pu)
	}
	c, key, err := demoCert(tmpl, p.VendorCA, p.vendorKey)
	if err != nil {
		return DeviceCredentials{}, fmt.Errorf("rcm: demo pki: device: %w", err)
	}
	return DeviceCredentials{IMEI: imei, CertChain: [][]byte{c.Raw}, Key: key}, nil
}

func prefixed(classes []string) []string {
	out := make([]string, len(classes))
	for i, c := range classes {
		out[i] = deviceClassURNPrefix + c
	}
	return out
}

// HSSIdentity is the HSS RCM signing identity of the PKI.
func (p *DemoPKI) HSSIdentity() (*HSSIdentity, error) {
	return NewHSSIdentity(p.HSSKey, [][]byte{p.HSSCert.Raw})
}

// ServerTLSCertificate is the provisioning server's certificate and key.
func (p *DemoPKI) ServerTLSCertificate() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{p.ServerCert.Raw}, PrivateKey: p.ServerKey, Leaf: p.ServerCert}
}

// PinnedRoots is what devices pin: the infrastructure root.
func (p *DemoPKI) PinnedRoots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.InfraRoot)
	return pool
}

// Demo PKI file names (PEM, RFC 7468) in the directory Write fills.
const (
	DemoVendorCAFile   = "vendor-ca.pem"
	DemoInfraRootFile  = "infra-root.pem"
	DemoHSSCertFile    = "hss-rcm.pem"
	DemoHSSKeyFile     = "hss-rcm.key"
	DemoServerCertFile = "rcm-server.pem"
	DemoServerKeyFile  = "rcm-server.key"
	demoVendorKeyFile  = "vendor-ca.key"
	demoInfraKeyFile   = "infra-root.key"
)

// DemoDeviceFiles names a device's certificate and key files in dir.
func DemoDeviceFiles(dir string, imei IMEI) (cert, key string) {
	return filepath.Join(dir, "devices", string(imei)+".pem"), filepath.Join(dir, "devices", string(imei)+".key")
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func pemKey(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// Write stores the PKI and the devices' bootstrap files in dir (keys 0600).
func (p *DemoPKI) Write(dir string, devices []DeviceCredentials) error {
	if err := os.MkdirAll(filepath.Join(dir, "devices"), 0o700); err != nil {
		return fmt.Errorf("rcm: demo pki: %w", err)
	}
	files := map[string][]byte{
		DemoVendorCAFile: pemCert(p.VendorCA), DemoInfraRootFile: pemCert(p.InfraRoot),
		DemoHSSCertFile: pemCert(p.HSSCert), DemoServerCertFile: pemCert(p.ServerCert),
	}
	keys := map[string]*ecdsa.PrivateKey{DemoHSSKeyFile: p.HSSKey, DemoServerKeyFile: p.ServerKey,
		demoVendorKeyFile: p.vendorKey, demoInfraKeyFile: p.infraKey}
	for _, d := range devices {
		c, k := DemoDeviceFiles(".", d.IMEI)
		var chain []byte
		for _, der := range d.CertChain {
			chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
		}
		files[c] = chain
		keys[k] = d.Key
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return fmt.Errorf("rcm: demo pki: %w", err)
		}
	}
	for name, k := range keys {
		b, err := pemKey(k)
		if err != nil {
			return fmt.Errorf("rcm: demo pki: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return fmt.Errorf("rcm: demo pki: %w", err)
		}
	}
	return nil
}

// LoadDeviceCredentials reads a device's bootstrap files: the PEM chain
// (device certificate first) and its PKCS #8 P-256 key. The IMEI is the one
// certified.
func LoadDeviceCredentials(certFile, keyFile string) (DeviceCredentials, error) {
	cb, err := os.ReadFile(certFile)
	if err != nil {
		return DeviceCredentials{}, fmt.Errorf("rcm: load device: %w", err)
	}
	var chain [][]byte
	for blk, rest := pem.Decode(cb); blk != nil; blk, rest = pem.Decode(rest) {
		if blk.Type == "CERTIFICATE" {
			chain = append(chain, blk.Bytes)
		}
	}
	if len(chain) == 0 {
		return DeviceCredentials{}, errors.New("rcm: load device: no certificate in " + certFile)
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return DeviceCredentials{}, fmt.Errorf("rcm: load device: %w", err)
	}
	imeis, _ := deviceIdentities(leaf)
	if len(imeis) != 1 {
		return DeviceCredentials{}, errors.New("rcm: load device: certificate must carry exactly one imei urn")
	}
	key, err := LoadECKey(keyFile)
	if err != nil {
		return DeviceCredentials{}, err
	}
	return DeviceCredentials{IMEI: imeis[0], CertChain: chain, Key: key}, nil
}

// LoadECKey reads a PKCS #8 PEM P-256 key.
func LoadECKey(file string) (*ecdsa.PrivateKey, error) {
	kb, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("rcm: load key: %w", err)
	}
	blk, _ := pem.Decode(kb)
	if blk == nil {
		return nil, errors.New("rcm: load key: no PEM block in " + file)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("rcm: load key: %w", err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, errors.New("rcm: load key: not an ECDSA P-256 key")
	}
	return ek, nil
}

// LoadCertPool reads every PEM certificate of file into a pool (pinned roots).
func LoadCertPool(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("rcm: load roots: %w", err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		return nil, errors.New("rcm: load roots: no certificate in " + file)
	}
	return p, nil
}
