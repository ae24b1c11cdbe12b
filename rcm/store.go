package rcm

import (
	"context"
	"time"

	"github.com/rcmhss/rcmhss/hss"
)

// Store is the RCM state the HSS shares between nodes: device profiles,
// revocations, guest bindings, the replay cache, rate counters and the audit
// log. It is defined here by its consumer; implementations (embedded and
// Redis) belong beside the hss stores and must keep every check-and-set
// atomic across nodes. Errors for missing records are ErrUnknownProfile /
// ErrNoBinding; backend failures wrap hss.ErrStoreUnavailable.
type Store interface {
	ProfileSource
	RevocationSource
	ReplayCache
	RateLimiter

	// CreateProfile stores a validated profile; ErrProfileExists if the id is taken.
	CreateProfile(ctx context.Context, p DeviceProfile) error
	GetProfile(ctx context.Context, id string) (DeviceProfile, error)
	// UpdateProfile replaces the profile with p.ID; ErrUnknownProfile if absent.
	UpdateProfile(ctx context.Context, p DeviceProfile) error
	DeleteProfile(ctx context.Context, id string) error

	RevokeIMEI(ctx context.Context, imei IMEI) error
	RevokeSerial(ctx context.Context, r SerialRevocation) error
	// AddCRL stores a CRL under the fingerprint of the CA that signed it (the
	// caller checks the signature with ParseCRL first).
	AddCRL(ctx context.Context, issuer Fingerprint, der []byte) error
	GetRevocations(ctx context.Context) (Revocations, error)

	// PutBinding stores b, replacing any binding of the same guest IMSI, to be
	// kept until b.ExpiresAt.
	PutBinding(ctx context.Context, b Binding) error
	// GetBinding returns ErrNoBinding when there is none.
	GetBinding(ctx context.Context, guest hss.IMSI) (Binding, error)
	DeleteBinding(ctx context.Context, guest hss.IMSI) error
	// ExpiredBindings returns up to limit bindings whose ExpiresAt is not after
	// now, so that the HSS can send their CLRs and delete them.
	ExpiredBindings(ctx context.Context, now time.Time, limit int) ([]Binding, error)

	// AppendAudit chains r after the current tail (Chain) atomically and
	// returns the stored entry.
	AppendAudit(ctx context.Context, r AuditRecord) (AuditEntry, error)
	// ListAudit returns up to limit entries with Seq > after, in order.
	ListAudit(ctx context.Context, after uint64, limit int) ([]AuditEntry, error)
}
