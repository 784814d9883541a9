import { EndReason } from "@peertobeer/protocol";

/*
 * Every state change of cluster mode is one call of this Lua script, so each is atomic in
 * Redis: two nodes racing (glare, two invites, a timer and a hang-up) are serialised there.
 * All keys share one hash tag, {prefix}, so the script runs unchanged on Redis Cluster (on one
 * shard). The rules are the hub's (server/src/hub): the backend contract suite runs both.
 *
 * Keys, under P = "{prefix}:":
 *   P users       hash  userId -> sessionId (who is online)
 *   P s:<sid>     hash  uid, node (holding its stream, "" while detached), watch, seq, gen
 *   P h:<sid>     list  the session's events for replay: "seq|from|callId|kind|payload"
 *   P hw:<sid>    int   what that list weighs (its entries' bytes + 128 each)
 *   P watchers    set   sessions that watch presence
 *   P ns:<node>   set   sessions whose stream a node holds (for when the node dies)
 *   P nodes       zset  node -> last tick (Redis time, ms)
 *   P c:<cid>     hash  caller, callee, state ("ringing" | "active")
 *   P incall      hash  userId -> callId
 *   P timers      zset  "ring:<cid>" | "grace:<sid>" -> due time (Redis time, ms)
 *   P stats       hash  ringing, active: how many calls are in each state
 * Channel P n:<node> (sharded pub/sub) carries to a node, for the sessions it holds:
 *   "e|sid|<µs>|<event entry>"  an event, published at <µs> (Redis clock);  "t|sid|gen" another
 *   stream took over. Channel P all carries to every node "x|sid": the session ended.
 * An event's kind is "p" (payload: an encoded SignalingMessage holding just the event),
 * "c" (call ended: "reason,endedBy") or "r" (presence: "userId,1|0").
 *
 * Every reply ends with two lists, for the node's metrics: the end reasons of the calls the run
 * ended, and the setup times (ms, offer to accepted answer) of the calls it accepted.
 */
export const CLUSTER_SCRIPT = `
local P = KEYS[1]
local op = ARGV[1]
local HIST_MAX = tonumber(ARGV[2])
local HIST_MS = tonumber(ARGV[3])
local GRACE_MS = tonumber(ARGV[4])
local HIST_BYTES = tonumber(ARGV[5])
local t = redis.call('TIME')
local NOW = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local NOW_US = string.format('%.0f', tonumber(t[1]) * 1000000 + tonumber(t[2]))
local A = 6
local ENDED = {}
local SETUP = {}

local function publish(node, message)
  redis.call('SPUBLISH', P .. 'n:' .. node, message)
end

local function deliver(sid, from, cid, kind, payload)
  local sk = P .. 's:' .. sid
  local seq = redis.call('HINCRBY', sk, 'seq', 1)
  local entry = seq .. '|' .. from .. '|' .. cid .. '|' .. kind .. '|' .. payload
  local hk, wk = P .. 'h:' .. sid, P .. 'hw:' .. sid
  -- Bounded in count and in weight (about its bytes), as the hub bounds a session's history.
  redis.call('RPUSH', hk, entry)
  local weight = redis.call('INCRBY', wk, #entry + 128)
  local kept = redis.call('LLEN', hk)
  while kept > HIST_MAX or weight > HIST_BYTES do
    weight = redis.call('INCRBY', wk, -(#redis.call('LPOP', hk) + 128))
    kept = kept - 1
  end
  redis.call('PEXPIRE', hk, HIST_MS)
  redis.call('PEXPIRE', wk, HIST_MS)
  local node = redis.call('HGET', sk, 'node')
  if node and node ~= '' then publish(node, 'e|' .. sid .. '|' .. NOW_US .. '|' .. entry) end
end

local function deliverToUser(uid, from, cid, kind, payload)
  local sid = redis.call('HGET', P .. 'users', uid)
  if sid then deliver(sid, from, cid, kind, payload) end
end

local function presence(uid, online)
  for _, sid in ipairs(redis.call('SMEMBERS', P .. 'watchers')) do
    if redis.call('HGET', P .. 's:' .. sid, 'uid') ~= uid then deliver(sid, '', '', 'r', uid .. ',' .. online) end
  end
end

local function endCall(cid, reason, endedBy)
  local ck = P .. 'c:' .. cid
  local c = redis.call('HMGET', ck, 'caller', 'callee', 'state')
  if not c[1] then return end
  redis.call('DEL', ck)
  redis.call('HINCRBY', P .. 'stats', c[3], -1)
  ENDED[#ENDED + 1] = reason
  redis.call('ZREM', P .. 'timers', 'ring:' .. cid)
  for _, u in ipairs({ c[1], c[2] }) do
    if redis.call('HGET', P .. 'incall', u) == cid then redis.call('HDEL', P .. 'incall', u) end
    if u ~= endedBy then deliverToUser(u, endedBy, cid, 'c', reason .. ',' .. endedBy) end
  end
end

local function closeSession(sid)
  local sk = P .. 's:' .. sid
  local s = redis.call('HMGET', sk, 'uid', 'node')
  if not s[1] then return false end
  local uid = s[1]
  redis.call('DEL', sk, P .. 'h:' .. sid, P .. 'hw:' .. sid)
  redis.call('ZREM', P .. 'timers', 'grace:' .. sid)
  redis.call('SREM', P .. 'watchers', sid)
  if s[2] and s[2] ~= '' then redis.call('SREM', P .. 'ns:' .. s[2], sid) end
  -- Every node: the one holding its stream ends it, any other forgets its token.
  redis.call('SPUBLISH', P .. 'all', 'x|' .. sid)
  if redis.call('HGET', P .. 'users', uid) == sid then
    redis.call('HDEL', P .. 'users', uid)
    local cid = redis.call('HGET', P .. 'incall', uid)
    if cid then endCall(cid, ${EndReason.PEER_GONE}, uid) end
    presence(uid, 0)
  end
  return true
end

local function online(uid)
  local ids = {}
  for _, id in ipairs(redis.call('HKEYS', P .. 'users')) do
    if id ~= uid then ids[#ids + 1] = id end
  end
  return ids
end

-- The caller's session must still be the user's current one.
local function current(uid, sid)
  return redis.call('HGET', P .. 'users', uid) == sid
end

local function run()
if op == 'open' then
  local uid, sid, node, watch = ARGV[A], ARGV[A + 1], ARGV[A + 2], ARGV[A + 3]
  local old = redis.call('HGET', P .. 'users', uid)
  if old then
    local oldNode = redis.call('HGET', P .. 's:' .. old, 'node')
    if oldNode and oldNode ~= '' then return { 'taken' } end
    closeSession(old)
  end
  -- seq 1 is the joined event, which the opening node sends itself (never replayed).
  redis.call('HSET', P .. 's:' .. sid, 'uid', uid, 'node', node, 'watch', watch, 'seq', 1, 'gen', 1)
  redis.call('HSET', P .. 'users', uid, sid)
  redis.call('SADD', P .. 'ns:' .. node, sid)
  if watch == '1' then redis.call('SADD', P .. 'watchers', sid) end
  presence(uid, 1)
  if watch == '1' then return { 'ok', online(uid) } end
  return { 'ok', {} }

elseif op == 'attach' then
  local sid, uid, node, lastSeq = ARGV[A], ARGV[A + 1], ARGV[A + 2], tonumber(ARGV[A + 3])
  local sk = P .. 's:' .. sid
  local s = redis.call('HMGET', sk, 'uid', 'node', 'seq', 'watch')
  if s[1] ~= uid or not current(uid, sid) then return { 'gone' } end
  local seq = tonumber(s[3])
  local hk = P .. 'h:' .. sid
  local kept = redis.call('LLEN', hk)
  if lastSeq > seq or lastSeq + 1 < seq - kept + 1 then
    closeSession(sid)
    return { 'gone' }
  end
  local gen = redis.call('HINCRBY', sk, 'gen', 1)
  if s[2] ~= '' and s[2] ~= node then
    redis.call('SREM', P .. 'ns:' .. s[2], sid)
    publish(s[2], 't|' .. sid .. '|' .. gen)
  end
  redis.call('HSET', sk, 'node', node)
  redis.call('SADD', P .. 'ns:' .. node, sid)
  redis.call('ZREM', P .. 'timers', 'grace:' .. sid)
  local missed = {}
  if seq > lastSeq then missed = redis.call('LRANGE', hk, lastSeq - seq, -1) end
  local ids = {}
  if s[4] == '1' then ids = online(uid) end
  return { 'ok', gen, s[4], missed, ids }

elseif op == 'detach' then
  local sid, node, gen = ARGV[A], ARGV[A + 1], ARGV[A + 2]
  local sk = P .. 's:' .. sid
  local s = redis.call('HMGET', sk, 'node', 'gen')
  if s[1] == node and s[2] == gen then
    redis.call('HSET', sk, 'node', '')
    redis.call('SREM', P .. 'ns:' .. node, sid)
    redis.call('ZADD', P .. 'timers', NOW + GRACE_MS, 'grace:' .. sid)
  end
  return { 'ok' }

elseif op == 'close' then
  closeSession(ARGV[A])
  return { 'ok' }

elseif op == 'call' then
  local uid, sid, to, cid, ringMs, payload = ARGV[A], ARGV[A + 1], ARGV[A + 2], ARGV[A + 3], tonumber(ARGV[A + 4]), ARGV[A + 5]
  if not current(uid, sid) then return { 'ended' } end
  local own = redis.call('HGET', P .. 'incall', uid)
  if own then
    local c = redis.call('HMGET', P .. 'c:' .. own, 'state', 'caller')
    if c[1] == 'ringing' and c[2] == to then return { 'glare', own } end
    return { 'incall' }
  end
  if not redis.call('HGET', P .. 'users', to) then return { 'offline' } end
  if redis.call('HGET', P .. 'incall', to) then return { 'busy' } end
  redis.call('HSET', P .. 'c:' .. cid, 'caller', uid, 'callee', to, 'state', 'ringing', 'at', NOW)
  redis.call('HINCRBY', P .. 'stats', 'ringing', 1)
  redis.call('HSET', P .. 'incall', uid, cid, to, cid)
  redis.call('ZADD', P .. 'timers', NOW + ringMs, 'ring:' .. cid)
  deliverToUser(to, uid, cid, 'p', payload)
  return { 'ok' }

elseif op == 'relay' or op == 'hangup' then
  local uid, sid, cid = ARGV[A], ARGV[A + 1], ARGV[A + 2]
  if not current(uid, sid) then return { 'ended' } end
  local ck = P .. 'c:' .. cid
  local c = redis.call('HMGET', ck, 'caller', 'callee', 'state')
  if not c[1] then return { 'nocall' } end
  if uid ~= c[1] and uid ~= c[2] then return { 'notin' } end
  local peer = c[1]
  if uid == c[1] then peer = c[2] end
  if op == 'hangup' then
    local requested = tonumber(ARGV[A + 3])
    local reason
    -- What only the client can know (the call failed, or could not connect) is kept as sent.
    if requested == ${EndReason.ERROR} or requested == ${EndReason.CONNECT_FAILED} then reason = requested
    elseif c[3] == 'active' then reason = ${EndReason.HANGUP}
    elseif uid == c[1] then reason = ${EndReason.CANCELED}
    elseif requested == ${EndReason.BUSY} then reason = ${EndReason.BUSY}
    else reason = ${EndReason.DECLINED} end
    endCall(cid, reason, uid)
    return { 'ok', reason }
  end
  local mode, to, toCallee, toCaller = ARGV[A + 3], ARGV[A + 4], ARGV[A + 5], ARGV[A + 6]
  if mode == 'offer' and to ~= '' and to ~= peer then return { 'wrongpeer', peer } end
  if mode == 'answer' and c[3] == 'ringing' then
    if uid ~= c[2] then return { 'wrongstate' } end
    redis.call('HSET', ck, 'state', 'active')
    redis.call('HINCRBY', P .. 'stats', 'ringing', -1)
    redis.call('HINCRBY', P .. 'stats', 'active', 1)
    SETUP[#SETUP + 1] = NOW - tonumber(redis.call('HGET', ck, 'at'))
    redis.call('ZREM', P .. 'timers', 'ring:' .. cid)
  end
  local payload = toCaller
  if peer == c[2] then payload = toCallee end
  deliverToUser(peer, uid, cid, 'p', payload)
  return { 'ok' }

elseif op == 'tick' then
  -- A node's heartbeat, and the cluster's timers, run by whichever node ticks first.
  local node, nodeTtl = ARGV[A], tonumber(ARGV[A + 1])
  redis.call('ZADD', P .. 'nodes', NOW, node)
  for _, dead in ipairs(redis.call('ZRANGEBYSCORE', P .. 'nodes', '-inf', NOW - nodeTtl)) do
    -- A node that stopped ticking died: its sessions lost their streams now.
    for _, sid in ipairs(redis.call('SMEMBERS', P .. 'ns:' .. dead)) do
      local sk = P .. 's:' .. sid
      if redis.call('HGET', sk, 'node') == dead then
        redis.call('HSET', sk, 'node', '')
        redis.call('ZADD', P .. 'timers', NOW + GRACE_MS, 'grace:' .. sid)
      end
    end
    redis.call('DEL', P .. 'ns:' .. dead)
    redis.call('ZREM', P .. 'nodes', dead)
  end
  for _, timer in ipairs(redis.call('ZRANGEBYSCORE', P .. 'timers', '-inf', NOW, 'LIMIT', 0, 200)) do
    redis.call('ZREM', P .. 'timers', timer)
    local kind, id = string.match(timer, '^(%a+):(.*)$')
    if kind == 'ring' then
      if redis.call('HGET', P .. 'c:' .. id, 'state') == 'ringing' then endCall(id, ${EndReason.NO_ANSWER}, '') end
    elseif kind == 'grace' then
      if redis.call('HGET', P .. 's:' .. id, 'node') == '' then closeSession(id) end
    end
  end
  local stats = redis.call('HMGET', P .. 'stats', 'ringing', 'active')
  return { 'ok', redis.call('HLEN', P .. 'users'), tonumber(stats[1] or 0), tonumber(stats[2] or 0) }

elseif op == 'leave' then
  -- A node stopping cleanly: its sessions were detached as their streams ended.
  redis.call('ZREM', P .. 'nodes', ARGV[A])
  return { 'ok' }
end
return redis.error_reply('unknown op ' .. tostring(op))
end

local reply = run()
if reply.err then return reply end
reply[#reply + 1] = ENDED
reply[#reply + 1] = SETUP
return reply
`;
