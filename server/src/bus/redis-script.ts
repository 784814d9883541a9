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
 *   P c:<cid>     hash  state ("ringing" | "active"); p: the participants in the order they joined
 *                       (the caller first), comma-separated; i: the invitations being rung, in
 *                       the order sent, comma-separated "invitee:inviter:ms" (ms: when it was sent);
 *                       while the call holds two people also caller, callee, at (as the release
 *                       before group calls keeps a call, so its nodes serve 1:1 calls during a
 *                       rolling upgrade; a call it started, without p and i, is read from them)
 *   P incall      hash  userId -> callId, for participants and invitees alike (one call each)
 *   P timers      zset  "ring:<cid>:<invitee>" (one per invitation) | "ring:<cid>" (a call still
 *                       ringing, for the release before) | "grace:<sid>" -> due time (Redis ms)
 *   P stats       hash  ringing, active: how many calls are in each state (a call with
 *                       participants is active, whoever it is still ringing)
 * Channel P n:<node> (sharded pub/sub) carries to a node, for the sessions it holds:
 *   "e|sid|<µs>|<event entry>"  an event, published at <µs> (Redis clock);  "t|sid|gen" another
 *   stream took over. Channel P all carries to every node "x|sid": the session ended.
 * An event's kind is "p" (payload: an encoded SignalingMessage holding just the event),
 * "i" (an invitation: "<participants besides the inviter, comma-separated>|<payload>", the
 * payload an offer the node adds them to), "c" (call ended: "reason,endedBy"), "l" (participant
 * left: "reason,userId") or "r" (presence: "userId,1|0"). User IDs hold none of , : |.
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

local function split(text)
  local list = {}
  if text and text ~= '' then
    for item in string.gmatch(text, '[^,]+') do list[#list + 1] = item end
  end
  return list
end

local function indexOf(list, x)
  for i, v in ipairs(list) do
    if v == x then return i end
  end
  return nil
end

-- A call: its state, its participants in the order they joined (the caller first), and the
-- invitations being rung in the order they were sent, each { u = invitee, by = inviter, at = ms }.
local function loadCall(cid)
  local f = redis.call('HMGET', P .. 'c:' .. cid, 'state', 'p', 'i', 'caller', 'callee', 'at')
  if not f[1] then return nil end
  local call = { id = cid, state = f[1], parts = split(f[2]), invites = {} }
  for _, item in ipairs(split(f[3])) do
    local u, by, at = string.match(item, '^([^:]*):([^:]*):(%d+)$')
    call.invites[#call.invites + 1] = { u = u, by = by, at = tonumber(at) }
  end
  if not f[2] then
    -- Started by a node without group calls (a rolling upgrade): its caller and callee.
    if call.state == 'ringing' then
      call.parts = { f[4] }
      call.invites = { { u = f[5], by = f[4], at = tonumber(f[6]) or NOW } }
    else
      call.parts = { f[4], f[5] }
    end
  elseif call.state == 'active' and #call.parts < 2 and call.invites[1] then
    -- A node without group calls accepted it (it sets the state only): the callee is in.
    call.parts[2] = table.remove(call.invites, 1).u
  end
  return call
end

local function inviteOf(call, u)
  for i, x in ipairs(call.invites) do
    if x.u == u then return x, i end
  end
  return nil
end

local function isParticipant(call, u)
  return indexOf(call.parts, u) ~= nil
end

-- A participant or someone being invited.
local function has(call, u)
  return isParticipant(call, u) or inviteOf(call, u) ~= nil
end

-- Two participants, or an invitee and the one who invited them, may signal to each other.
local function linked(call, a, b)
  if a == b then return false end
  if isParticipant(call, a) and isParticipant(call, b) then return true end
  local ia, ib = inviteOf(call, a), inviteOf(call, b)
  return (ia ~= nil and ia.by == b) or (ib ~= nil and ib.by == a)
end

-- Whom a request naming nobody is for: the one person the sender is linked to, if only one.
local function soleLink(call, from)
  local found, n = nil, 0
  for _, u in ipairs(call.parts) do
    if linked(call, from, u) then found, n = u, n + 1 end
  end
  for _, x in ipairs(call.invites) do
    if linked(call, from, x.u) then found, n = x.u, n + 1 end
  end
  if n == 1 then return found end
  return nil
end

-- The later of two joined later; an invitee is later than every participant.
local function rank(call, u)
  return indexOf(call.parts, u) or (#call.parts + 1)
end

local function isPolite(call, u, towards)
  return rank(call, u) > rank(call, towards)
end

-- Participants and invitees: everyone the call counts against its size limit.
local function size(call)
  return #call.parts + #call.invites
end

local function saveCall(call)
  local key = P .. 'c:' .. call.id
  local invites = {}
  for _, x in ipairs(call.invites) do invites[#invites + 1] = x.u .. ':' .. x.by .. ':' .. string.format('%d', x.at) end
  redis.call('HSET', key, 'state', call.state, 'p', table.concat(call.parts, ','), 'i', table.concat(invites, ','))
  -- A call of two also as nodes without group calls read it (caller, callee, when it rang), so
  -- both versions serve 1:1 calls during a rolling upgrade; a bigger call is not theirs to touch.
  if size(call) == 2 then
    local first = call.invites[1]
    local at = 0
    if first then at = first.at end
    redis.call('HSET', key, 'caller', call.parts[1], 'callee', call.parts[2] or first.u, 'at', string.format('%d', at))
  else
    redis.call('HDEL', key, 'caller', 'callee', 'at')
  end
end

local function freeUser(u, cid)
  if redis.call('HGET', P .. 'incall', u) == cid then redis.call('HDEL', P .. 'incall', u) end
end

local function ringTimer(cid, u)
  return 'ring:' .. cid .. ':' .. u
end

local function ring(call, inviter, to, ringMs)
  call.invites[#call.invites + 1] = { u = to, by = inviter, at = NOW }
  redis.call('HSET', P .. 'incall', to, call.id)
  redis.call('ZADD', P .. 'timers', NOW + ringMs, ringTimer(call.id, to))
end

local function dropInvite(call, index)
  local x = table.remove(call.invites, index)
  redis.call('ZREM', P .. 'timers', ringTimer(call.id, x.u))
  freeUser(x.u, call.id)
  return x
end

local function endCall(call, reason, endedBy)
  local cid = call.id
  redis.call('DEL', P .. 'c:' .. cid)
  redis.call('HINCRBY', P .. 'stats', call.state, -1)
  redis.call('ZREM', P .. 'timers', 'ring:' .. cid)
  ENDED[#ENDED + 1] = reason
  local ended = reason .. ',' .. endedBy
  for _, u in ipairs(call.parts) do
    freeUser(u, cid)
    if u ~= endedBy then deliverToUser(u, endedBy, cid, 'c', ended) end
  end
  for _, x in ipairs(call.invites) do
    redis.call('ZREM', P .. 'timers', ringTimer(cid, x.u))
    freeUser(x.u, cid)
    -- Someone still being rung into a call that went on without them: it was canceled.
    if x.u ~= endedBy then
      if call.state == 'active' then deliverToUser(x.u, endedBy, cid, 'c', ${EndReason.CANCELED} .. ',' .. endedBy)
      else deliverToUser(x.u, endedBy, cid, 'c', ended) end
    end
  end
end

-- u leaves the call (hung up, declined, not answered, gone). A call left with fewer than two
-- people ends for everyone; otherwise the others hear who left (an invitation that failed, only
-- the inviter), and invitations the leaver sent are canceled.
local function leave(call, u, reason, endedBy)
  local cid = call.id
  local invite, index = inviteOf(call, u)
  if size(call) - 1 < 2 or (not invite and #call.parts <= 2) then
    endCall(call, reason, endedBy)
    return
  end
  if invite then
    dropInvite(call, index)
    saveCall(call)
    if u ~= endedBy then deliverToUser(u, endedBy, cid, 'c', reason .. ',' .. endedBy) end
    deliverToUser(invite.by, u, cid, 'l', reason .. ',' .. u)
    return
  end
  table.remove(call.parts, indexOf(call.parts, u))
  freeUser(u, cid)
  local canceled = {}
  local i = 1
  while i <= #call.invites do
    if call.invites[i].by == u then canceled[#canceled + 1] = dropInvite(call, i) else i = i + 1 end
  end
  saveCall(call)
  for _, x in ipairs(canceled) do deliverToUser(x.u, u, cid, 'c', ${EndReason.CANCELED} .. ',' .. u) end
  for _, other in ipairs(call.parts) do deliverToUser(other, u, cid, 'l', reason .. ',' .. u) end
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
    local call = cid and loadCall(cid)
    if call then leave(call, uid, ${EndReason.PEER_GONE}, uid) end
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
    -- Both called each other at once (or the callee invited the caller): keep the existing call.
    local call = loadCall(own)
    local invite = call and inviteOf(call, uid)
    if invite and invite.by == to then return { 'glare', own } end
    return { 'incall' }
  end
  if not redis.call('HGET', P .. 'users', to) then return { 'offline' } end
  if redis.call('HGET', P .. 'incall', to) then return { 'busy' } end
  local call = { id = cid, state = 'ringing', parts = { uid }, invites = {} }
  redis.call('HINCRBY', P .. 'stats', 'ringing', 1)
  redis.call('HSET', P .. 'incall', uid, cid)
  ring(call, uid, to, ringMs)
  -- The call's own timer as well, which nodes without group calls fire (they would drop the
  -- invitation's, not knowing it), during a rolling upgrade.
  redis.call('ZADD', P .. 'timers', NOW + ringMs, 'ring:' .. cid)
  saveCall(call)
  deliverToUser(to, uid, cid, 'p', payload)
  return { 'ok' }

elseif op == 'offer' or op == 'answer' or op == 'ringanswer' or op == 'candidates' or op == 'hangup' then
  local uid, sid, cid = ARGV[A], ARGV[A + 1], ARGV[A + 2]
  if not current(uid, sid) then return { 'ended' } end
  local call = loadCall(cid)
  if not call then return { 'nocall' } end
  if not has(call, uid) then return { 'notin' } end

  if op == 'hangup' then
    local requested = tonumber(ARGV[A + 3])
    local reason
    -- What only the client can know (the call failed, or could not connect) is kept as sent;
    -- the rest follows from the call's state and the sender's place in it.
    if requested == ${EndReason.ERROR} or requested == ${EndReason.CONNECT_FAILED} then reason = requested
    elseif inviteOf(call, uid) then
      if requested == ${EndReason.BUSY} then reason = ${EndReason.BUSY} else reason = ${EndReason.DECLINED} end
    elseif call.state == 'active' then reason = ${EndReason.HANGUP}
    else reason = ${EndReason.CANCELED} end
    leave(call, uid, reason, uid)
    return { 'ok', reason }
  end

  -- Then: to (who it is for, "" for the sender's one link), the call size limit, the ring
  -- timeout, the invitation's offer (an offer) or participant_joined (an answer), and the event
  -- for a polite receiver and for an impolite one.
  local to = ARGV[A + 3]
  if op == 'ringanswer' then
    -- The invitee's answer while it still rings: relayed to the inviter, nothing accepted.
    local invite = inviteOf(call, uid)
    if not invite then return { 'notringing' } end
    if to ~= '' and to ~= invite.by then return { 'answerinviter', invite.by } end
    local answer = ARGV[A + 8]
    if isPolite(call, invite.by, uid) then answer = ARGV[A + 7] end
    deliverToUser(invite.by, uid, cid, 'p', answer)
    return { 'ok' }
  end
  if op == 'answer' then
    local invite, index = inviteOf(call, uid)
    if invite then
      -- The invitee accepts: a participant now, and the call active if it was ringing.
      if to ~= '' and to ~= invite.by then return { 'answerinviter', invite.by } end
      table.remove(call.invites, index)
      redis.call('ZREM', P .. 'timers', ringTimer(cid, uid))
      call.parts[#call.parts + 1] = uid
      if call.state == 'ringing' then
        call.state = 'active'
        redis.call('ZREM', P .. 'timers', 'ring:' .. cid)
        redis.call('HINCRBY', P .. 'stats', 'ringing', -1)
        redis.call('HINCRBY', P .. 'stats', 'active', 1)
        SETUP[#SETUP + 1] = NOW - invite.at
      end
      saveCall(call)
      local answer = ARGV[A + 8]
      if isPolite(call, invite.by, uid) then answer = ARGV[A + 7] end
      deliverToUser(invite.by, uid, cid, 'p', answer)
      -- Everyone else now offers the newcomer a connection of their own (the newcomer joined
      -- last, so each of them is the impolite side: the payload says polite = false).
      for _, other in ipairs(call.parts) do
        if other ~= uid and other ~= invite.by then deliverToUser(other, uid, cid, 'p', ARGV[A + 6]) end
      end
      return { 'ok' }
    end
  end

  -- Whom it is for: the person named, or the sender's one link.
  local target = to
  if to == '' then
    target = soleLink(call, uid)
    if not target then return { 'several' } end
  elseif not linked(call, uid, to) then
    if op == 'offer' then
      target = nil
    elseif not has(call, to) then return { 'notincall' }
    else return { 'notlinked' } end
  end

  if op == 'offer' and target == nil then
    -- "Add person": a participant of an active call rings someone into it.
    if not isParticipant(call, uid) then return { 'notparticipant' } end
    if to == uid then return { 'self' } end
    if call.state ~= 'active' then return { 'notactive' } end
    local pending = inviteOf(call, to)
    if pending then return { 'invited', pending.by } end
    local max = tonumber(ARGV[A + 4])
    if size(call) >= max then return { 'full', max } end
    if not redis.call('HGET', P .. 'users', to) then return { 'offline' } end
    if redis.call('HGET', P .. 'incall', to) then return { 'busy' } end
    local others = {}
    for _, u in ipairs(call.parts) do
      if u ~= uid then others[#others + 1] = u end
    end
    ring(call, uid, to, tonumber(ARGV[A + 5]))
    saveCall(call)
    deliverToUser(to, uid, cid, 'i', table.concat(others, ',') .. '|' .. ARGV[A + 6])
    return { 'ok' }
  end

  if op == 'answer' and inviteOf(call, target) then return { 'wrongstate' } end
  local payload = ARGV[A + 8]
  if isPolite(call, target, uid) then payload = ARGV[A + 7] end
  deliverToUser(target, uid, cid, 'p', payload)
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
      -- "ring:<call>:<invitee>": nobody answered that invitation; "ring:<call>": nobody answered
      -- a call still ringing (its one invitation).
      local cid, u = string.match(id, '^([^:]*):(.*)$')
      if not cid then cid = id end
      local call = loadCall(cid)
      if call and not u and call.state == 'ringing' and call.invites[1] then u = call.invites[1].u end
      if call and u and inviteOf(call, u) then leave(call, u, ${EndReason.NO_ANSWER}, '') end
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
