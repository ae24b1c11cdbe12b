package diameter

import (
	"errors"
	"fmt"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	diamdict "github.com/fiorix/go-diameter/v4/diam/dict"

	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/rcm"
)

// VendorID3GPP is the IANA enterprise number of 3GPP (TS 29.230).
const VendorID3GPP = 10415

// Base protocol result codes (RFC 6733 7.1) used by the server.
const (
	CodeSuccess                = 2001
	CodeCommandUnsupported     = 3001
	CodeUnableToDeliver        = 3002
	CodeRealmNotServed         = 3003
	CodeTooBusy                = 3004
	CodeApplicationUnsupported = 3007
	CodeInvalidHdrBits         = 3008
	CodeInvalidAVPBits         = 3009
	CodeUnknownPeer            = 3010
	CodeInvalidAVPValue        = 5004
	CodeMissingAVP             = 5005
	CodeAVPOccursTooManyTimes  = 5009
	CodeNoCommonApplication    = 5010
	CodeUnsupportedVersion     = 5011
	CodeUnableToComply         = 5012
	// RFC 6733 7.1.4 / 7.1.5, used for RCM guest AIR/ULR refusals
	// (docs/rcm-crypto.md section 7).
	CodeAuthenticationRejected = 4001
	CodeAuthorizationRejected  = 5003
	CodeInvalidAVPLength       = 5014
	CodeInvalidMessageLength   = 5015
	CodeNoCommonSecurity       = 5017
)

// 3GPP Experimental-Result-Code values (TS 29.272 7.4, TS 29.229 6.2).
const (
	CodeUserUnknown                   = 5001 // DIAMETER_ERROR_USER_UNKNOWN
	CodeRoamingNotAllowed             = 5004 // DIAMETER_ERROR_ROAMING_NOT_ALLOWED
	CodeUnknownEPSSubscription        = 5420 // DIAMETER_ERROR_UNKNOWN_EPS_SUBSCRIPTION
	CodeRATNotAllowed                 = 5421 // DIAMETER_ERROR_RAT_NOT_ALLOWED
	CodeAuthenticationDataUnavailable = 4181 // DIAMETER_AUTHENTICATION_DATA_UNAVAILABLE

	// SWx (TS 29.273 8.2.5, and TS 29.229 6.2 codes it reuses).
	CodeIdentityNotRegistered     = 5003 // DIAMETER_ERROR_IDENTITY_NOT_REGISTERED
	CodeIdentityAlreadyRegistered = 5005 // DIAMETER_ERROR_IDENTITY_ALREADY_REGISTERED
	CodeAuthSchemeNotSupported    = 5006 // DIAMETER_ERROR_AUTH_SCHEME_NOT_SUPPORTED
	CodeInAssignmentType          = 5007 // DIAMETER_ERROR_IN_ASSIGNMENT_TYPE
	CodeUserNoNon3GPPSubscription = 5450 // DIAMETER_ERROR_USER_NO_NON_3GPP_SUBSCRIPTION
	// S13 (TS 29.272 7.4.3).
	CodeEquipmentUnknown = 5422 // DIAMETER_ERROR_EQUIPMENT_UNKNOWN
)

// Result is what an answer reports: a base Result-Code, or an
// Experimental-Result (RFC 6733 7.6) with the Vendor-Id that defines the code.
type Result struct {
	Code         uint32
	Experimental bool
	VendorID     uint32
}

// Success is DIAMETER_SUCCESS.
var Success = Result{Code: CodeSuccess}

// IsProtocolError reports whether r is a base protocol error (3xxx, RFC 6733
// 7.1.3), whose answer carries the E bit.
func (r Result) IsProtocolError() bool {
	return !r.Experimental && r.Code >= 3000 && r.Code < 4000
}

func (r Result) String() string {
	if r.Experimental {
		return fmt.Sprintf("experimental %d (vendor %d)", r.Code, r.VendorID)
	}
	return fmt.Sprintf("%d", r.Code)
}

// ResultRule maps every error matching Match (errors.Is / errors.As) to
// Result.
type ResultRule struct {
	Match  func(error) bool
	Result Result
}

func is(target error) func(error) bool {
	return func(err error) bool { return errors.Is(err, target) }
}

func experimental3GPP(code uint32) Result {
	return Result{Code: code, Experimental: true, VendorID: VendorID3GPP}
}

// ResultTable is the one table that chooses a Diameter code for a domain
// error; the first matching row wins. Later features add rows here and
// nowhere else.
var ResultTable = []ResultRule{
	// RCM (docs/rcm-crypto.md section 7). A refused guest ULR wraps its cause
	// (ErrIMEIMismatch, ErrNoBinding ...) with ErrGuestULRRejected, so that row
	// comes first: the cause goes to the audit log, the MME gets 5003.
	{is(rcm.ErrGuestULRRejected), Result{Code: CodeAuthorizationRejected}},
	{is(rcm.ErrNoBinding), Result{Code: CodeAuthorizationRejected}},
	{is(rcm.ErrBindingExpired), Result{Code: CodeAuthorizationRejected}},
	// No credential presented: nothing is wrong with the (known) guest range.
	{is(rcm.ErrNoBootstrap), Result{Code: CodeAuthenticationRejected}},
	// RFC 6733 7.1.5; the extension returns an *AVPError naming the AVP when it
	// knows it (handled before this table).
	{is(rcm.ErrMalformedBootstrap), Result{Code: CodeInvalidAVPValue}},
	// A guest identity is authorised for provisioning only: permanent.
	{is(rcm.ErrNotProvisioning), Result{Code: CodeAuthorizationRejected}},
	// RFC 6733 7.1.4: the device credential did not prove who it claims to be.
	{is(rcm.ErrUnknownCA), Result{Code: CodeAuthenticationRejected}},
	{is(rcm.ErrCertExpired), Result{Code: CodeAuthenticationRejected}},
	{is(rcm.ErrCertNotYetValid), Result{Code: CodeAuthenticationRejected}},
	{is(rcm.ErrSerialRevoked), Result{Code: CodeAuthenticationRejected}},
	{is(rcm.ErrCRLRevoked), Result{Code: CodeAuthenticationRejected}},
	{is(rcm.ErrIMEIMismatch), Result{Code: CodeAuthenticationRejected}},
	{is(rcm.ErrBadSignature), Result{Code: CodeAuthenticationRejected}},
	{is(rcm.ErrStaleTimestamp), Result{Code: CodeAuthenticationRejected}},
	{is(rcm.ErrReplay), Result{Code: CodeAuthenticationRejected}},
	// Genuine device that no provider authorises (RFC 6733 7.1.5): permanent.
	{is(rcm.ErrIMEIRevoked), Result{Code: CodeAuthorizationRejected}},
	{is(rcm.ErrIMEINotCovered), Result{Code: CodeAuthorizationRejected}},
	// Not 3004 TOO_BUSY, which makes the MME re-route the flood to the next
	// node sharing the same counters: TS 29.272 7.4.4.1 "try later".
	{is(rcm.ErrRateLimited), experimental3GPP(CodeAuthenticationDataUnavailable)},
	{is(hss.ErrUnknownSubscriber), experimental3GPP(CodeUserUnknown)},
	{is(hss.ErrUnknownEPSSubscription), experimental3GPP(CodeUnknownEPSSubscription)},
	{is(hss.ErrRATNotAllowed), experimental3GPP(CodeRATNotAllowed)},
	{is(hss.ErrRoamingNotAllowed), experimental3GPP(CodeRoamingNotAllowed)},
	// TS 29.272 5.2.3.1.3: no vectors can be produced right now; transient.
	// 4181 is a 3GPP Experimental-Result-Code (TS 29.272 7.4.4.1), not a
	// base Result-Code.
	{is(hss.ErrAuthDataUnavailable), experimental3GPP(CodeAuthenticationDataUnavailable)},
	// TS 33.102 6.3.5: a resync whose MAC-S fails is answered like missing data.
	{is(hss.ErrResyncFailed), experimental3GPP(CodeAuthenticationDataUnavailable)},
	// SWx, TS 29.273 8.1.2.1.1 / 8.1.2.2.1.
	{is(hss.ErrNoNon3GPPSubscription), experimental3GPP(CodeUserNoNon3GPPSubscription)},
	{is(hss.ErrIdentityAlreadyRegistered), experimental3GPP(CodeIdentityAlreadyRegistered)},
	{is(hss.ErrIdentityNotRegistered), experimental3GPP(CodeIdentityNotRegistered)},
	{is(hss.ErrAuthSchemeNotSupported), experimental3GPP(CodeAuthSchemeNotSupported)},
	{is(hss.ErrInAssignmentType), experimental3GPP(CodeInAssignmentType)},
	// S13, TS 29.272 5.3.2.1.3.
	{is(hss.ErrUnknownEquipment), experimental3GPP(CodeEquipmentUnknown)},
	// The node lost its store (Redis unreachable, failover in progress):
	// the request is fine and another node may serve it. RFC 6733 7.1.3:
	// on DIAMETER_TOO_BUSY a Diameter node SHOULD send the request to an
	// alternate peer (freeDiameter's rt_busypeers does), where 5012 would
	// fail the MME's procedure.
	{is(hss.ErrStoreUnavailable), Result{Code: CodeTooBusy}},
	{is(hss.ErrInvalidInput), Result{Code: CodeInvalidAVPValue}},
}

// ResultFor returns the code that answers err: 2001 for nil, the code of an
// *AVPError, the first matching row of ResultTable, and
// DIAMETER_UNABLE_TO_COMPLY for anything unknown.
func ResultFor(err error) Result {
	if err == nil {
		return Success
	}
	var ae *AVPError
	if errors.As(err, &ae) {
		return Result{Code: ae.Code}
	}
	for _, row := range ResultTable {
		if row.Match(err) {
			return row.Result
		}
	}
	return Result{Code: CodeUnableToComply}
}

// AVPError is returned by handlers for a request AVP that is missing (5005),
// has a bad value (5004) or a bad length (5014). The answer built from it
// carries the AVP in Failed-AVP (RFC 6733 7.5).
type AVPError struct {
	Code uint32 // CodeInvalidAVPValue, CodeMissingAVP or CodeInvalidAVPLength
	// AVP is the offending AVP as received; nil for a missing AVP.
	AVP *diam.AVP
	// AVPCode and VendorID name a missing AVP (RFC 6733 7.1.5: the Failed-AVP
	// holds an example of it with a zero-filled value of minimal length).
	AVPCode  uint32
	VendorID uint32
	// Reason is for logs and Error-Message; it must not contain identities
	// or key material.
	Reason string
}

func (e *AVPError) Error() string {
	code := e.AVPCode
	if e.AVP != nil {
		code = e.AVP.Code
	}
	msg := fmt.Sprintf("diameter: avp %d: result %d", code, e.Code)
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

// MissingAVP returns the error for a required AVP the request lacks.
func MissingAVP(code, vendorID uint32) *AVPError {
	return &AVPError{Code: CodeMissingAVP, AVPCode: code, VendorID: vendorID}
}

// InvalidAVP returns the error for an AVP whose value is not acceptable.
func InvalidAVP(a *diam.AVP, reason string) *AVPError {
	return &AVPError{Code: CodeInvalidAVPValue, AVP: a, Reason: reason}
}

// failedAVP builds the Failed-AVP grouped AVP for e.
func (e *AVPError) failedAVP(d *diamdict.Parser, appID uint32) *diam.AVP {
	inner := e.AVP
	if inner == nil {
		inner = exampleAVP(d, appID, e.AVPCode, e.VendorID, 0)
	}
	return diam.NewAVP(avp.FailedAVP, avp.Mbit, 0, &diam.GroupedAVP{AVP: []*diam.AVP{inner}})
}

// answerAVPs is the initial AVP capacity of an answer (see NewAnswer).
const answerAVPs = 10

var successResultCode = diam.NewAVP(avp.ResultCode, avp.Mbit, 0, datatype.Unsigned32(CodeSuccess))

// SetResult adds r to m: a Result-Code, or an Experimental-Result grouping
// Vendor-Id and Experimental-Result-Code (RFC 6733 7.6). A protocol error
// (3xxx) also sets the E bit (RFC 6733 7.1.3).
func SetResult(m *diam.Message, r Result) {
	if r.Experimental {
		m.AddAVP(diam.NewAVP(avp.ExperimentalResult, avp.Mbit, 0, &diam.GroupedAVP{AVP: []*diam.AVP{
			diam.NewAVP(avp.VendorID, avp.Mbit, 0, datatype.Unsigned32(r.VendorID)),
			diam.NewAVP(avp.ExperimentalResultCode, avp.Mbit, 0, datatype.Unsigned32(r.Code)),
		}}))
		return
	}
	if r == Success {
		// Most answers are successes: they share one Result-Code AVP, which
		// is only ever serialized.
		m.AddAVP(successResultCode)
		return
	}
	m.AddAVP(diam.NewAVP(avp.ResultCode, avp.Mbit, 0, datatype.Unsigned32(r.Code)))
	if r.IsProtocolError() {
		m.Header.CommandFlags |= diam.ErrorFlag
	}
}

// NewAnswer starts the answer to req: same command, application and
// identifiers, the R, T and E bits cleared and the P bit kept (RFC 6733 6.2),
// Session-Id echoed first (RFC 6733 8.8), then r. The server adds
// Origin-Host, Origin-Realm and the request's Proxy-Info to every answer, so
// handlers do not.
func NewAnswer(req *diam.Message, r Result) *diam.Message {
	a := diam.NewMessage(req.Header.CommandCode,
		req.Header.CommandFlags&diam.ProxiableFlag,
		req.Header.ApplicationID, req.Header.HopByHopID, req.Header.EndToEndID,
		req.Dictionary())
	// Room for what an answer usually gets (Session-Id, result, the
	// application's AVPs, Origin-Host/Realm): one allocation instead of the
	// slice growing four times.
	a.AVP = make([]*diam.AVP, 0, answerAVPs)
	if sid := findTop(req, avp.SessionID, 0); sid != nil {
		a.AddAVP(sid)
	}
	SetResult(a, r)
	return a
}

// ErrorAnswer is the answer to req for err: the code ResultFor picks, and
// for an *AVPError the Failed-AVP as well.
func ErrorAnswer(req *diam.Message, err error) *diam.Message {
	a := NewAnswer(req, ResultFor(err))
	var ae *AVPError
	if errors.As(err, &ae) {
		a.AddAVP(ae.failedAVP(req.Dictionary(), req.Header.ApplicationID))
	}
	return a
}

// ResultOf reads the Result-Code or Experimental-Result of an answer.
func ResultOf(m *diam.Message) (Result, bool) {
	for _, a := range m.AVP {
		switch {
		case a.Code == avp.ResultCode && a.VendorID == 0:
			if v, ok := a.Data.(datatype.Unsigned32); ok {
				return Result{Code: uint32(v)}, true
			}
		case a.Code == avp.ExperimentalResult && a.VendorID == 0:
			g, ok := a.Data.(*diam.GroupedAVP)
			if !ok {
				continue
			}
			r := Result{Experimental: true}
			found := false
			for _, in := range g.AVP {
				switch in.Code {
				case avp.VendorID:
					if v, ok := in.Data.(datatype.Unsigned32); ok {
						r.VendorID = uint32(v)
					}
				case avp.ExperimentalResultCode:
					if v, ok := in.Data.(datatype.Unsigned32); ok {
						r.Code = uint32(v)
						found = true
					}
				}
			}
			if found {
				return r, true
			}
		}
	}
	return Result{}, false
}

// findTop returns the first top-level AVP with code and vendor, or nil.
func findTop(m *diam.Message, code, vendor uint32) *diam.AVP {
	for _, a := range m.AVP {
		if a != nil && a.Code == code && a.VendorID == vendor {
			return a
		}
	}
	return nil
}
