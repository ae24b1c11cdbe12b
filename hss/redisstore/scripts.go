package redisstore

import "github.com/redis/go-redis/v9"

// Lua scripts. Each touches only the keys of one subscriber (one hash tag, so
// one Cluster slot), plus the index when it is passed as the last key (single
// Redis and Sentinel). Numbers are Lua doubles: SQN_HE (48 bits) and counters
// stay far below 2^53, and every number written back goes through
// string.format('%.0f') because tostring would round to 14 digits.

// KEYS: sub, sqn, mme, aaa[, idx]  ARGV: record, SQN_HE seed, imsi
// Returns 1 when created, 0 when the IMSI exists.
var createScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
redis.call('SET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], 'h', ARGV[2], 't', '0')
if KEYS[5] then redis.call('ZADD', KEYS[5], 0, ARGV[3]) end
return 1
`)

// KEYS: sub, sqn  Returns {record, SQN_HE} or nil.
var getScript = redis.NewScript(`
local rec = redis.call('GET', KEYS[1])
if not rec then return false end
return {rec, redis.call('HGET', KEYS[2], 'h') or '0'}
`)

// KEYS: key holding the value, sub (must exist)  ARGV: expected, new (” deletes)
// Returns 1 when swapped, 0 when the value changed, nil when the subscriber is gone.
var casScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[2]) == 0 then return false end
local cur = redis.call('GET', KEYS[1]) or ''
if cur ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2]) end
return 1
`)

// KEYS: sub, sqn, mme, aaa[, idx]  ARGV: imsi
// Returns {mme, aaa} (” when absent) or nil when the IMSI is unknown.
var deleteScript = redis.NewScript(`
if KEYS[5] then redis.call('ZREM', KEYS[5], ARGV[1]) end
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local mme = redis.call('GET', KEYS[3]) or ''
local aaa = redis.call('GET', KEYS[4]) or ''
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
return {mme, aaa}
`)

// KEYS: sub, reg  ARGV: new registration (” deletes)
// Returns the previous registration (” when none) or nil when the IMSI is unknown.
var swapScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local prev = redis.call('GET', KEYS[2]) or ''
if ARGV[1] == '' then redis.call('DEL', KEYS[2]) else redis.call('SET', KEYS[2], ARGV[1]) end
return prev
`)

// KEYS: sub, mme, aaa  Returns {mme, aaa} (” when absent) or nil.
var regsScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
return {redis.call('GET', KEYS[2]) or '', redis.call('GET', KEYS[3]) or ''}
`)

// reserveScript implements ReserveSQN and ResyncSQN (TS 33.102 C.1.2, C.2.2,
// C.3, 6.3.5), mirrored by hss/memstore.
//
// KEYS: sub, sqn
// ARGV: node, n, 2^indBits, max SEQ, resync ('1' or '0'), SEQ_MS, delta
// Returns {record, first SEQ, IND} or nil when the IMSI is unknown; the error
// RCMHSS_SQN_EXHAUSTED when the reservation would pass the largest SEQ.
var reserveScript = redis.NewScript(`
local rec = redis.call('GET', KEYS[1])
if not rec then return false end
local node, n, slots, maxseq = 'n:' .. ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local h = tonumber(redis.call('HGET', KEYS[2], 'h') or '0')
local seq = math.floor(h / slots)
if ARGV[5] == '1' then
  -- SEQ_HE+1 would be refused by the USIM: SEQ_HE takes SEQ_MS.
  local ms, delta = tonumber(ARGV[6]), tonumber(ARGV[7])
  if seq + 1 <= ms or seq + 1 - ms > delta then seq = ms end
end
local last = seq + n
if last > maxseq then return redis.error_reply('RCMHSS_SQN_EXHAUSTED') end
local tick = redis.call('HINCRBY', KEYS[2], 't', 1)
local ind = nil
local cur = redis.call('HGET', KEYS[2], node)
if cur then
  local i = tonumber(string.match(cur, '^(%d+):'))
  if i and i < slots then ind = i end
end
if not ind then
  -- New node: lowest free slot, else the least recently used one.
  local all = redis.call('HGETALL', KEYS[2])
  local used, nused, lruf, lrut, lrui = {}, 0, nil, nil, nil
  for j = 1, #all, 2 do
    local f = all[j]
    if f ~= node and string.sub(f, 1, 2) == 'n:' then
      local i, t = string.match(all[j + 1], '^(%d+):(%d+)$')
      i, t = tonumber(i), tonumber(t)
      if i == nil or i >= slots then
        redis.call('HDEL', KEYS[2], f)
      else
        used[i] = true
        nused = nused + 1
        if lrut == nil or t < lrut or (t == lrut and f < lruf) then lruf, lrut, lrui = f, t, i end
      end
    end
  end
  if nused < slots then
    ind = 0
    while used[ind] do ind = ind + 1 end
  else
    ind = lrui
    redis.call('HDEL', KEYS[2], lruf)
  end
end
redis.call('HSET', KEYS[2], node, string.format('%d:%d', ind, tick), 'h', string.format('%.0f', last * slots + ind))
return {rec, string.format('%.0f', seq + 1), ind}
`)
