package admin

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/rcmhss/rcmhss/hss"
)

// subscriberDoc is the JSON form of a subscriber that clients write (POST body,
// PATCH merge target, one import line). Pointer fields tell "absent" from zero so
// that defaults apply only to what the client left out.
type subscriberDoc struct {
	IMSI                string          `json:"imsi"`
	K                   *string         `json:"k,omitempty"`
	OPc                 *string         `json:"opc,omitempty"`
	OP                  *string         `json:"op,omitempty"`
	AMF                 *string         `json:"amf,omitempty"`
	SQN                 *uint64         `json:"sqn,omitempty"`
	MSISDN              string          `json:"msisdn,omitempty"`
	APNs                []apnDoc        `json:"apns,omitempty"`
	DefaultAPN          json.RawMessage `json:"default_apn,omitempty"`
	AMBR                *ambrDoc        `json:"ambr,omitempty"`
	Status              string          `json:"status,omitempty"`
	NetworkAccessMode   string          `json:"network_access_mode,omitempty"`
	AccessRestriction   *uint32         `json:"access_restriction,omitempty"`
	RoamingAllowed      *bool           `json:"roaming_allowed,omitempty"`
	AllowedVisitedPLMNs []string        `json:"allowed_visited_plmns,omitempty"`
	PeriodicRAUTAUTimer *uint32         `json:"periodic_rau_tau_timer,omitempty"`
	Non3GPP             *non3GPPDoc     `json:"non3gpp,omitempty"`
}

type apnDoc struct {
	ContextID  *uint32  `json:"context_id,omitempty"`
	Name       string   `json:"name"`
	PDNType    string   `json:"pdn_type,omitempty"`
	QCI        *uint8   `json:"qci,omitempty"`
	ARP        *arpDoc  `json:"arp,omitempty"`
	AMBR       *ambrDoc `json:"ambr,omitempty"`
	StaticIPv4 string   `json:"static_ipv4,omitempty"`
	StaticIPv6 string   `json:"static_ipv6,omitempty"`
}

type arpDoc struct {
	PriorityLevel           uint8 `json:"priority_level"`
	PreemptionCapability    bool  `json:"preemption_capability"`
	PreemptionVulnerability bool  `json:"preemption_vulnerability"`
}

type ambrDoc struct {
	UL uint32 `json:"ul"`
	DL uint32 `json:"dl"`
}

type non3GPPDoc struct {
	AccessAllowed bool     `json:"access_allowed"`
	APNs          []uint32 `json:"apns,omitempty"`
}

// subscriberView is what GET answers: the subscription without K, OP or OPc,
// the live SQN_HE and the serving nodes.
type subscriberView struct {
	IMSI                string          `json:"imsi"`
	AMF                 string          `json:"amf"`
	SQN                 uint64          `json:"sqn"`
	OPProvisioned       bool            `json:"op_provisioned"`
	MSISDN              string          `json:"msisdn,omitempty"`
	APNs                []apnDoc        `json:"apns"`
	DefaultAPN          json.RawMessage `json:"default_apn,omitempty"`
	AMBR                ambrDoc         `json:"ambr"`
	Status              string          `json:"status"`
	NetworkAccessMode   string          `json:"network_access_mode"`
	AccessRestriction   uint32          `json:"access_restriction"`
	RoamingAllowed      bool            `json:"roaming_allowed"`
	AllowedVisitedPLMNs []string        `json:"allowed_visited_plmns"`
	PeriodicRAUTAUTimer uint32          `json:"periodic_rau_tau_timer"`
	Non3GPP             non3GPPDoc      `json:"non3gpp"`
	ServingMME          *mmeView        `json:"serving_mme,omitempty"`
	ServingAAA          *aaaView        `json:"serving_aaa,omitempty"`
	CreatedAt           *time.Time      `json:"created_at,omitempty"`
	UpdatedAt           *time.Time      `json:"updated_at,omitempty"`
}

type mmeView struct {
	Host            string    `json:"host"`
	Realm           string    `json:"realm"`
	VisitedPLMN     string    `json:"visited_plmn"`
	RATType         uint32    `json:"rat_type"`
	ULRFlags        uint32    `json:"ulr_flags"`
	IMEI            string    `json:"imei,omitempty"`
	SoftwareVersion string    `json:"software_version,omitempty"`
	Purged          bool      `json:"purged"`
	UpdatedAt       time.Time `json:"updated_at"`
}

type aaaView struct {
	ServerName string    `json:"server_name"`
	Realm      string    `json:"realm"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Names of the enumerations on the wire of this API. They mirror the AVP value
// names of TS 29.272 in lower case.
var (
	pdnTypeNames = map[hss.PDNType]string{
		hss.PDNIPv4: "ipv4", hss.PDNIPv6: "ipv6", hss.PDNIPv4v6: "ipv4v6", hss.PDNIPv4OrIPv6: "ipv4_or_ipv6",
	}
	statusNames = map[hss.SubscriberStatus]string{
		hss.ServiceGranted: "service_granted", hss.OperatorDeterminedBarring: "operator_determined_barring",
	}
	namNames = map[hss.NetworkAccessMode]string{
		hss.PacketAndCircuit: "packet_and_circuit", hss.OnlyPacket: "only_packet",
	}
)

func lookupName[T comparable](names map[T]string, s, field string) (T, error) {
	for v, n := range names {
		if n == s {
			return v, nil
		}
	}
	var zero T
	if v, ok := echoable(s); ok {
		return zero, &hss.ValidationError{Field: field, Reason: fmt.Sprintf("unknown value %q", v)}
	}
	return zero, &hss.ValidationError{Field: field, Reason: "unknown value"}
}

// Defaults for what a client leaves out of an APN: the common lab profile
// (dual-stack, best-effort QCI 9, ARP priority 8, pre-emptable).
const (
	defaultQCI         = 9
	defaultARPPriority = 8
)

// toSubscriber builds the domain record from a client document. keep supplies
// the key material when the document carries none (PATCH); nil means create.
func (d *subscriberDoc) toSubscriber(keep *hss.Subscriber) (*hss.Subscriber, error) {
	imsi, err := hss.ParseIMSI(d.IMSI)
	if err != nil {
		return nil, err
	}
	s := &hss.Subscriber{IMSI: imsi, RoamingAllowed: true}
	if keep != nil {
		s.K, s.OPc, s.OP, s.AMF, s.SQN = keep.K, keep.OPc, keep.OP, keep.AMF, keep.SQN
		s.CreatedAt, s.UpdatedAt = keep.CreatedAt, keep.UpdatedAt
	} else {
		s.AMF = [2]byte{0x80, 0x00} // TS 33.102 Annex H: separation bit set for E-UTRAN
	}
	if d.K != nil {
		if s.K, err = parseKeyField(*d.K, "k"); err != nil {
			return nil, err
		}
	}
	switch {
	case d.OPc != nil && d.OP != nil:
		return nil, &hss.ValidationError{Field: "op", Reason: "give either opc or op, not both"}
	case d.OPc != nil:
		if s.OPc, err = parseKeyField(*d.OPc, "opc"); err != nil {
			return nil, err
		}
		s.OP = nil
	case d.OP != nil:
		op, err := parseKeyField(*d.OP, "op")
		if err != nil {
			return nil, err
		}
		s.OP = &op
	}
	// TS 35.206 4.1: OPc = OP xor E_K(OP). Deriving it whenever OP is set keeps it
	// right after K or OP changes.
	if s.OP != nil {
		s.OPc = hss.ComputeOPc(s.K, *s.OP)
	}
	if d.AMF != nil {
		b, err := hex.DecodeString(*d.AMF)
		if err != nil || len(b) != 2 {
			return nil, &hss.ValidationError{Field: "amf", Reason: "must be 4 hex digits"}
		}
		s.AMF = [2]byte(b)
	}
	if d.SQN != nil {
		s.SQN = *d.SQN
	}
	if s.MSISDN, err = hss.ParseMSISDN(d.MSISDN); err != nil {
		return nil, err
	}
	if d.Status != "" {
		if s.Status, err = lookupName(statusNames, d.Status, "status"); err != nil {
			return nil, err
		}
	}
	s.NetworkAccessMode = hss.OnlyPacket
	if d.NetworkAccessMode != "" {
		if s.NetworkAccessMode, err = lookupName(namNames, d.NetworkAccessMode, "network_access_mode"); err != nil {
			return nil, err
		}
	}
	if d.AMBR != nil {
		s.AMBR = hss.AMBR{UL: d.AMBR.UL, DL: d.AMBR.DL}
	}
	if d.AccessRestriction != nil {
		s.AccessRestriction = hss.AccessRestriction(*d.AccessRestriction)
	}
	if d.RoamingAllowed != nil {
		s.RoamingAllowed = *d.RoamingAllowed
	}
	for i, p := range d.AllowedVisitedPLMNs {
		plmn, err := hss.PLMNFromString(p)
		if err != nil {
			return nil, &hss.ValidationError{Field: fmt.Sprintf("allowed_visited_plmns[%d]", i), Reason: "must be 5 or 6 digits (MCC+MNC)"}
		}
		s.AllowedVisitedPLMNs = append(s.AllowedVisitedPLMNs, plmn)
	}
	if d.PeriodicRAUTAUTimer != nil {
		s.PeriodicRAUTAUTimer = *d.PeriodicRAUTAUTimer
	}
	if d.Non3GPP != nil {
		s.Non3GPP = hss.Non3GPPProfile{AccessAllowed: d.Non3GPP.AccessAllowed, APNContextIDs: d.Non3GPP.APNs}
	}
	for i, a := range d.APNs {
		apn, err := a.toAPN(i)
		if err != nil {
			return nil, err
		}
		s.APNs = append(s.APNs, apn)
	}
	if s.DefaultContextID, err = d.defaultContextID(s.APNs); err != nil {
		return nil, err
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

func (a apnDoc) toAPN(i int) (hss.APNConfiguration, error) {
	f := func(name string) string { return fmt.Sprintf("apns[%d].%s", i, name) }
	apn := hss.APNConfiguration{
		ContextID: uint32(i + 1),
		Name:      a.Name,
		PDNType:   hss.PDNIPv4v6,
		QCI:       defaultQCI,
		ARP:       hss.ARP{PriorityLevel: defaultARPPriority, PreemptionVulnerability: true},
	}
	if a.ContextID != nil {
		apn.ContextID = *a.ContextID
	}
	if a.PDNType != "" {
		t, err := lookupName(pdnTypeNames, a.PDNType, f("pdn_type"))
		if err != nil {
			return apn, err
		}
		apn.PDNType = t
	}
	if a.QCI != nil {
		apn.QCI = *a.QCI
	}
	if a.ARP != nil {
		apn.ARP = hss.ARP{PriorityLevel: a.ARP.PriorityLevel, PreemptionCapability: a.ARP.PreemptionCapability, PreemptionVulnerability: a.ARP.PreemptionVulnerability}
	}
	if a.AMBR != nil {
		apn.AMBR = hss.AMBR{UL: a.AMBR.UL, DL: a.AMBR.DL}
	}
	for _, ip := range []struct {
		s, field string
		dst      *netip.Addr
	}{{a.StaticIPv4, "static_ipv4", &apn.StaticIPv4}, {a.StaticIPv6, "static_ipv6", &apn.StaticIPv6}} {
		if ip.s == "" {
			continue
		}
		addr, err := netip.ParseAddr(ip.s)
		if err != nil {
			return apn, &hss.ValidationError{Field: f(ip.field), Reason: "is not an IP address"}
		}
		*ip.dst = addr
	}
	return apn, nil
}

// defaultContextID resolves default_apn, given as an APN name or a context id.
// With one APN and no default_apn that APN is the default.
func (d *subscriberDoc) defaultContextID(apns []hss.APNConfiguration) (uint32, error) {
	bad := &hss.ValidationError{Field: "default_apn", Reason: "must name one of the subscriber's APNs (name or context id)"}
	if len(d.DefaultAPN) == 0 || string(d.DefaultAPN) == "null" {
		if len(apns) > 0 {
			return apns[0].ContextID, nil
		}
		return 0, nil
	}
	var name string
	if err := json.Unmarshal(d.DefaultAPN, &name); err == nil {
		for _, a := range apns {
			if a.Name == name {
				return a.ContextID, nil
			}
		}
		// A CSV import carries numbers as text.
		if id, err := strconv.ParseUint(name, 10, 32); err == nil {
			return uint32(id), nil
		}
		return 0, bad
	}
	var id uint32
	if err := json.Unmarshal(d.DefaultAPN, &id); err != nil {
		return 0, bad
	}
	return id, nil
}

func parseKeyField(s, field string) (hss.Key, error) {
	k, err := hss.ParseKey(s)
	if err != nil {
		// ParseKey's message never contains the value; restate it with the field.
		return k, &hss.ValidationError{Field: field, Reason: "must be 32 hex digits"}
	}
	if k.IsZero() {
		return k, &hss.ValidationError{Field: field, Reason: "must not be all zero"}
	}
	return k, nil
}

// docFromSubscriber renders the writable fields of s, without key material.
// PATCH merges the client's patch into this document.
func docFromSubscriber(s *hss.Subscriber) subscriberDoc {
	amf := hex.EncodeToString(s.AMF[:])
	ar := uint32(s.AccessRestriction)
	roaming := s.RoamingAllowed
	timer := s.PeriodicRAUTAUTimer
	d := subscriberDoc{
		IMSI:                string(s.IMSI),
		AMF:                 &amf,
		MSISDN:              string(s.MSISDN),
		AMBR:                &ambrDoc{UL: s.AMBR.UL, DL: s.AMBR.DL},
		Status:              statusNames[s.Status],
		NetworkAccessMode:   namNames[s.NetworkAccessMode],
		AccessRestriction:   &ar,
		RoamingAllowed:      &roaming,
		PeriodicRAUTAUTimer: &timer,
		Non3GPP:             &non3GPPDoc{AccessAllowed: s.Non3GPP.AccessAllowed, APNs: s.Non3GPP.APNContextIDs},
	}
	for _, p := range s.AllowedVisitedPLMNs {
		d.AllowedVisitedPLMNs = append(d.AllowedVisitedPLMNs, p.String())
	}
	d.APNs = apnDocs(s.APNs)
	if len(s.APNs) > 0 {
		d.DefaultAPN = json.RawMessage(strconv.FormatUint(uint64(s.DefaultContextID), 10))
	}
	return d
}

func apnDocs(apns []hss.APNConfiguration) []apnDoc {
	out := make([]apnDoc, 0, len(apns))
	for _, a := range apns {
		id, qci := a.ContextID, a.QCI
		d := apnDoc{
			ContextID: &id,
			Name:      a.Name,
			PDNType:   pdnTypeNames[a.PDNType],
			QCI:       &qci,
			ARP:       &arpDoc{PriorityLevel: a.ARP.PriorityLevel, PreemptionCapability: a.ARP.PreemptionCapability, PreemptionVulnerability: a.ARP.PreemptionVulnerability},
			AMBR:      &ambrDoc{UL: a.AMBR.UL, DL: a.AMBR.DL},
		}
		if a.StaticIPv4.IsValid() {
			d.StaticIPv4 = a.StaticIPv4.String()
		}
		if a.StaticIPv6.IsValid() {
			d.StaticIPv6 = a.StaticIPv6.String()
		}
		out = append(out, d)
	}
	return out
}

func viewFromSubscriber(s *hss.Subscriber, regs hss.Registrations) subscriberView {
	v := subscriberView{
		IMSI:                string(s.IMSI),
		AMF:                 hex.EncodeToString(s.AMF[:]),
		SQN:                 s.SQN,
		OPProvisioned:       s.OP != nil,
		MSISDN:              string(s.MSISDN),
		APNs:                apnDocs(s.APNs),
		AMBR:                ambrDoc{UL: s.AMBR.UL, DL: s.AMBR.DL},
		Status:              statusNames[s.Status],
		NetworkAccessMode:   namNames[s.NetworkAccessMode],
		AccessRestriction:   uint32(s.AccessRestriction),
		RoamingAllowed:      s.RoamingAllowed,
		AllowedVisitedPLMNs: []string{},
		PeriodicRAUTAUTimer: s.PeriodicRAUTAUTimer,
		Non3GPP:             non3GPPDoc{AccessAllowed: s.Non3GPP.AccessAllowed, APNs: s.Non3GPP.APNContextIDs},
	}
	for _, p := range s.AllowedVisitedPLMNs {
		v.AllowedVisitedPLMNs = append(v.AllowedVisitedPLMNs, p.String())
	}
	if len(s.APNs) > 0 {
		v.DefaultAPN = json.RawMessage(strconv.FormatUint(uint64(s.DefaultContextID), 10))
	}
	if !s.CreatedAt.IsZero() {
		t := s.CreatedAt.UTC()
		v.CreatedAt = &t
	}
	if !s.UpdatedAt.IsZero() {
		t := s.UpdatedAt.UTC()
		v.UpdatedAt = &t
	}
	if m := regs.MME; m != nil {
		v.ServingMME = &mmeView{
			Host: m.Host, Realm: m.Realm, VisitedPLMN: m.VisitedPLMN.String(), RATType: uint32(m.RATType),
			ULRFlags: uint32(m.ULRFlags), IMEI: m.IMEI, SoftwareVersion: m.SoftwareVersion, Purged: m.Purged,
			UpdatedAt: m.UpdatedAt.UTC(),
		}
	}
	if a := regs.AAA; a != nil {
		v.ServingAAA = &aaaView{ServerName: a.ServerName, Realm: a.Realm, UpdatedAt: a.UpdatedAt.UTC()}
	}
	return v
}
