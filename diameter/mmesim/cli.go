package mmesim

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/rcm"
)

// Main is the rcmdevice command line (cmd/rcmdevice is only its main):
//
//	rcmdevice pki --dir DIR [--devices N] [--tac TAC] [--server-host H]...
//	rcmdevice [run] --pki DIR --hss HOST:PORT --provisioning-url URL --guest-k HEX --guest-opc HEX [...]
//
// It returns the exit status: 0 only when every device went through the
// whole flow.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "pki" {
		return pkiMain(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "run" {
		args = args[1:]
	}
	return runMain(ctx, args, stdout, stderr)
}

func pkiMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rcmdevice pki", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "rcm-demo-pki", "directory to write the demo PKI into")
	n := fs.Int("devices", 1, "number of device certificates to issue")
	tac := fs.String("tac", "49015420", "8-digit TAC of the device IMEIs (TS 23.003 6.2.1)")
	class := fs.String("class", "", "device class to certify (urn:rcmhss:device-class:), none if empty")
	validity := fs.Duration("validity", 365*24*time.Hour, "certificate validity")
	var hosts stringList
	fs.Var(&hosts, "server-host", "provisioning server DNS name or IP (repeatable; default 127.0.0.1 and localhost)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if len(*tac) != 8 || strings.Trim(*tac, "0123456789") != "" || *n < 1 || *n > 1_000_000 {
		fmt.Fprintln(stderr, "rcmdevice pki: --tac must be 8 digits and --devices 1 to 1000000")
		return 2
	}
	if len(hosts) == 0 {
		hosts = stringList{"127.0.0.1", "localhost"}
	}
	p, err := rcm.NewDemoPKI(time.Now(), *validity, hosts)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	devs := make([]rcm.DeviceCredentials, 0, *n)
	for i := range *n {
		d14 := fmt.Sprintf("%s%06d", *tac, i+1)
		var classes []string
		if *class != "" {
			classes = []string{*class}
		}
		d, err := p.IssueDevice(rcm.IMEI(d14+string(rcm.LuhnCheckDigit(d14))), classes...)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		devs = append(devs, d)
	}
	if err := p.Write(*dir, devs); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "demo PKI in %s: vendor CA %s, pinned root %s, HSS RCM %s/%s, provisioning server %s/%s, %d devices in %s\n",
		*dir, rcm.DemoVendorCAFile, rcm.DemoInfraRootFile, rcm.DemoHSSCertFile, rcm.DemoHSSKeyFile, rcm.DemoServerCertFile,
		rcm.DemoServerKeyFile, len(devs), filepath.Join(*dir, "devices"))
	return 0
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rcmdevice", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pkiDir := fs.String("pki", "rcm-demo-pki", "directory written by 'rcmdevice pki' (device files, pinned root)")
	imeiFlag := fs.String("imei", "", "device to run (default: the first in the pki directory)")
	devices := fs.Int("devices", 1, "number of devices to provision (load mode when > 1)")
	conc := fs.Int("concurrency", 1, "devices in flight at once")
	hssAddr := fs.String("hss", "127.0.0.1:3868", "HSS Diameter address host:port")
	network := fs.String("network", "tcp", "tcp or sctp")
	origin := fs.String("origin-host", "mme.rcmdevice.test", "MME Origin-Host")
	realm := fs.String("origin-realm", "rcmdevice.test", "MME Origin-Realm")
	dest := fs.String("destination-realm", "", "HSS realm (default: the MME realm)")
	visitedS := fs.String("visited-plmn", "00101", "serving PLMN MCC+MNC")
	provURL := fs.String("provisioning-url", "https://127.0.0.1:8443", "RCM provisioning server base URL")
	guestPrefix := fs.String("guest-imsi-prefix", "00101999", "guest range prefix; device i uses prefix + i zero-padded to 15 digits")
	guestK := fs.String("guest-k", "", "well-known guest K (hex)")
	guestOPc := fs.String("guest-opc", "", "well-known guest OPc (hex)")
	decline := fs.Int("decline", 0, "decline this many offers, then accept")
	code := fs.String("activation-code", "", "activation code to give with the acceptance")
	quiet := fs.Bool("quiet", false, "print only the summary")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "rcmdevice: "+format+"\n", a...)
		return 1
	}
	k, err1 := hss.ParseKey(*guestK)
	opc, err2 := hss.ParseKey(*guestOPc)
	if err1 != nil || err2 != nil {
		return fail("--guest-k and --guest-opc must be 32 hex digits")
	}
	visited, err := hss.PLMNFromString(*visitedS)
	if err != nil {
		return fail("--visited-plmn: %v", err)
	}
	if *devices < 1 || *conc < 1 {
		return fail("--devices and --concurrency must be positive")
	}
	if *dest == "" {
		*dest = *realm
	}
	roots, err := rcm.LoadCertPool(filepath.Join(*pkiDir, rcm.DemoInfraRootFile))
	if err != nil {
		return fail("%v", err)
	}
	imeis, err := deviceIMEIs(*pkiDir, *imeiFlag, *devices)
	if err != nil {
		return fail("%v", err)
	}
	mme, err := Dial(Config{HSSAddr: *hssAddr, Network: *network, OriginHost: *origin, OriginRealm: *realm, DestinationRealm: *dest, VisitedPLMN: visited})
	if err != nil {
		return fail("%v", err)
	}
	defer mme.Close()

	var outMu sync.Mutex
	print := func(s string) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Fprintln(stdout, s)
	}
	var failed, ok atomic.Int64
	sem := make(chan struct{}, *conc)
	var wg sync.WaitGroup
	start := time.Now()
	for i, imei := range imeis {
		cf, kf := rcm.DemoDeviceFiles(*pkiDir, imei)
		cred, err := rcm.LoadDeviceCredentials(cf, kf)
		if err != nil {
			return fail("%v", err)
		}
		guest, err := hss.ParseIMSI(*guestPrefix + fmt.Sprintf("%0*d", 15-len(*guestPrefix), i+1))
		if err != nil {
			return fail("guest imsi: %v", err)
		}
		declined := 0
		d := Device{Cred: cred, GuestIMSI: guest, Guest: rcm.USIM{K: k, OPc: opc}, HSSRoots: roots, ServerRoots: roots,
			ProvisioningURL: *provURL, Decide: func(rcm.OfferView) rcm.OfferDecision {
				if declined < *decline {
					declined++
					return rcm.OfferDecision{}
				}
				return rcm.OfferDecision{Accept: true, ActivationCode: *code}
			}}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			say := func(s string) {
				if !*quiet {
					print(fmt.Sprintf("%s %s", cred.IMEI, s))
				}
			}
			if _, err := Run(ctx, mme, d, say); err != nil {
				failed.Add(1)
				print(fmt.Sprintf("%s FAILED: %v", cred.IMEI, err))
				return
			}
			ok.Add(1)
		}()
	}
	wg.Wait()
	el := time.Since(start)
	print(fmt.Sprintf("rcmdevice: %d devices, %d provisioned, %d failed, concurrency %d, %.3fs, %.1f devices/s",
		len(imeis), ok.Load(), failed.Load(), *conc, el.Seconds(), float64(ok.Load())/el.Seconds()))
	if failed.Load() > 0 {
		return 1
	}
	return 0
}

// deviceIMEIs lists the devices of the pki directory (sorted), or the one
// asked for.
func deviceIMEIs(dir, one string, n int) ([]rcm.IMEI, error) {
	if one != "" {
		i, err := rcm.ParseIMEI(one)
		if err != nil {
			return nil, err
		}
		return []rcm.IMEI{i}, nil
	}
	ents, err := os.ReadDir(filepath.Join(dir, "devices"))
	if err != nil {
		return nil, fmt.Errorf("device files: %w", err)
	}
	var out []rcm.IMEI
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".pem")
		if !ok {
			continue
		}
		if i, err := rcm.ParseIMEI(name); err == nil {
			out = append(out, i)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a] < out[b] })
	if len(out) < n {
		return nil, fmt.Errorf("%d devices asked, %d in %s (rcmdevice pki --devices)", n, len(out), dir)
	}
	return out[:n], nil
}
