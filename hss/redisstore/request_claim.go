package redisstore

import (
	"context"

	"github.com/rcmhss/rcmhss/hss"
)

// Request claims make a request's state change happen once across every node
// on the same Redis (issue 8). RFC 6733 5.5.4 lets a client retransmit a
// request, with the T flag, to another server when the first one does not
// answer; the first server may still run the original later (a node frozen
// by SIGSTOP runs what sat in its socket buffer when it resumes), and nothing
// in the original copy says it is stale. So the script that makes the change
// (an SQN reservation, an MME registration) also records the request key
// (hss.RequestKey: Origin-Host and End-to-End Identifier) in a claim key of
// the same subscriber (same hash tag, same Cluster slot) with a TTL
// (Config.RequestClaimTTL, diameter.duplicate_ttl in rcmhss); a copy of the
// request that runs while the claim lives finds it and changes nothing:
//
//   - a reservation returns the SEQ and IND the first copy reserved
//     (SQNReservation.Replayed), so the answer carries vectors with the same
//     SQNs (fresh RANDs): SEQ_HE moves once, and an MME that receives only
//     one of the answers (a relay forwards one) gets SQNs no one else got;
//   - an update of the MME registration (PUR's purged flag, NOR's flags)
//     is made once: a stale PUR cannot mark purged the registration its
//     MME has made since (a re-attach);
//   - an MME registration (ULR) or a 3GPP AAA server registration (SWx MAR,
//     SAR) returns the new registration as the previous one, so no
//     Cancel-Location goes out and a later registration is not undone by a
//     stale copy. The service puts a registration back (another server won
//     a race) without the request key: that is not the request's change.
//
// A claim costs one SET with PX inside the script that makes the change (no
// round trip of its own) and ~100 bytes of Redis memory for its TTL; unlike a
// shared cache of answers (DuplicateCache) it is written for every request
// whatever the T flag says, which is what catches the stale originals.

// claimKey is <prefix>req:{<imsi>}<kind>:<request key>, or "" when claims
// are off or ctx carries no request key; kind keeps the claims of different
// changes apart ("s" SQN reservation, "m" MME registration, "u" update of
// the MME registration, "a" AAA server registration).
func (s *Store) claimKey(ctx context.Context, imsi hss.IMSI, kind string) string {
	if s.claimTTL == 0 {
		return ""
	}
	rk := hss.RequestKey(ctx)
	if rk == "" {
		return ""
	}
	return s.key("req:", imsi) + kind + ":" + rk
}
