// Package s6a is the S6a/S6d application (TS 29.272, Auth-Application-Id
// 16777251) as a plugin of the rcmhss Diameter server. It maps the requests an
// MME or SGSN sends to calls of the HSS domain and the results back to
// answers:
//
//   - AIR/AIA, Authentication-Information (5.2.3.1, 7.2.5-6): E-UTRAN vectors,
//     UTRAN quintets and GERAN triplets, resynchronisation (7.3.15).
//   - ULR/ULA, Update-Location (5.2.1.1, 7.2.3-4): ULR-Flags, Terminal-
//     Information, Supported-Features (7.3.10) and the full Subscription-Data
//     (7.3.2); the previous MME gets a CLR (5.2.1.2).
//   - PUR/PUA, Purge-UE (5.2.3.1, 7.2.13-14), and NOR/NOA, Notify (5.2.5.1,
//     7.2.17-18).
//
// As an hss.SubscriberObserver it also originates the HSS-initiated
// procedures towards the MME holding a subscriber the operator changed:
// IDR (5.2.2.1) with the changed Subscription-Data, DSR (5.2.2.2) for
// withdrawn APN configurations, and CLR with SUBSCRIPTION_WITHDRAWAL when the
// subscriber is deleted. As an hss.ResetObserver it sends RSR (5.2.1.3,
// 7.2.15-16) with User-Ids (7.3.50) to every connected MME, and, as a
// diameter.PeerObserver, to each MME that connects after a restart that lost
// the registrations.
//
// Request decoders walk the decoded AVPs directly (no reflection): AIR is the
// hot path of an HSS. Every error code comes from diameter.ResultFor.
package s6a
