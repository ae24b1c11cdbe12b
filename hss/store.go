package hss

import (
	"context"
	"time"
)

// Store is where every piece of shared state lives: subscribers, SQN counters and
// serving-node registrations. It is defined here, by its consumer, and implemented
// by hss/memstore (embedded, in-process) and hss/redisstore (Redis, single node,
// Sentinel or Cluster). Both pass the conformance suite in hss/storetest.
//
// Every read-modify-write that can race between HSS nodes is atomic in the store.
// Methods return ErrUnknownSubscriber for an IMSI that is not provisioned and wrap
// ErrStoreUnavailable when the backend does not answer.
type Store interface {
	SubscriberStore
	SQNStore
	LocationStore
	// Ping reports whether the store answers (readiness).
	Ping(ctx context.Context) error
	Close() error
}

// SubscriberStore holds subscriber records. Implementations keep K, OP and OPc
// encrypted at rest (see KeySealer).
type SubscriberStore interface {
	// CreateSubscriber stores a new subscriber; ErrSubscriberExists if the IMSI is
	// taken. Its SQN field seeds SQN_HE.
	CreateSubscriber(ctx context.Context, s *Subscriber) error
	// GetSubscriber returns the full record, keys included, with SQN set to the
	// current SQN_HE.
	GetSubscriber(ctx context.Context, imsi IMSI) (*Subscriber, error)
	// UpdateSubscriber applies fn to the current record atomically (optimistic
	// concurrency: fn may run more than once) and returns the stored result. fn
	// must not change the IMSI; changing SQN has no effect on SQN_HE.
	UpdateSubscriber(ctx context.Context, imsi IMSI, fn func(*Subscriber) error) (*Subscriber, error)
	// DeleteSubscriber removes the subscriber with its SQN state and registrations
	// and returns the registrations it had, so that the caller can cancel them.
	DeleteSubscriber(ctx context.Context, imsi IMSI) (Registrations, error)
	// ListSubscribers pages through IMSIs in ascending order, starting after
	// cursor ("" for the first page); next is "" on the last page.
	ListSubscribers(ctx context.Context, cursor string, limit int) (imsis []IMSI, next string, err error)
}

// SQNReservation is what one ReserveSQN round trip returns: the authentication
// material and n consecutive SEQ values, all to be used with the same IND.
type SQNReservation struct {
	Material AuthMaterial
	// FirstSEQ is the first reserved SEQ; the reservation is FirstSEQ..FirstSEQ+n-1.
	FirstSEQ uint64
	// IND is the index slot of the serving node (TS 33.102 C.1.2).
	IND uint32
	// Replayed is set when the store found the request key of ctx (see
	// WithRequestKey) already recorded with a reservation: another copy of the
	// same request reserved FirstSEQ and IND, and this call changed nothing.
	Replayed bool
}

// AuthMaterial is the key material vector generation needs.
type AuthMaterial struct {
	K   Key
	OPc Key
	AMF [2]byte
}

// SQNStore keeps SQN_HE = SEQ_HE || IND per TS 33.102 Annex C.1.2: one SEQ_HE
// counter per subscriber shared by every serving node, so SEQ values never repeat,
// and one IND slot per serving node, so vectors handed to different nodes never
// land in the same slot of the USIM's SEQ_MS array.
type SQNStore interface {
	// ReserveSQN, in one round trip and atomically, finds or allocates the IND slot
	// of node among 2^indBits (least recently used slot reused when all are
	// taken), advances SEQ_HE by n and returns the material with the reserved SEQs.
	ReserveSQN(ctx context.Context, imsi IMSI, node string, n int, indBits uint8) (SQNReservation, error)
	// ResyncSQN, in one round trip and atomically, applies TS 33.102 6.3.5 / C.3 to
	// SEQ_MS recovered from a verified AUTS: when SEQ_HE+1 would not be accepted
	// (SEQ_HE+1 <= seqMS, or SEQ_HE+1-seqMS > delta) SEQ_HE is set to seqMS; then
	// it reserves n SEQs as ReserveSQN does.
	ResyncSQN(ctx context.Context, imsi IMSI, node string, seqMS, delta uint64, n int, indBits uint8) (SQNReservation, error)
}

// Registrations are the serving nodes that hold a subscriber.
type Registrations struct {
	MME *MMERegistration
	AAA *AAARegistration
}

// MMERegistration is the MME (or SGSN) that last sent an ULR for the subscriber
// (TS 29.272 5.2.1.1).
type MMERegistration struct {
	Host        string
	Realm       string
	VisitedPLMN PLMN
	RATType     RATType
	ULRFlags    ULRFlags
	// Terminal-Information from the ULR (TS 29.272 7.3.3).
	IMEI            string
	SoftwareVersion string
	// Purged is set by PUR (TS 29.272 5.2.3.1): the MME no longer holds data, so
	// no CLR is sent to it.
	Purged bool
	// NORFlags is the last NOR-Flags received (TS 29.272 7.3.49).
	NORFlags  uint32
	UpdatedAt time.Time
}

// AAARegistration is the 3GPP AAA server registered over SWx (TS 29.273 8.1.2.2).
type AAARegistration struct {
	ServerName string // 3GPP-AAA-Server-Name (its Diameter identity)
	Realm      string
	UpdatedAt  time.Time
}

// LocationStore records serving nodes.
type LocationStore interface {
	// SetMMERegistration stores reg and returns the registration it replaced (nil
	// if none), atomically.
	SetMMERegistration(ctx context.Context, imsi IMSI, reg MMERegistration) (prev *MMERegistration, err error)
	// UpdateMMERegistration applies fn to the current MME registration if it is
	// held by host; ok is false when there is none or another MME holds it.
	UpdateMMERegistration(ctx context.Context, imsi IMSI, host string, fn func(*MMERegistration)) (ok bool, err error)
	// SetAAARegistration stores reg (nil clears it) and returns the previous one.
	SetAAARegistration(ctx context.Context, imsi IMSI, reg *AAARegistration) (prev *AAARegistration, err error)
	// GetRegistrations returns both registrations (fields nil when absent).
	GetRegistrations(ctx context.Context, imsi IMSI) (Registrations, error)
}
