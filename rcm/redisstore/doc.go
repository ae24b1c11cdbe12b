// Package redisstore is rcm.Store on Redis (single node, Sentinel or Cluster),
// the RCM state HSS nodes share (PRODUCT.md "Storage"): device profiles,
// revocations, guest bindings, the replay cache, rate counters and the
// hash-chained audit log.
//
// Every check-and-set that two nodes can race on is atomic in Redis:
//
//   - replay cache: SET NX PX (a hit keeps the first TTL);
//   - rate counters: INCR then PEXPIRE on the first hit, in one Lua script, so
//     that a crash between the two can never leave a counter without a window;
//   - profile creation: HSETNX; update and delete: Lua on HEXISTS;
//   - audit append: the tail is read and the next entry (rcm.Chain, SHA-256,
//     which Redis Lua lacks) is pushed under WATCH/MULTI/EXEC, retried when
//     another node appended first, so that the chain can never fork;
//   - bindings: a hash of JSON records and a sorted set of expiry times,
//     written in one MULTI so that they never disagree.
//
// Keys share the hash tag {rcm} (Cluster: one slot, so the scripts and
// transactions above may touch several keys), except the replay and rate keys,
// which are single-key operations and each get their own tag to spread load.
// RCM traffic is provisioning traffic, far below what one slot serves.
//
// It passes the rcm/storetest conformance suite on a real redis-server.
package redisstore
