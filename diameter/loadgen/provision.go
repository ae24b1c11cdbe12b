package loadgen

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ProvisionConfig bulk-provisions an IMSI range into rcmhss through its admin
// API (POST /v1/subscribers:import, application/x-ndjson).
type ProvisionConfig struct {
	// AdminURL is the base URL of the admin API, "http://127.0.0.1:8080".
	AdminURL string
	// Token is the bearer token (RFC 6750 2.1).
	Token string
	IMSIs IMSIRange
	// K and OPc are 32 hex digits each, shared by the whole range (a lab
	// range, not real subscribers); AMF is 4 hex digits (default 8000).
	K, OPc, AMF string
	SQN         uint64
	// APN is the single, default APN (default "internet").
	APN string
	// Client defaults to a client with no overall timeout: an import of
	// millions of rows takes minutes.
	Client *http.Client
}

// ErrImport is returned when the server refused the import or some lines.
var ErrImport = errors.New("loadgen: import")

// ProvisionResult is the server's import summary and the client's rate.
type ProvisionResult struct {
	Accepted  int           `json:"accepted"`
	Rejected  int           `json:"rejected"`
	Errors    []ImportError `json:"errors"`
	Truncated bool          `json:"errors_truncated,omitempty"`
	Error     string        `json:"error,omitempty"`
	Elapsed   time.Duration `json:"-"`
}

// ImportError is one refused line.
type ImportError struct {
	Line  int    `json:"line"`
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

// Rate is the number of accepted subscribers per second.
func (r ProvisionResult) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Accepted) / r.Elapsed.Seconds()
}

// Validate reports every problem of c at once, never echoing key material.
func (c ProvisionConfig) Validate() error {
	var errs []error
	if u, err := url.Parse(c.AdminURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, errors.New("loadgen: provision: admin url must be http(s)://host:port"))
	}
	if c.IMSIs.Count == 0 || c.IMSIs.Digits == 0 {
		errs = append(errs, errors.New("loadgen: provision: an imsi range is required"))
	}
	hexOK := func(s string, n int) bool {
		b, err := hex.DecodeString(s)
		return err == nil && len(b) == n
	}
	if !hexOK(c.K, 16) {
		errs = append(errs, errors.New("loadgen: provision: k must be 32 hex digits"))
	}
	if !hexOK(c.OPc, 16) {
		errs = append(errs, errors.New("loadgen: provision: opc must be 32 hex digits"))
	}
	if c.AMF != "" && !hexOK(c.AMF, 2) {
		errs = append(errs, errors.New("loadgen: provision: amf must be 4 hex digits"))
	}
	if strings.ContainsAny(c.APN, "\"\\") {
		errs = append(errs, errors.New("loadgen: provision: apn must not contain quotes or backslashes"))
	}
	return errors.Join(errs...)
}

// Provision streams one NDJSON line per IMSI of the range into the import
// endpoint through a pipe, so that a million rows never sit in memory on
// either side, and returns the server's summary.
func Provision(ctx context.Context, cfg ProvisionConfig, log *slog.Logger) (ProvisionResult, error) {
	if err := cfg.Validate(); err != nil {
		return ProvisionResult{}, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.AMF == "" {
		cfg.AMF = "8000"
	}
	if cfg.APN == "" {
		cfg.APN = "internet"
	}
	client := cfg.Client
	if client == nil {
		client = &http.Client{}
	}
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(writeNDJSON(pw, cfg))
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		strings.TrimRight(cfg.AdminURL, "/")+"/v1/subscribers:import", pr)
	if err != nil {
		pr.Close()
		return ProvisionResult{}, fmt.Errorf("loadgen: provision: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Authorization", "Bearer "+cfg.Token)
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		pr.Close()
		return ProvisionResult{}, fmt.Errorf("loadgen: provision: %w", err)
	}
	defer resp.Body.Close()
	pr.Close() // stops the writer if the server answered before reading it all
	var res ProvisionResult
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	res.Elapsed = time.Since(start)
	if err != nil {
		return res, fmt.Errorf("loadgen: provision: read answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return res, fmt.Errorf("%w: http %d: %s", ErrImport, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, &res); err != nil {
		return res, fmt.Errorf("loadgen: provision: decode summary: %w", err)
	}
	log.Info("loadgen: provisioned", "accepted", res.Accepted, "rejected", res.Rejected,
		"elapsed", res.Elapsed, "per_s", res.Rate())
	if res.Rejected > 0 || res.Error != "" {
		return res, fmt.Errorf("%w: %d rejected %s", ErrImport, res.Rejected, res.Error)
	}
	return res, nil
}

// writeNDJSON writes the lines of the import; the fields are those of the
// admin API's subscriber document (hss/admin).
func writeNDJSON(w io.Writer, cfg ProvisionConfig) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	// Everything but the IMSI is the same on every line.
	tail := `","k":"` + cfg.K + `","opc":"` + cfg.OPc + `","amf":"` + cfg.AMF + `","sqn":` +
		strconv.FormatUint(cfg.SQN, 10) +
		`,"apns":[{"context_id":1,"name":"` + cfg.APN + `","pdn_type":"ipv4","qci":9,` +
		`"arp":{"priority_level":8},"ambr":{"ul":100000000,"dl":100000000}}],` +
		`"default_apn":1,"ambr":{"ul":100000000,"dl":100000000}}` + "\n"
	imsi := make([]byte, cfg.IMSIs.Digits)
	for i := range cfg.IMSIs.Count {
		putDigits(imsi, cfg.IMSIs.Start+i)
		bw.WriteString(`{"imsi":"`)
		bw.Write(imsi)
		if _, err := bw.WriteString(tail); err != nil {
			return err
		}
	}
	return bw.Flush()
}
