// Package memstore is the in-process rcm.Store: the embedded RCM state used
// when no Redis address is configured (PRODUCT.md "Storage"), and by tests.
// One mutex serialises every operation, which makes each check-and-set
// (replay cache, rate counters, profile creation, audit append) atomic. It
// passes the rcm/storetest conformance suite. State lives only as long as the
// process: a single node only.
package memstore
