package hss

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Subscriber is one provisioned subscription: its authentication material and the
// EPS subscription data the HSS hands to an MME (TS 29.272 7.3.2) and to a 3GPP
// AAA server (TS 29.273 8.2.3.1).
type Subscriber struct {
	IMSI IMSI
	// K is the subscriber key; OPc the operator variant key derived from OP and K
	// (TS 35.206 4.1). When the operator provisions OP, OPc is derived once at
	// provisioning and OP is kept so that the subscriber can be exported as given.
	K   Key
	OPc Key
	OP  *Key
	AMF [2]byte
	// SQN is the initial SQN_HE given at provisioning (48 bits). The live counter
	// is store state (Store.ReserveSQN); reads report it in SQNState.
	SQN uint64

	MSISDN            MSISDN
	Status            SubscriberStatus
	NetworkAccessMode NetworkAccessMode
	AMBR              AMBR
	APNs              []APNConfiguration
	// DefaultContextID names the APNConfiguration used when the UE requests none
	// (TS 29.272 7.3.34 Context-Identifier in APN-Configuration-Profile).
	DefaultContextID uint32
	// AccessRestriction is the Access-Restriction-Data bitmask (TS 29.272 7.3.31).
	AccessRestriction AccessRestriction
	// Roaming: when RoamingAllowed is false only HomePLMN (taken from the IMSI
	// when empty) is served; otherwise AllowedVisitedPLMNs, empty meaning any.
	RoamingAllowed      bool
	AllowedVisitedPLMNs []PLMN
	// PeriodicRAUTAUTimer is Subscribed-Periodic-RAU-TAU-Timer in seconds (0: not sent).
	PeriodicRAUTAUTimer uint32

	// Non3GPP is the subscription for untrusted non-3GPP access over SWx.
	Non3GPP Non3GPPProfile

	CreatedAt time.Time
	UpdatedAt time.Time
}

// Non3GPPProfile is the Non-3GPP-User-Data of TS 29.273 8.2.3.1.
type Non3GPPProfile struct {
	// AccessAllowed maps to Non-3GPP-IP-Access (0 allowed, 1 barred).
	AccessAllowed bool
	// APNContextIDs selects the APN configurations usable over non-3GPP access;
	// empty means all of the subscriber's APNs.
	APNContextIDs []uint32
}

// SubscriberStatus is Subscriber-Status (TS 29.272 7.3.29).
type SubscriberStatus uint32

const (
	ServiceGranted            SubscriberStatus = 0
	OperatorDeterminedBarring SubscriberStatus = 1
)

// NetworkAccessMode is Network-Access-Mode (TS 29.272 7.3.21).
type NetworkAccessMode uint32

const (
	PacketAndCircuit NetworkAccessMode = 0
	OnlyPacket       NetworkAccessMode = 2
)

// AccessRestriction bits (TS 29.272 7.3.31).
type AccessRestriction uint32

const (
	UTRANNotAllowed            AccessRestriction = 1 << 0
	GERANNotAllowed            AccessRestriction = 1 << 1
	GANNotAllowed              AccessRestriction = 1 << 2
	IHSPAENotAllowed           AccessRestriction = 1 << 3
	EUTRANNotAllowed           AccessRestriction = 1 << 4
	HOToNon3GPPNotAllowed      AccessRestriction = 1 << 5
	NBIoTNotAllowed            AccessRestriction = 1 << 6
	NRAsSecondaryRATNotAllowed AccessRestriction = 1 << 8
)

// AMBR is an aggregate maximum bit rate pair in bits per second (TS 29.272 7.3.41).
type AMBR struct {
	UL uint32
	DL uint32
}

// PDNType is PDN-Type (TS 29.272 7.3.62).
type PDNType uint32

const (
	PDNIPv4       PDNType = 0
	PDNIPv6       PDNType = 1
	PDNIPv4v6     PDNType = 2
	PDNIPv4OrIPv6 PDNType = 3
)

// ARP is Allocation-Retention-Priority (TS 29.212 5.3.32).
type ARP struct {
	PriorityLevel uint8 // 1..15
	// PreemptionCapability true means PRE-EMPTION_CAPABILITY_ENABLED (0).
	PreemptionCapability bool
	// PreemptionVulnerability true means PRE-EMPTION_VULNERABILITY_ENABLED (0).
	PreemptionVulnerability bool
}

// APNConfiguration is one APN-Configuration (TS 29.272 7.3.35).
type APNConfiguration struct {
	ContextID uint32
	Name      string // Service-Selection
	PDNType   PDNType
	QCI       uint8 // 1..9, 65..254 allowed by TS 23.203; we accept 1..254
	ARP       ARP
	AMBR      AMBR
	// StaticIPv4 / StaticIPv6, when valid, are Served-Party-IP-Address values.
	StaticIPv4 netip.Addr
	StaticIPv6 netip.Addr
}

// HomePLMN returns the PLMN of the IMSI assuming an MNC of mncLen digits.
func (i IMSI) HomePLMN(mncLen int) (PLMN, error) {
	if mncLen != 2 && mncLen != 3 {
		return PLMN{}, invalid("mnc length", "must be 2 or 3")
	}
	if len(i) < 3+mncLen {
		return PLMN{}, invalid("imsi", "too short for its PLMN")
	}
	return ParsePLMN(string(i[:3]), string(i[3:3+mncLen]))
}

// MaxSQN is the largest 48-bit sequence number.
const MaxSQN = 1<<48 - 1

// Validate checks the subscriber as a whole and reports every problem at once.
func (s *Subscriber) Validate() error {
	var errs []error
	if _, err := ParseIMSI(string(s.IMSI)); err != nil {
		errs = append(errs, err)
	}
	if s.K.IsZero() {
		errs = append(errs, invalid("k", "is required"))
	}
	if s.OPc.IsZero() && s.OP == nil {
		errs = append(errs, invalid("opc", "opc or op is required"))
	}
	if s.SQN > MaxSQN {
		errs = append(errs, invalid("sqn", "must fit in 48 bits"))
	}
	if _, err := ParseMSISDN(string(s.MSISDN)); err != nil {
		errs = append(errs, err)
	}
	if s.Status != ServiceGranted && s.Status != OperatorDeterminedBarring {
		errs = append(errs, invalid("status", fmt.Sprintf("unknown value %d", s.Status)))
	}
	if s.NetworkAccessMode != PacketAndCircuit && s.NetworkAccessMode != OnlyPacket {
		errs = append(errs, invalid("network_access_mode", fmt.Sprintf("unknown value %d", s.NetworkAccessMode)))
	}
	seen := map[uint32]bool{}
	names := map[string]bool{}
	for i, a := range s.APNs {
		f := fmt.Sprintf("apns[%d]", i)
		if a.ContextID == 0 {
			errs = append(errs, invalid(f+".context_id", "must be positive"))
		}
		if seen[a.ContextID] {
			errs = append(errs, invalid(f+".context_id", "duplicate"))
		}
		seen[a.ContextID] = true
		if a.Name == "" || len(a.Name) > 100 {
			errs = append(errs, invalid(f+".name", "must be 1 to 100 characters"))
		}
		if names[a.Name] {
			errs = append(errs, invalid(f+".name", "duplicate"))
		}
		names[a.Name] = true
		if a.PDNType > PDNIPv4OrIPv6 {
			errs = append(errs, invalid(f+".pdn_type", "must be 0..3"))
		}
		if a.QCI == 0 || a.QCI == 255 {
			errs = append(errs, invalid(f+".qci", "must be 1..254"))
		}
		if a.ARP.PriorityLevel < 1 || a.ARP.PriorityLevel > 15 {
			errs = append(errs, invalid(f+".arp.priority_level", "must be 1..15"))
		}
		if a.StaticIPv4.IsValid() && !a.StaticIPv4.Is4() {
			errs = append(errs, invalid(f+".static_ipv4", "is not an IPv4 address"))
		}
		if a.StaticIPv6.IsValid() && !a.StaticIPv6.Is6() {
			errs = append(errs, invalid(f+".static_ipv6", "is not an IPv6 address"))
		}
	}
	if len(s.APNs) > 0 && !seen[s.DefaultContextID] {
		errs = append(errs, invalid("default_apn", "must name one of the subscriber's APNs"))
	}
	for _, id := range s.Non3GPP.APNContextIDs {
		if !seen[id] {
			errs = append(errs, invalid("non3gpp.apns", fmt.Sprintf("context id %d is not one of the subscriber's APNs", id)))
		}
	}
	return errors.Join(errs...)
}

// APN returns the APN configuration with the given context id.
func (s *Subscriber) APN(contextID uint32) (APNConfiguration, bool) {
	for _, a := range s.APNs {
		if a.ContextID == contextID {
			return a, true
		}
	}
	return APNConfiguration{}, false
}
