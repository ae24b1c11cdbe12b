package hss

import "context"

// SubscriberObserver is told about operator changes to subscribers so that the
// Diameter applications can tell the serving nodes: S6a sends IDR / DSR / CLR to
// the registered MME, SWx sends PPR / RTR to the registered AAA server. Observers
// run synchronously after the change is stored; they handle and log their own
// errors (the change is already committed).
type SubscriberObserver interface {
	SubscriberUpdated(ctx context.Context, before, after *Subscriber, regs Registrations)
	SubscriberDeleted(ctx context.Context, s *Subscriber, regs Registrations)
}

// EAPVectorRequest asks for EAP-AKA (RFC 4187) or EAP-AKA' (RFC 9048, TS 33.402)
// vectors for SWx MAR (TS 29.273 8.1.2.1).
type EAPVectorRequest struct {
	IMSI        IMSI
	ServingNode string // 3GPP AAA server identity; selects the IND slot
	N           int
	// Prime selects EAP-AKA': CK'/IK' derived with AccessNetworkID (TS 33.402 A.2).
	Prime           bool
	AccessNetworkID string
	Resync          *Resync
}

// EAPVector is one SIP-Auth-Data-Item worth of material. For EAP-AKA' CK and IK
// hold CK' and IK'.
type EAPVector struct {
	RAND [16]byte
	AUTN [16]byte
	XRES []byte
	CK   [16]byte
	IK   [16]byte
	SQN  uint64
}
