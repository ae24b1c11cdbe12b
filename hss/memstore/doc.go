// Package memstore is the embedded, in-process implementation of hss.Store. The
// server uses it when no Redis address is configured, so that a lab can run a
// single node with nothing else installed; its state lives only as long as the
// process.
//
// It keeps the semantics of hss/redisstore so that a lab moving to Redis sees no
// difference: K, OP and OPc are held sealed by the same hss.KeySealer, callers
// get copies and never a pointer into the store, and every read-modify-write is
// atomic under the lock of the subscriber's shard. SQN_HE is handled per
// TS 33.102 Annex C.1.2 (one SEQ_HE per subscriber, one IND slot per serving
// node, least recently used slot reused) and resynchronisation per TS 33.102
// 6.3.5 and C.3, exactly as documented on hss.SQNStore. It passes the
// conformance suite in hss/storetest.
package memstore
