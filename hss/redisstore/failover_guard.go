package redisstore

// The failover guard: SQNs must never be issued twice (TS 33.102 6.3.2, C.1:
// the USIM accepts an SQN only above the highest it has seen in the same IND
// slot, so a re-issued SQN makes an attach fail, and a re-issued vector
// repeats RAND/AUTN). Redis replicates asynchronously: when Sentinel
// promotes a replica, the reservations the old primary acknowledged but had
// not yet sent to it are lost, and the new primary would issue those SQNs
// again. WAIT cannot rule this out (a write acknowledged by the primary may
// still be lost before WAIT returns, and WAIT adds a replica round trip to
// every AIR).
//
// Instead every reservation notes which primary made it: the server's
// master_replid, which a server takes anew whenever it starts (a restart
// from an older snapshot or AOF counts; checked on the Redis the tests run,
// including after SHUTDOWN SAVE) and which a promoted replica replaces
// (PSYNC2). The reservation script compares it with the one stored in the
// subscriber's hash (field 'o'); when they differ, this primary may hold
// an older SEQ than the one last issued, so the script first moves SEQ
// forward by Config.FailoverSEQJump steps, then reserves as usual. The check
// runs inside the script, on the server that executes it: there is no window
// between a failover and the node learning of it, and no Sentinel
// subscription.
//
// The cost is reading INFO replication in every reservation (the section
// is short: ~2 us of redis-server time) and one jump per subscriber per
// primary change; see BenchmarkReserveSQNFailoverGuard. An earlier version
// read INFO server as well (for run_id) and matched both with Lua patterns:
// ~18 us per reservation, more than the rest of the script.
//
// The guard is safe as long as one subscriber gets fewer than
// FailoverSEQJump reservations during the replication lag at the moment of
// the failover.
//
// guardLua runs inside reserveLua with sorigin the stored origin and seq the
// current SEQ_HE; it moves seq and leaves in origin the value to store
// (nil when unchanged).
const guardLua = `
  local info = redis.call('INFO', 'replication')
  local p = string.find(info, 'master_replid:', 1, true)
  if not p then return redis.error_reply('RCMHSS_NO_REPLID INFO replication has no master_replid') end
  origin = string.sub(info, p + 14, p + 53)
  if sorigin == origin then
    origin = nil
  else
    seq = seq + jump
    if seq > maxseq then return redis.error_reply('RCMHSS_SQN_EXHAUSTED') end
  end
`
