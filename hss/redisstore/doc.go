// Package redisstore implements hss.Store on Redis, the source of truth shared
// by every rcmhss node. One Config covers a single Redis, Redis Sentinel
// (MasterName and sentinel addresses) and Redis Cluster.
//
// Layout, per subscriber, every key hash-tagged on the IMSI so that a Cluster
// keeps a subscriber's keys in one slot and a Lua script may touch them all:
//
//	<prefix>sub:{imsi}  hash    the record (record_codec.go: K, OPc, OP sealed
//	                            by hss.KeySealer, then the profile, compact
//	                            binary) in rn fields r0, r1, ... of at most 64
//	                            bytes, so that the hash stays a listpack
//	                            (scripts.go, recLua); and the SQN state:
//	                            h: SQN_HE, t: reservation counter,
//	                            n:<serving node>: "<IND>:<last counter>",
//	                            o: the primary of the last reservation
//	                            (master_replid), with the failover guard only
//	<prefix>reg:{imsi}  string  u16 length || MME registration (TS 29.272
//	                            5.2.1.1) || 3GPP AAA server registration
//	                            (TS 29.273 8.1.2.2); absent when neither
//	<prefix>idx         zset    every IMSI, score 0, for lexicographic paging
//	<prefix>dup:{key}   string  a serialized Diameter answer by Origin-Host and
//	                            End-to-End id (DuplicateCache), expires (PX)
//	<prefix>peer:{host} string  id of the node holding the Diameter peer's
//	                            connection (PeerDirectory), expires (PX) unless
//	                            its node refreshes it
//	<prefix>node:{id}   channel requests forwarded to node id and the
//	                            answers to its own (PeerDirectory, pub/sub)
//
// Every read-modify-write that can race between nodes runs on the server: SQN
// reservation and resynchronisation (TS 33.102 Annex C.1.2, C.2.2, C.3, 6.3.5)
// return the sealed key material, the first SEQ and the IND in one EVALSHA round
// trip; registration swaps return the previous registration atomically;
// UpdateSubscriber is a compare-and-set on the record, retried a bounded number
// of times. On a single Redis or Sentinel the index is updated in the same
// script as the record; in a Cluster the index lives in another slot and is
// updated right after it (a crash in between leaves an IMSI listed that is gone
// or not yet listed; DeleteSubscriber of an unknown IMSI removes a stale entry).
//
// Failover (failover_guard.go): with Config.FailoverSEQJump set, a
// reservation served by a different primary than the subscriber's last one
// (Sentinel promoted a replica that missed asynchronously replicated
// reservations, or a server restarted from an older snapshot) first moves SEQ
// forward, so that no SQN is issued twice (TS 33.102 C.1). DuplicateCache
// shares answers between nodes so that a retransmission (RFC 6733 5.5.4) to
// another node is answered without running again. PeerDirectory
// (peer_directory.go) lets a node send a CLR, IDR, DSR, PPR or RTR to a peer
// connected to another node.
package redisstore
