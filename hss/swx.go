package hss

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// SWx errors (TS 29.273 8.2.5 and the TS 29.229 6.2 codes SWx reuses).
// diameter/result.go maps them to codes.
var (
	// ErrNoNon3GPPSubscription: the subscriber has no (or a barred)
	// non-3GPP subscription (DIAMETER_ERROR_USER_NO_NON_3GPP_SUBSCRIPTION 5450).
	ErrNoNon3GPPSubscription = errors.New("no non-3gpp subscription")
	// ErrIdentityNotRegistered: a request that needs the requesting 3GPP AAA
	// server to be registered came while none is
	// (DIAMETER_ERROR_IDENTITY_NOT_REGISTERED 5003).
	ErrIdentityNotRegistered = errors.New("identity not registered")
	// ErrIdentityAlreadyRegistered: another 3GPP AAA server serves the user
	// (DIAMETER_ERROR_IDENTITY_ALREADY_REGISTERED 5005). Returned wrapped in
	// an *AlreadyRegisteredError that names it.
	ErrIdentityAlreadyRegistered = errors.New("identity already registered")
	// ErrAuthSchemeNotSupported: a SIP-Authentication-Scheme other than
	// EAP-AKA and EAP-AKA' (DIAMETER_ERROR_AUTH_SCHEME_NOT_SUPPORTED 5006).
	ErrAuthSchemeNotSupported = errors.New("authentication scheme not supported")
	// ErrInAssignmentType: a Server-Assignment-Type SWx does not use
	// (DIAMETER_ERROR_IN_ASSIGNMENT_TYPE 5007).
	ErrInAssignmentType = errors.New("server-assignment-type not allowed")
)

// AlreadyRegisteredError carries the 3GPP AAA server that holds the user, so
// that the answer can name it in 3GPP-AAA-Server-Name (TS 29.273 8.1.2.1.1,
// 8.1.2.2.1: the requesting AAA server then proxies to it).
type AlreadyRegisteredError struct {
	ServerName string
}

func (e *AlreadyRegisteredError) Error() string {
	return "hss: another 3gpp aaa server is registered: " + e.ServerName
}

// Unwrap makes errors.Is(err, ErrIdentityAlreadyRegistered) hold.
func (e *AlreadyRegisteredError) Unwrap() error { return ErrIdentityAlreadyRegistered }

// ParseNAIIdentity returns the IMSI of a SWx User-Name. TS 29.273 8.2.2.1 and
// TS 23.003 19.3.2: the permanent identity comes as an IMSI or as a root NAI
// "<prefix><IMSI>@nai.epc.mnc<MNC>.mcc<MCC>.3gppnetwork.org" whose leading
// digit says the method: "0" EAP-AKA, "6" EAP-AKA' (RFC 4187 4.1.1.6, RFC
// 9048 3.1), "1" EAP-SIM. Pseudonyms and re-authentication identities never
// reach the HSS and are refused.
func ParseNAIIdentity(s string) (IMSI, error) {
	user, _, isNAI := strings.Cut(s, "@")
	if !isNAI {
		return ParseIMSI(s)
	}
	if user == "" {
		return "", invalid("user-name", "empty NAI username")
	}
	switch user[0] {
	case '0', '6', '1':
		return ParseIMSI(user[1:])
	}
	return "", invalid("user-name", "NAI is not a permanent identity (prefix must be 0, 1 or 6)")
}

// Non3GPPAuthRequest is a SWx MAR in domain terms (TS 29.273 8.1.2.1).
type Non3GPPAuthRequest struct {
	IMSI IMSI
	// AAAServer and AAARealm identify the requesting 3GPP AAA server
	// (its Origin-Host and Origin-Realm).
	AAAServer, AAARealm string
	N                   int
	// Prime selects EAP-AKA' with AccessNetworkID (TS 33.402 A.2).
	Prime           bool
	AccessNetworkID string
	Resync          *Resync
	RATType         RATType
}

// Non3GPPAuthentication answers a MAR (TS 29.273 8.1.2.1.1): the subscriber
// must exist and have non-3GPP access; when another 3GPP AAA server is
// registered the answer names it (*AlreadyRegisteredError); otherwise vectors
// are generated (with the resync of TS 33.102 6.3.5 first when asked) and the
// requesting server is recorded as the one serving the user.
func (h *HSS) Non3GPPAuthentication(ctx context.Context, req Non3GPPAuthRequest) ([]EAPVector, error) {
	const op = "hss: non-3gpp authentication: %w"
	if req.AAAServer == "" {
		return nil, fmt.Errorf(op, invalid("aaa_server", "is required"))
	}
	_, regs, err := h.non3GPPSubscriber(ctx, req.IMSI)
	if err != nil {
		return nil, fmt.Errorf(op, err)
	}
	if regs.AAA != nil && !strings.EqualFold(regs.AAA.ServerName, req.AAAServer) {
		return nil, fmt.Errorf(op, &AlreadyRegisteredError{ServerName: regs.AAA.ServerName})
	}
	vs, err := h.EAPAKAVectors(ctx, EAPVectorRequest{
		IMSI: req.IMSI, ServingNode: req.AAAServer, N: req.N,
		Prime: req.Prime, AccessNetworkID: req.AccessNetworkID, Resync: req.Resync,
	})
	if err != nil {
		return nil, fmt.Errorf(op, err)
	}
	if regs.AAA == nil {
		if err := h.registerAAA(ctx, req.IMSI, req.AAAServer, req.AAARealm); err != nil {
			return nil, fmt.Errorf(op, err)
		}
	}
	return vs, nil
}

// non3GPPSubscriber reads the subscriber and its registrations and checks the
// non-3GPP subscription.
func (h *HSS) non3GPPSubscriber(ctx context.Context, imsi IMSI) (*Subscriber, Registrations, error) {
	if _, err := ParseIMSI(string(imsi)); err != nil {
		return nil, Registrations{}, err
	}
	sub, err := h.store.GetSubscriber(ctx, imsi)
	if err != nil {
		return nil, Registrations{}, err
	}
	if !sub.Non3GPP.AccessAllowed {
		return nil, Registrations{}, ErrNoNon3GPPSubscription
	}
	regs, err := h.store.GetRegistrations(ctx, imsi)
	if err != nil {
		return nil, Registrations{}, err
	}
	return sub, regs, nil
}

// registerAAA records server as the user's 3GPP AAA server. The store swaps
// without comparing, so a registration another server made in between is put
// back and reported.
func (h *HSS) registerAAA(ctx context.Context, imsi IMSI, server, realm string) error {
	prev, err := h.store.SetAAARegistration(ctx, imsi, &AAARegistration{ServerName: server, Realm: realm, UpdatedAt: h.now()})
	if err != nil {
		return err
	}
	if prev != nil && !strings.EqualFold(prev.ServerName, server) {
		// The put-back is not this request's change: without the request
		// key, a store that claims changes per request (WithRequestKey)
		// does not take it for a copy of the swap above.
		if _, err := h.store.SetAAARegistration(WithRequestKey(ctx, ""), imsi, prev); err != nil {
			return err
		}
		return &AlreadyRegisteredError{ServerName: prev.ServerName}
	}
	return nil
}

// ServerAssignmentType is Server-Assignment-Type (TS 29.229 6.3.15), which
// SWx reuses in SAR (TS 29.273 8.2.2.3).
type ServerAssignmentType uint32

const (
	SANoAssignment                 ServerAssignmentType = 0
	SARegistration                 ServerAssignmentType = 1
	SAReRegistration               ServerAssignmentType = 2
	SAUnregisteredUser             ServerAssignmentType = 3
	SATimeoutDeregistration        ServerAssignmentType = 4
	SAUserDeregistration           ServerAssignmentType = 5
	SATimeoutDeregistrationStore   ServerAssignmentType = 6
	SAUserDeregistrationStore      ServerAssignmentType = 7
	SAAdministrativeDeregistration ServerAssignmentType = 8
	SAAuthenticationFailure        ServerAssignmentType = 9
	SAAuthenticationTimeout        ServerAssignmentType = 10
	SADeregistrationTooMuchData    ServerAssignmentType = 11
	SAAAAUserDataRequest           ServerAssignmentType = 12
	SAPGWUpdate                    ServerAssignmentType = 13
	SARestoration                  ServerAssignmentType = 14
)

// ServerAssignmentRequest is a SWx SAR in domain terms (TS 29.273 8.1.2.2).
type ServerAssignmentRequest struct {
	IMSI                IMSI
	AAAServer, AAARealm string
	Type                ServerAssignmentType
}

// Non3GPPUserData is what Non-3GPP-User-Data carries (TS 29.273 8.2.3.1).
type Non3GPPUserData struct {
	AccessAllowed bool
	MSISDN        MSISDN
	AMBR          AMBR
	// DefaultContextID is the default APN for non-3GPP access; 0 with no APN.
	DefaultContextID uint32
	APNs             []APNConfiguration
}

// Non3GPPData selects the non-3GPP user data of s: the APNs named by
// Non3GPP.APNContextIDs (all APNs when empty), and as default the
// subscriber's default APN when selected, else the first selected one.
func Non3GPPData(s *Subscriber) Non3GPPUserData {
	d := Non3GPPUserData{AccessAllowed: s.Non3GPP.AccessAllowed, MSISDN: s.MSISDN, AMBR: s.AMBR}
	if len(s.Non3GPP.APNContextIDs) == 0 {
		d.APNs = append([]APNConfiguration(nil), s.APNs...)
	} else {
		for _, id := range s.Non3GPP.APNContextIDs {
			if a, ok := s.APN(id); ok {
				d.APNs = append(d.APNs, a)
			}
		}
	}
	for _, a := range d.APNs {
		if a.ContextID == s.DefaultContextID {
			d.DefaultContextID = a.ContextID
		}
	}
	if d.DefaultContextID == 0 && len(d.APNs) > 0 {
		d.DefaultContextID = d.APNs[0].ContextID
	}
	return d
}

// Non3GPPDataChanged reports whether what a 3GPP AAA server holds of the
// user (its Non-3GPP-User-Data) differs between before and after: the
// trigger of a PPR (TS 29.273 8.1.2.3).
func Non3GPPDataChanged(before, after *Subscriber) bool {
	b, a := Non3GPPData(before), Non3GPPData(after)
	if b.AccessAllowed != a.AccessAllowed || b.MSISDN != a.MSISDN || b.AMBR != a.AMBR ||
		b.DefaultContextID != a.DefaultContextID || len(b.APNs) != len(a.APNs) {
		return true
	}
	for i := range a.APNs {
		if a.APNs[i] != b.APNs[i] {
			return true
		}
	}
	return false
}

// ServerAssignmentResult is what a SAA carries.
type ServerAssignmentResult struct {
	// Data is nil for the deregistration types, which return no user data.
	Data *Non3GPPUserData
}

// ServerAssignment answers a SAR (TS 29.273 8.1.2.2.1):
//   - REGISTRATION, RE_REGISTRATION and RESTORATION register the requesting
//     server (refused with *AlreadyRegisteredError when another holds the
//     user) and return the user data;
//   - NO_ASSIGNMENT returns the user data without changing the registration;
//   - AAA_USER_DATA_REQUEST and PGW_UPDATE need the requester to be the
//     registered server (ErrIdentityNotRegistered when none is) and return
//     the user data;
//   - USER_, TIMEOUT_ and ADMINISTRATIVE_DEREGISTRATION and the
//     AUTHENTICATION_FAILURE/TIMEOUT types clear the registration when the
//     requester holds it, and succeed without change otherwise (the user is
//     not registered there any more);
//   - every other type is ErrInAssignmentType.
//
// A subscriber without non-3GPP access is ErrNoNon3GPPSubscription except
// for the deregistrations, which must always be able to clean up.
func (h *HSS) ServerAssignment(ctx context.Context, req ServerAssignmentRequest) (ServerAssignmentResult, error) {
	const op = "hss: server assignment: %w"
	if req.AAAServer == "" {
		return ServerAssignmentResult{}, fmt.Errorf(op, invalid("aaa_server", "is required"))
	}
	if _, err := ParseIMSI(string(req.IMSI)); err != nil {
		return ServerAssignmentResult{}, fmt.Errorf(op, err)
	}
	switch req.Type {
	case SATimeoutDeregistration, SAUserDeregistration, SAAdministrativeDeregistration,
		SAAuthenticationFailure, SAAuthenticationTimeout:
		if err := h.deregisterAAA(ctx, req.IMSI, req.AAAServer); err != nil {
			return ServerAssignmentResult{}, fmt.Errorf(op, err)
		}
		return ServerAssignmentResult{}, nil
	case SARegistration, SAReRegistration, SARestoration, SANoAssignment, SAAAAUserDataRequest, SAPGWUpdate:
	default:
		return ServerAssignmentResult{}, fmt.Errorf(op, ErrInAssignmentType)
	}
	sub, regs, err := h.non3GPPSubscriber(ctx, req.IMSI)
	if err != nil {
		return ServerAssignmentResult{}, fmt.Errorf(op, err)
	}
	if regs.AAA != nil && !strings.EqualFold(regs.AAA.ServerName, req.AAAServer) {
		return ServerAssignmentResult{}, fmt.Errorf(op, &AlreadyRegisteredError{ServerName: regs.AAA.ServerName})
	}
	switch req.Type {
	case SARegistration, SAReRegistration, SARestoration:
		if err := h.registerAAA(ctx, req.IMSI, req.AAAServer, req.AAARealm); err != nil {
			return ServerAssignmentResult{}, fmt.Errorf(op, err)
		}
	case SAAAAUserDataRequest, SAPGWUpdate:
		if regs.AAA == nil {
			return ServerAssignmentResult{}, fmt.Errorf(op, ErrIdentityNotRegistered)
		}
	}
	d := Non3GPPData(sub)
	return ServerAssignmentResult{Data: &d}, nil
}

// deregisterAAA clears the AAA registration when server holds it.
func (h *HSS) deregisterAAA(ctx context.Context, imsi IMSI, server string) error {
	regs, err := h.store.GetRegistrations(ctx, imsi)
	if err != nil {
		return err
	}
	if regs.AAA == nil || !strings.EqualFold(regs.AAA.ServerName, server) {
		h.log.DebugContext(ctx, "swx deregistration from a server that holds no registration", "imsi", imsi, "aaa", server)
		return nil
	}
	prev, err := h.store.SetAAARegistration(ctx, imsi, nil)
	if err != nil {
		return err
	}
	if prev != nil && !strings.EqualFold(prev.ServerName, server) {
		// Another server registered in between: its registration stays
		// (put back without the request key, as in registerAAA).
		_, err = h.store.SetAAARegistration(WithRequestKey(ctx, ""), imsi, prev)
		return err
	}
	return nil
}

// Non3GPPDeregister clears the user's 3GPP AAA server registration when
// server holds it: the HSS side of an HSS-initiated deregistration (RTR,
// TS 29.273 8.1.2.2.2) once the server was told.
func (h *HSS) Non3GPPDeregister(ctx context.Context, imsi IMSI, server string) error {
	if _, err := ParseIMSI(string(imsi)); err != nil {
		return fmt.Errorf("hss: non-3gpp deregister: %w", err)
	}
	if err := h.deregisterAAA(ctx, imsi, server); err != nil {
		return fmt.Errorf("hss: non-3gpp deregister: %w", err)
	}
	return nil
}
