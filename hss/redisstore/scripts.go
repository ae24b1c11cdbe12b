package redisstore

import "github.com/redis/go-redis/v9"

// Lua scripts. Each touches only the keys of one subscriber (one hash tag, so
// one Cluster slot), plus the index when it is passed as the last key (single
// Redis and Sentinel). Numbers are Lua doubles: SQN_HE (48 bits) and counters
// stay far below 2^53, and every number written back goes through
// string.format('%.0f') because tostring would round to 14 digits.

// recLua keeps a subscriber's record and SQN state in one hash (doc.go): an
// AIR finds everything it reads and writes under one key, where two keys
// (record string, SQN hash) cost twice the keyspace lookups and, over a
// million subscribers, twice the cache misses (issue 7: 1M vs 1k). The
// record is split into fields r0, r1, ... of at most 64 bytes ('rn' of
// them), Redis's default hash-max-listpack-value, so that the hash stays a
// compact listpack (one 184-byte field would turn it into a hashtable of
// ~650 bytes). recread's HMGET reads 'rn' and the first eight chunks (512
// bytes of record) with the caller's fields; a longer record takes one HGET
// per further chunk.
//
// A subscriber written by an earlier version (record a string at the sub
// key, SQN state in a hash at the sqn key) is moved into the new layout the
// first time a script reads it: HMGET on the string answers WRONGTYPE, and
// migrate merges the two keys.
const recLua = `
local function recset(key, rec, oldn)
  local n = math.ceil(#rec / 64)
  local args = {'rn', tostring(n)}
  for i = 0, n - 1 do
    args[#args + 1] = 'r' .. i
    args[#args + 1] = string.sub(rec, i * 64 + 1, i * 64 + 64)
  end
  redis.call('HSET', key, unpack(args))
  if oldn and oldn > n then
    local d = {}
    for i = n, oldn - 1 do d[#d + 1] = 'r' .. i end
    redis.call('HDEL', key, unpack(d))
  end
end
local function migrate(sub, sqn)
  if redis.call('TYPE', sub)['ok'] ~= 'string' then return end
  local rec = redis.call('GET', sub)
  local st = redis.call('HGETALL', sqn)
  redis.call('DEL', sub, sqn)
  if #st > 0 then redis.call('HSET', sub, unpack(st)) end
  recset(sub, rec, nil)
end
local function recread(sub, sqn, ...)
  local st = redis.pcall('HMGET', sub, 'rn', 'r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7', ...)
  if type(st) == 'table' and st['err'] then
    migrate(sub, sqn)
    st = redis.call('HMGET', sub, 'rn', 'r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7', ...)
  end
  local n = tonumber(st[1])
  if not n then return nil, st end
  local parts = {}
  for i = 1, n do
    if i <= 8 then parts[i] = st[i + 1] else parts[i] = redis.call('HGET', sub, 'r' .. (i - 1)) end
    if not parts[i] then return redis.error_reply('RCMHSS_CORRUPT record chunk r' .. (i - 1) .. ' missing') end
  end
  return table.concat(parts), st
end
`

// KEYS: sub, sqn, reg[, idx]  ARGV: record, SQN_HE seed, imsi
// Returns 1 when created, 0 when the IMSI exists.
var createScript = redis.NewScript(recLua + `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[2], KEYS[3])
recset(KEYS[1], ARGV[1], nil)
redis.call('HSET', KEYS[1], 'h', ARGV[2], 't', '0')
if KEYS[4] then redis.call('ZADD', KEYS[4], 0, ARGV[3]) end
return 1
`)

// KEYS: sub, sqn  Returns {record, SQN_HE} or nil.
var getScript = redis.NewScript(recLua + `
local rec, st = recread(KEYS[1], KEYS[2], 'h')
if not rec then return false end
if type(rec) == 'table' then return rec end
return {rec, st[10] or '0'}
`)

// KEYS: sub, sqn  ARGV: expected record, new record
// Returns 1 when swapped, 0 when the record changed, nil when it is gone.
var casScript = redis.NewScript(recLua + `
local cur, st = recread(KEYS[1], KEYS[2])
if not cur then return false end
if type(cur) == 'table' then return cur end
if cur ~= ARGV[1] then return 0 end
recset(KEYS[1], ARGV[2], tonumber(st[1]))
return 1
`)

// The registrations of a subscriber share one string key, so that an attached
// subscriber costs one key less: u16 length of the MME registration (big
// endian) || MME registration || AAA registration; the key is absent when both
// are. An empty string stands for an absent registration in replies.
const regLua = `
local function regsplit(r)
  if not r then return '', '' end
  local l = string.byte(r, 1) * 256 + string.byte(r, 2)
  return string.sub(r, 3, 2 + l), string.sub(r, 3 + l)
end
local function regstore(key, m, a)
  if m == '' and a == '' then
    redis.call('DEL', key)
  else
    redis.call('SET', key, string.char(math.floor(#m / 256), #m % 256) .. m .. a)
  end
end
`

// KEYS: sub, sqn, reg[, idx]  ARGV: imsi
// Returns {mme, aaa} or nil when the IMSI is unknown.
var deleteScript = redis.NewScript(regLua + `
if KEYS[4] then redis.call('ZREM', KEYS[4], ARGV[1]) end
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local m, a = regsplit(redis.call('GET', KEYS[3]))
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return {m, a}
`)

// KEYS: sub, reg[, claim]  ARGV: 'm' (MME) or 'a' (AAA), new registration
// (empty deletes)[, claim TTL in ms]
// Returns the previous registration or nil when the IMSI is unknown; with a
// claim that this request already holds (request_claim.go), the new
// registration itself, changing nothing.
var swapScript = redis.NewScript(regLua + `
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
if KEYS[3] then
  if redis.call('SET', KEYS[3], '1', 'NX', 'PX', ARGV[3]) == false then return ARGV[2] end
end
local m, a = regsplit(redis.call('GET', KEYS[2]))
local prev
if ARGV[1] == 'm' then prev, m = m, ARGV[2] else prev, a = a, ARGV[2] end
regstore(KEYS[2], m, a)
return prev
`)

// KEYS: sub, reg[, claim]  ARGV: expected MME registration, new MME
// registration[, claim TTL in ms]
// Returns 1 when swapped, 0 when it changed, nil when the IMSI is unknown; 2
// when the claim shows that this request made its change already
// (request_claim.go), changing nothing.
var mmeCASScript = redis.NewScript(regLua + `
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
if KEYS[3] and redis.call('EXISTS', KEYS[3]) == 1 then return 2 end
local m, a = regsplit(redis.call('GET', KEYS[2]))
if m ~= ARGV[1] then return 0 end
regstore(KEYS[2], ARGV[2], a)
if KEYS[3] then redis.call('SET', KEYS[3], '1', 'PX', ARGV[3]) end
return 1
`)

// KEYS: sub, reg  Returns {mme, aaa} or nil when the IMSI is unknown.
var regsScript = redis.NewScript(regLua + `
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local m, a = regsplit(redis.call('GET', KEYS[2]))
return {m, a}
`)

// reserveScript implements ReserveSQN and ResyncSQN (TS 33.102 C.1.2, C.2.2,
// C.3, 6.3.5), mirrored by hss/memstore, with the failover guard
// (failover_guard.go) and the request claim (request_claim.go) in the same
// atomic run.
//
// KEYS: sub, sqn[, claim]
// ARGV: node, n, 2^indBits, max SEQ, resync ('1' or '0'), SEQ_MS, delta,
// failover jump in SEQ steps ('0': no guard), claim TTL in ms
// Returns {record, first SEQ, IND} or nil when the IMSI is unknown;
// {record, first SEQ, IND, 1} when the claim holds an earlier reservation of
// the same request (nothing changed); the error RCMHSS_SQN_EXHAUSTED when the
// reservation would pass the largest SEQ.
//
// The subscriber's hash holds, besides the record, 'h' (SEQ_HE * 2^indBits
// + IND of the last reservation), 't' (a tick counting reservations, for
// LRU), 'o' (the primary that made the last reservation) and one
// 'n:<node>' field per serving node ("IND:tick"); one HMGET reads the
// record and what a reservation needs, one HSET writes it back.
var reserveScript = redis.NewScript(reserveLua)

const reserveLua = recLua + `
local node = 'n:' .. ARGV[1]
local rec, st = recread(KEYS[1], KEYS[2], 'h', 't', node, 'o')
if not rec then return false end
if type(rec) == 'table' then return rec end
local sorigin = st[13]
if KEYS[3] then
  local c = redis.call('GET', KEYS[3])
  if c then
    local f, i = string.match(c, '^(%d+):(%d+)$')
    if f then return {rec, f, tonumber(i), 1} end
  end
end
local n, slots, maxseq = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local jump = tonumber(ARGV[8])
local h = tonumber(st[10] or '0')
local seq = math.floor(h / slots)
local origin = nil
if jump > 0 then
` + guardLua + `
end
if ARGV[5] == '1' then
  -- SEQ_HE+1 would be refused by the USIM: SEQ_HE takes SEQ_MS.
  local ms, delta = tonumber(ARGV[6]), tonumber(ARGV[7])
  if seq + 1 <= ms or seq + 1 - ms > delta then seq = ms end
end
local last = seq + n
if last > maxseq then return redis.error_reply('RCMHSS_SQN_EXHAUSTED') end
local tick = tonumber(st[11] or '0') + 1
local ind = nil
local cur = st[12]
if cur then
  local i = tonumber(string.match(cur, '^(%d+):'))
  if i and i < slots then ind = i end
end
if not ind then
  -- New node: lowest free slot, else the least recently used one.
  local all = redis.call('HGETALL', KEYS[1])
  local used, nused, lruf, lrut, lrui = {}, 0, nil, nil, nil
  for j = 1, #all, 2 do
    local f = all[j]
    if f ~= node and string.sub(f, 1, 2) == 'n:' then
      local i, t = string.match(all[j + 1], '^(%d+):(%d+)$')
      i, t = tonumber(i), tonumber(t)
      if i == nil or i >= slots then
        redis.call('HDEL', KEYS[1], f)
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
    redis.call('HDEL', KEYS[1], lruf)
  end
end
local first = string.format('%.0f', seq + 1)
if origin then
  redis.call('HSET', KEYS[1], node, string.format('%d:%d', ind, tick), 'h', string.format('%.0f', last * slots + ind), 't', string.format('%d', tick), 'o', origin)
else
  redis.call('HSET', KEYS[1], node, string.format('%d:%d', ind, tick), 'h', string.format('%.0f', last * slots + ind), 't', string.format('%d', tick))
end
if KEYS[3] then redis.call('SET', KEYS[3], first .. ':' .. ind, 'PX', ARGV[9]) end
return {rec, first, ind}
`
