package hss

// RATType values of RAT-Type (TS 29.212 5.3.31) that S6a and SWx carry.
type RATType uint32

const (
	RATWLAN        RATType = 0
	RATVirtual     RATType = 1
	RATUTRAN       RATType = 1000
	RATGERAN       RATType = 1001
	RATGAN         RATType = 1002
	RATHSPAEvo     RATType = 1003
	RATEUTRAN      RATType = 1004
	RATEUTRANNBIoT RATType = 1005
	RATNR          RATType = 1009
)

// ULRFlags is the ULR-Flags bit string (TS 29.272 7.3.7).
type ULRFlags uint32

const (
	ULRSingleRegistration   ULRFlags = 1 << 0
	ULRS6aS6dIndicator      ULRFlags = 1 << 1 // set: the request comes from an MME (S6a)
	ULRSkipSubscriberData   ULRFlags = 1 << 2
	ULRGPRSSubscriptionData ULRFlags = 1 << 3
	ULRNodeTypeIndicator    ULRFlags = 1 << 4
	ULRInitialAttach        ULRFlags = 1 << 5
	ULRPSLCSNotSupported    ULRFlags = 1 << 6
)

// Resync carries Re-Synchronization-Info: RAND (16) || AUTS (14) (TS 29.272 7.3.15).
type Resync struct {
	RAND [16]byte
	AUTS [14]byte
}

// AuthInfoRequest is an Authentication-Information-Request in domain terms
// (TS 29.272 5.2.3.1).
type AuthInfoRequest struct {
	IMSI        IMSI
	VisitedPLMN PLMN
	// ServingNode is the requester's Diameter identity (Origin-Host); it selects
	// the IND slot.
	ServingNode string
	// Numbers of vectors requested per kind; each is capped by Config.MaxVectors.
	EUTRAN, UTRAN, GERAN       int
	Resync                     *Resync
	ImmediateResponsePreferred bool
}

// EUTRANVector is an E-UTRAN authentication vector (TS 33.401 6.1.2).
type EUTRANVector struct {
	RAND  [16]byte
	XRES  []byte // 4..16 bytes; Milenage f2 gives 8
	AUTN  [16]byte
	KASME [32]byte
	SQN   uint64
}

// UTRANVector is a UMTS quintet (TS 33.102 6.3.2).
type UTRANVector struct {
	RAND [16]byte
	XRES []byte
	AUTN [16]byte
	CK   [16]byte
	IK   [16]byte
	SQN  uint64
}

// GERANVector is a GSM triplet derived from a quintet (TS 33.102 6.8.2, c2/c3).
type GERANVector struct {
	RAND [16]byte
	SRES [4]byte
	Kc   [8]byte
}

// AuthInfo is the answer to an AuthInfoRequest.
type AuthInfo struct {
	EUTRAN []EUTRANVector
	UTRAN  []UTRANVector
	GERAN  []GERANVector
}

// UpdateLocationRequest is an ULR in domain terms (TS 29.272 5.2.1.1).
type UpdateLocationRequest struct {
	IMSI            IMSI
	Host            string
	Realm           string
	VisitedPLMN     PLMN
	RATType         RATType
	Flags           ULRFlags
	IMEI            string
	SoftwareVersion string
}

// UpdateLocationResult carries what the ULA needs and whom to cancel.
type UpdateLocationResult struct {
	// Subscriber is nil when Skip-Subscriber-Data was set.
	Subscriber *Subscriber
	// Cancel is the previous MME registration that must receive a CLR with
	// MME_UPDATE_PROCEDURE: set only when the MME changed and the previous one had
	// not purged.
	Cancel *MMERegistration
}

// NotifyRequest is a NOR in domain terms (TS 29.272 5.2.5.1).
type NotifyRequest struct {
	IMSI  IMSI
	Host  string
	Flags uint32
	// IMEI / SoftwareVersion when the NOR carries Terminal-Information.
	IMEI            string
	SoftwareVersion string
}
