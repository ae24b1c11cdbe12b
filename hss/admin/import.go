package admin

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/rcmhss/rcmhss/hss"
)

// importSummary answers POST /v1/subscribers:import.
type importSummary struct {
	Accepted int           `json:"accepted"`
	Rejected int           `json:"rejected"`
	Errors   []importError `json:"errors"`
	// Truncated is set when more lines failed than Errors holds.
	Truncated bool `json:"errors_truncated,omitempty"`
	// Error is set when the import stopped early (store unavailable, unreadable
	// body); lines after the last one counted were not processed.
	Error string `json:"error,omitempty"`
}

type importError struct {
	Line  int    `json:"line"`
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

// csvColumns are the header names a CSV import accepts. A row describes a
// subscriber with at most one APN, the common shape of SIM vendor output files.
var csvColumns = map[string]bool{
	"imsi": true, "k": true, "opc": true, "op": true, "amf": true, "sqn": true, "msisdn": true,
	"apn": true, "pdn_type": true, "qci": true, "apn_ambr_ul": true, "apn_ambr_dl": true, "static_ipv4": true,
	"ambr_ul": true, "ambr_dl": true, "status": true, "network_access_mode": true, "roaming_allowed": true,
}

// importSubscribers streams the body line by line, creating one subscriber per
// line, so that an import of millions of rows runs in constant memory. A bad line
// is reported and skipped; it never stops the lines after it.
func (h *handler) importSubscribers(w http.ResponseWriter, r *http.Request) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var next func() (line int, doc *subscriberDoc, err error, fatal error)
	switch mt {
	case "application/x-ndjson", "application/jsonl", "application/json-lines":
		next = ndjsonReader(r.Body)
	case "text/csv":
		var err error
		if next, err = csvReader(r.Body); err != nil {
			h.writeError(w, r, err)
			return
		}
	default:
		w.Header().Set("Accept-Post", "application/x-ndjson, text/csv")
		writeJSON(w, http.StatusUnsupportedMediaType, errorBody{Error: "Content-Type must be application/x-ndjson or text/csv", Field: "Content-Type"})
		return
	}
	var sum importSummary
	sum.Errors = []importError{}
	for {
		line, doc, lineErr, fatal := next()
		if fatal == io.EOF {
			break
		}
		if fatal != nil {
			sum.Error = "body unreadable after line " + strconv.Itoa(line) + ": " + fatal.Error()
			writeJSON(w, http.StatusBadRequest, sum)
			return
		}
		if lineErr == nil {
			_, lineErr = h.createDoc(r.Context(), doc)
		}
		if lineErr == nil {
			sum.Accepted++
			continue
		}
		if errorStatus(lineErr) == http.StatusServiceUnavailable {
			h.log.WarnContext(r.Context(), "admin: import stopped: store unavailable", "line", line, "accepted", sum.Accepted, "err", lineErr)
			sum.Error = fmt.Sprintf("store unavailable at line %d", line)
			writeJSON(w, http.StatusServiceUnavailable, sum)
			return
		}
		sum.Rejected++
		if len(sum.Errors) >= h.maxErrs {
			sum.Truncated = true
			continue
		}
		ie := importError{Line: line, Error: lineErr.Error()}
		var ve *hss.ValidationError
		if errors.As(lineErr, &ve) {
			ie.Field = ve.Field
		}
		if errorStatus(lineErr) == http.StatusInternalServerError {
			h.log.ErrorContext(r.Context(), "admin: import line failed", "line", line, "err", lineErr)
			ie.Error = "internal error"
		}
		sum.Errors = append(sum.Errors, ie)
	}
	writeJSON(w, http.StatusOK, sum)
}

// ndjsonReader yields one subscriberDoc per non-empty line (JSON Lines).
func ndjsonReader(body io.Reader) func() (int, *subscriberDoc, error, error) {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), maxDocumentBytes)
	line := 0
	return func() (int, *subscriberDoc, error, error) {
		for sc.Scan() {
			line++
			text := strings.TrimSpace(sc.Text())
			if text == "" {
				continue
			}
			var doc subscriberDoc
			if err := decodeStrict([]byte(text), &doc); err != nil {
				return line, nil, err, nil
			}
			return line, &doc, nil, nil
		}
		if err := sc.Err(); err != nil {
			if errors.Is(err, bufio.ErrTooLong) {
				err = fmt.Errorf("line %d longer than %d bytes", line+1, maxDocumentBytes)
			}
			return line, nil, nil, err
		}
		return line, nil, nil, io.EOF
	}
}

// csvReader reads the header row and yields one subscriberDoc per record
// (RFC 4180). Empty cells mean "not given".
func csvReader(body io.Reader) (func() (int, *subscriberDoc, error, error), error) {
	cr := csv.NewReader(body)
	cr.FieldsPerRecord = 0
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, &hss.ValidationError{Field: "header", Reason: "a CSV import starts with a header row"}
	}
	cols := make([]string, len(header))
	for i, c := range header {
		c = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(c, "\ufeff")))
		if !csvColumns[c] {
			if name, ok := echoable(c); ok {
				return nil, &hss.ValidationError{Field: "header", Reason: fmt.Sprintf("unknown column %q", name)}
			}
			// A data row in place of the header: never repeat its cells.
			return nil, &hss.ValidationError{Field: "header", Reason: fmt.Sprintf("column %d is not a known column name; a CSV import starts with a header row", i+1)}
		}
		cols[i] = c
	}
	return func() (int, *subscriberDoc, error, error) {
		rec, err := cr.Read()
		if err == io.EOF {
			return 0, nil, nil, io.EOF
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			// A malformed record is that line's error; csv.Reader resumes after it.
			return pe.StartLine, nil, &hss.ValidationError{Field: "csv", Reason: pe.Err.Error()}, nil
		}
		if err != nil {
			return 0, nil, nil, err
		}
		line, _ := cr.FieldPos(0)
		row := map[string]string{}
		for i, v := range rec {
			if v = strings.TrimSpace(v); v != "" {
				row[cols[i]] = v
			}
		}
		doc, err := docFromCSV(row)
		return line, doc, err, nil
	}, nil
}

func docFromCSV(row map[string]string) (*subscriberDoc, error) {
	d := &subscriberDoc{IMSI: row["imsi"], MSISDN: row["msisdn"], Status: row["status"], NetworkAccessMode: row["network_access_mode"]}
	str := func(col string) *string {
		if v, ok := row[col]; ok {
			return &v
		}
		return nil
	}
	d.K, d.OPc, d.OP, d.AMF = str("k"), str("opc"), str("op"), str("amf")
	u32 := func(col string) (*uint32, error) {
		v, ok := row[col]
		if !ok {
			return nil, nil
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return nil, &hss.ValidationError{Field: col, Reason: "must be an unsigned 32-bit integer"}
		}
		u := uint32(n)
		return &u, nil
	}
	if v, ok := row["sqn"]; ok {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return nil, &hss.ValidationError{Field: "sqn", Reason: "must be a decimal integer"}
		}
		d.SQN = &n
	}
	if v, ok := row["roaming_allowed"]; ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, &hss.ValidationError{Field: "roaming_allowed", Reason: "must be true or false"}
		}
		d.RoamingAllowed = &b
	}
	ul, err := u32("ambr_ul")
	if err != nil {
		return nil, err
	}
	dl, err := u32("ambr_dl")
	if err != nil {
		return nil, err
	}
	if ul != nil || dl != nil {
		d.AMBR = &ambrDoc{UL: deref(ul), DL: deref(dl)}
	}
	if name, ok := row["apn"]; ok {
		a := apnDoc{Name: name, PDNType: row["pdn_type"], StaticIPv4: row["static_ipv4"]}
		qci, err := u32("qci")
		if err != nil {
			return nil, err
		}
		if qci != nil {
			if *qci > 255 {
				return nil, &hss.ValidationError{Field: "qci", Reason: "must be 1..254"}
			}
			q := uint8(*qci)
			a.QCI = &q
		}
		aul, err := u32("apn_ambr_ul")
		if err != nil {
			return nil, err
		}
		adl, err := u32("apn_ambr_dl")
		if err != nil {
			return nil, err
		}
		if aul != nil || adl != nil {
			a.AMBR = &ambrDoc{UL: deref(aul), DL: deref(adl)}
		}
		d.APNs = []apnDoc{a}
	}
	if d.K == nil {
		return nil, &hss.ValidationError{Field: "k", Reason: "is required"}
	}
	return d, nil
}

func deref(p *uint32) uint32 {
	if p == nil {
		return 0
	}
	return *p
}
