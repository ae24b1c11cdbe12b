// Package storetest is the conformance suite every rcm.Store implementation
// passes: device profile CRUD, revocations (IMEI, serial per issuer, CRLs per
// issuer), guest bindings kept until deleted and listed once expired, the
// replay cache as an atomic check-and-set with a TTL, fixed-window rate
// counters, and the hash-chained audit log, each also under concurrent
// callers. Store packages call Run from their tests with a constructor for a
// fresh, empty store.
//
// Time-dependent behaviour (TTL expiry) is observed by polling with a
// deadline, never by sleeping a fixed time, so the same suite runs against
// Redis' real clock and the in-process store.
package storetest
