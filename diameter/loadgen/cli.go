package loadgen

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rcmhss/rcmhss/hss"
)

// Published TS 35.208 test set 1 values: the default K and OPc of a
// provisioned lab range (never real subscribers).
const (
	defaultLabK   = "465b5ce8b199b49faa5f0a2ee238a6bc"
	defaultLabOPc = "cd63cb71954a9f4e48a5994e37a02baf"
)

const usage = `diamload: a Diameter load generator for S6a, SWx and S13.

Usage:
  diamload [run] [flags]       send load (see diamload run -h)
  diamload provision [flags]   bulk-provision the IMSI range into rcmhss
  diamload baseline [flags]    run a stateless responder to measure against
`

// Main runs the diamload command line with args (without the program name)
// and returns the process exit status: 0 on success, 1 when the run failed,
// 2 on bad usage.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var err error
	switch cmd {
	case "run":
		err = runCmd(ctx, args, stdout, stderr, log)
	case "provision":
		err = provisionCmd(ctx, args, stdout, log)
	case "baseline":
		err = baselineCmd(ctx, args, stderr, log)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "diamload: unknown command %q\n%s", cmd, usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintln(stderr, err)
		return 2
	}
	fmt.Fprintln(stderr, err)
	return 1
}

var errUsage = errors.New("diamload: usage")

type imsiFlags struct {
	start  string
	count  uint64
	random bool
}

func (f *imsiFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.start, "imsi-start", "001010000000001", "first IMSI of the range")
	fs.Uint64Var(&f.count, "imsi-count", 1000, "number of IMSIs in the range")
}

func newFlagSet(name string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	return fs
}

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	fs := newFlagSet("diamload run", stderr)
	var (
		im                                        imsiFlags
		targets, scenario, mix, order, ramp, plmn string
		progress, jsonOut, csvOut, htmlOut        string
		resyncK, resyncOPc                        string
		cfg                                       Config
	)
	im.register(fs)
	fs.StringVar(&targets, "target", "tcp://127.0.0.1:3868", "comma-separated peers, tcp://host:port or sctp://host:port")
	fs.StringVar(&scenario, "scenario", "air", "air, ulr, pur, attach, mar, sar or ecr (see --mix)")
	fs.StringVar(&mix, "mix", "", "scenarios by ratio, e.g. air=8,ulr=2 (overrides --scenario)")
	fs.Float64Var(&cfg.ResyncShare, "resync", 0, "share of AIRs carrying Re-Synchronization-Info (0..1)")
	fs.StringVar(&resyncK, "k", defaultLabK, "K of the range as provisioned, to compute resync AUTS the HSS verifies (empty: random AUTS)")
	fs.StringVar(&resyncOPc, "opc", defaultLabOPc, "OPc of the range as provisioned (see --k)")
	fs.StringVar(&order, "imsi-order", "seq", "seq or random")
	fs.StringVar(&cfg.Identity.OriginHost, "origin-host", "diamload.localdomain", "Origin-Host (with several connections, c<N>. is prefixed)")
	fs.StringVar(&cfg.Identity.OriginRealm, "origin-realm", "localdomain", "Origin-Realm")
	fs.StringVar(&cfg.Identity.DestinationRealm, "dest-realm", "", "Destination-Realm (default: the origin realm)")
	fs.StringVar(&cfg.Identity.DestinationHost, "dest-host", "", "Destination-Host (default: none)")
	fs.StringVar(&plmn, "visited-plmn", "", "Visited-PLMN-Id MCCMNC (default: the first 5 digits of --imsi-start)")
	fs.Float64Var(&cfg.Rate, "rate", 0, "open loop: requests per second")
	fs.StringVar(&ramp, "ramp", "", "open loop: from:to:duration, e.g. 1000:50000:30s")
	fs.IntVar(&cfg.Conns, "conns", 1, "connections")
	fs.IntVar(&cfg.Window, "window", 64, "requests in flight per connection")
	fs.DurationVar(&cfg.Duration, "duration", 0, "run length (open loop: span of the intended send times)")
	fs.Uint64Var(&cfg.Requests, "requests", 0, "number of scenarios to run")
	fs.DurationVar(&cfg.Timeout, "timeout", 5*time.Second, "answer timeout")
	fs.StringVar(&progress, "progress", "auto", "live progress line on stderr: auto (when a terminal), on, off")
	fs.StringVar(&jsonOut, "json", "", "write the report as JSON to this file")
	fs.StringVar(&csvOut, "csv", "", "write per-kind, per-result rows as CSV to this file")
	fs.StringVar(&htmlOut, "report", "", "write a self-contained HTML report to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var errs []error
	cfg.Targets = splitList(targets)
	if mix == "" {
		mix = scenario
	}
	var err error
	if cfg.Mix, err = ParseMix(mix); err != nil {
		errs = append(errs, err)
	}
	if order != "seq" && order != "random" {
		errs = append(errs, errors.New("loadgen: --imsi-order must be seq or random"))
	}
	if cfg.IMSIs, err = ParseIMSIRange(im.start, im.count, order == "random"); err != nil {
		errs = append(errs, err)
	}
	if plmn == "" && len(im.start) >= 5 {
		plmn = im.start[:5]
	}
	if cfg.Identity.VisitedPLMN, err = plmnID(plmn); err != nil {
		errs = append(errs, err)
	}
	if resyncK != "" || resyncOPc != "" {
		k, err1 := hss.ParseKey(resyncK)
		opc, err2 := hss.ParseKey(resyncOPc)
		if err1 != nil || err2 != nil {
			// Never echo the values: they are key material.
			errs = append(errs, errors.New("loadgen: --k and --opc must be 32 hex digits each"))
		} else {
			cfg.ResyncKeys = &ResyncKeys{K: k, OPc: opc}
		}
	}
	if ramp != "" {
		r, err := ParseRamp(ramp)
		if err != nil {
			errs = append(errs, err)
		}
		cfg.Ramp = &r
	}
	switch progress {
	case "on":
		cfg.Progress, cfg.TerminalProgress = stderr, isTerminal(stderr)
	case "auto":
		if isTerminal(stderr) {
			cfg.Progress, cfg.TerminalProgress = stderr, true
		}
	case "off":
	default:
		errs = append(errs, errors.New("loadgen: --progress must be auto, on or off"))
	}
	if err := cfg.Validate(); err != nil && len(errs) == 0 {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", errUsage, errors.Join(errs...))
	}
	rep, runErr := Run(ctx, cfg, log)
	if rep == nil {
		return runErr
	}
	if err := rep.WriteSummary(stdout); err != nil {
		return err
	}
	for _, out := range []struct {
		path  string
		write func(io.Writer) error
	}{{jsonOut, rep.WriteJSON}, {csvOut, rep.WriteCSV}, {htmlOut, rep.WriteHTML}} {
		if out.path == "" {
			continue
		}
		if err := writeFile(out.path, out.write); err != nil {
			return err
		}
	}
	return runErr
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("loadgen: %w", err)
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("loadgen: %w", err)
	}
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func splitList(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func provisionCmd(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	fs := newFlagSet("diamload provision", stdout)
	var (
		im  imsiFlags
		cfg ProvisionConfig
	)
	im.register(fs)
	fs.StringVar(&cfg.AdminURL, "admin", "http://127.0.0.1:8080", "rcmhss admin API base URL")
	fs.StringVar(&cfg.Token, "token", os.Getenv("DIAMLOAD_TOKEN"), "admin bearer token (default $DIAMLOAD_TOKEN)")
	fs.StringVar(&cfg.K, "k", defaultLabK, "K of every subscriber, 32 hex digits (default: TS 35.208 test set 1)")
	fs.StringVar(&cfg.OPc, "opc", defaultLabOPc, "OPc of every subscriber, 32 hex digits (default: TS 35.208 test set 1)")
	fs.StringVar(&cfg.AMF, "amf", "8000", "AMF, 4 hex digits")
	fs.Uint64Var(&cfg.SQN, "sqn", 0, "initial SQN")
	fs.StringVar(&cfg.APN, "apn", "internet", "the default APN")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	if cfg.IMSIs, err = ParseIMSIRange(im.start, im.count, false); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	res, err := Provision(ctx, cfg, log)
	fmt.Fprintf(stdout, "provisioned %d, rejected %d in %.3fs (%.0f/s)\n", res.Accepted, res.Rejected,
		res.Elapsed.Seconds(), res.Rate())
	for _, e := range res.Errors {
		fmt.Fprintf(stdout, "  line %d: %s\n", e.Line, e.Error)
	}
	return err
}

func baselineCmd(ctx context.Context, args []string, stderr io.Writer, log *slog.Logger) error {
	fs := newFlagSet("diamload baseline", stderr)
	var (
		listen, redisAddr, stack string
		cfg                      BaselineConfig
		code                     uint
		experimental             bool
	)
	fs.StringVar(&listen, "listen", "tcp://127.0.0.1:3868", "comma-separated listen URLs, tcp:// or sctp://")
	fs.StringVar(&cfg.OriginHost, "origin-host", "baseline.localdomain", "Origin-Host")
	fs.StringVar(&cfg.OriginRealm, "origin-realm", "localdomain", "Origin-Realm")
	fs.StringVar(&redisAddr, "redis", "", "Redis address: one INCR per request (default: none)")
	fs.UintVar(&code, "result-code", 2001, "result of every application answer")
	fs.BoolVar(&experimental, "experimental", false, "send the result as a 3GPP Experimental-Result")
	fs.StringVar(&stack, "stack", "raw", "raw (diamload's own framing, pre-encoded answers) or rcmhss (rcmhss's Diameter server, S6a only)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.Listen = splitList(listen)
	cfg.Result = Result{Code: uint32(code), Experimental: experimental}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if redisAddr != "" {
		rc := redis.NewClient(&redis.Options{Addr: redisAddr})
		defer rc.Close()
		if err := rc.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("loadgen: baseline: redis %s: %w", redisAddr, err)
		}
		cfg.Redis = rc
	}
	switch stack {
	case "raw":
		b, err := NewBaseline(cfg, log)
		if err != nil {
			return err
		}
		if err := b.Start(); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "diamload baseline (raw) listening on %v\n", b.Addrs())
		<-ctx.Done()
		b.Close()
		fmt.Fprintf(stderr, "answered %d\n", b.Answered())
	case "rcmhss":
		srv, err := NewStackBaseline(cfg, log)
		if err != nil {
			return err
		}
		if err := srv.Start(); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "diamload baseline (rcmhss stack) listening on %v\n", srv.Addrs())
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	default:
		return fmt.Errorf("%w: --stack must be raw or rcmhss", errUsage)
	}
	return nil
}
