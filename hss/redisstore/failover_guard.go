package redisstore

import "github.com/redis/go-redis/v9"

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
// run_id (new at every start, so a restart from an old snapshot counts) and
// its master_replid (a promoted replica takes a new replication ID,
// PSYNC2). The reservation script compares them with the ones stored in the
// subscriber's SQN hash (field 'o'); when they differ, this primary may hold
// an older SEQ than the one last issued, so it first moves SEQ forward by
// Config.FailoverSEQJump steps, then reserves as usual. The check runs inside
// the script, on the server that executes it: there is no window between a
// failover and the node learning of it, and no Sentinel subscription. The
// cost is two INFO sections read per reservation (see
// BenchmarkReserveSQNFailoverGuard) and one jump per subscriber per
// primary change.
//
// INFO with several sections needs Redis 7.0 or later; on an older server
// every guarded reservation fails (as a store error), it never skips the
// check.
//
// The guard is safe as long as one subscriber gets fewer than
// FailoverSEQJump reservations during the replication lag at the moment of
// the failover.
//
// ARGV[8] is the jump in SEQ steps; ARGV[3], ARGV[4] are as in reserveLua.
const guardLua = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  local info = redis.call('INFO', 'server', 'replication')
  local origin = (string.match(info, 'run_id:(%x+)') or '?') .. ':' .. (string.match(info, 'master_replid:(%x+)') or '?')
  if redis.call('HGET', KEYS[2], 'o') ~= origin then
    local slots, maxseq, jump = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[8])
    local h = tonumber(redis.call('HGET', KEYS[2], 'h') or '0')
    local seq = math.floor(h / slots) + jump
    if seq > maxseq then return redis.error_reply('RCMHSS_SQN_EXHAUSTED') end
    redis.call('HSET', KEYS[2], 'h', string.format('%.0f', seq * slots + h % slots), 'o', origin)
  end
end
`

// reserveGuardedScript is reserveScript behind the failover guard.
var reserveGuardedScript = redis.NewScript(guardLua + reserveLua)
