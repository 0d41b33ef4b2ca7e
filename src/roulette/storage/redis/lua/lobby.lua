-- The lobby's shared prelude: key layout, queue and session bookkeeping, and the matching
-- rules of roulette.matchmaking.policy (MatchPolicy, WaitingLine.best_for) in Lua.
--
-- Every lobby script is this prelude followed by one operation, and runs atomically on the
-- master holding the {lobby} hash tag. KEYS and ARGV[1..5] are the same for every script
-- (see RedisLobby); an operation's own arguments start at ARGV[6]. KEYS lists every key of
-- the lobby and no script touches any other: the per-lane and per-interest indexes are
-- lexicographic ranges of K_INDEX (members `hex(index name):order:address`, all at score 0),
-- not keys built here (see roulette.storage.keys).
--
-- Times travel and rest as the strings Python's repr() made: Redis truncates numbers a
-- script returns to integers, and repr round-trips a float exactly, so tonumber() here sees
-- the very double Python compared. Strings are never compared with `<`, which uses the
-- server's locale (strcoll); bytes_before() gives Python's code-point order instead.

local K_WAITING, K_ENTRIES, K_UNBLOCKED, K_QUEUED = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local K_SESSIONS, K_SESSION_OF, K_BY_START, K_INDEX = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local LANE_PREFIX, FLEX_SUFFIX, INTEREST_INFIX = ARGV[1], ARGV[2], ARGV[3]
local MAX_SCAN = tonumber(ARGV[4])
local WAIT = tonumber(ARGV[5])
local CHUNK = 16

-- ------------------------------------------------------------------ entries

local cache = {}

local function with_sets(e)
  e.at = tonumber(e.t)
  e.xset, e.iset = {}, {}
  for _, x in ipairs(e.x) do e.xset[x] = true end
  for _, i in ipairs(e.i) do e.iset[i] = true end
  return e
end

local function decode_entry(raw)
  return with_sets(cjson.decode(raw))
end

local function entry_of(addr)
  local e = cache[addr]
  if e == nil then
    local raw = redis.call('HGET', K_ENTRIES, addr)
    if not raw then return nil end
    e = decode_entry(raw)
    cache[addr] = e
  end
  return e
end

local function lane_index(lane)
  return LANE_PREFIX .. lane
end

local function hex(name)
  return (string.gsub(name, '.', function(c) return string.format('%02x', string.byte(c)) end))
end

-- The start of every member of one index: hex keeps a name from being a prefix of another's.
-- Memoised for the script call: a batch meets the same few lanes over and over.
local prefixes = {}
local function index_prefix(name)
  local prefix = prefixes[name]
  if prefix == nil then
    prefix = hex(name) .. ':'
    prefixes[name] = prefix
  end
  return prefix
end

-- An entry's member in the index starting with `prefix`: order key (16 hex digits, sorting as
-- enqueued_at does), then the address, so members sort as waiting_order does.
local function member(prefix, e)
  return prefix .. e.k .. ':' .. e.a
end

-- The address inside a member of the index starting with `prefix`.
local function member_address(prefix, m)
  return string.sub(m, #prefix + 18)
end

-- Every index the entry sits in: its lane, and its interests (or the lane's flexible users).
local function index_names(e)
  local base = lane_index(e.l)
  local names = {base}
  if #e.i == 0 then
    names[#names + 1] = base .. FLEX_SUFFIX
  else
    for _, i in ipairs(e.i) do names[#names + 1] = base .. INTEREST_INFIX .. i end
  end
  return names
end

local function enqueue(e, raw)
  redis.call('HSET', K_ENTRIES, e.a, raw)
  redis.call('ZADD', K_WAITING, e.t, e.a)
  -- One command for all of the entry's indexes: each redis.call costs the master ~2 µs.
  local scored = {}
  for _, name in ipairs(index_names(e)) do
    scored[#scored + 1] = 0
    scored[#scored + 1] = member(index_prefix(name), e)
  end
  redis.call('ZADD', K_INDEX, unpack(scored))
  redis.call('HINCRBY', K_QUEUED, e.c, 1)
end

local function dequeue(addr)
  local e = entry_of(addr)
  if e == nil then return nil end
  redis.call('HDEL', K_ENTRIES, addr)
  redis.call('SREM', K_UNBLOCKED, addr)
  redis.call('ZREM', K_WAITING, addr)
  local members = {}
  for _, name in ipairs(index_names(e)) do members[#members + 1] = member(index_prefix(name), e) end
  redis.call('ZREM', K_INDEX, unpack(members))
  if redis.call('HINCRBY', K_QUEUED, e.c, -1) <= 0 then redis.call('HDEL', K_QUEUED, e.c) end
  cache[addr] = nil
  return e
end

-- 1-based place of a queued entry in its lane: the members of the lane's index up to its own.
local function position_of(e)
  local prefix = index_prefix(lane_index(e.l))
  return redis.call('ZLEXCOUNT', K_INDEX, '[' .. prefix, '[' .. member(prefix, e))
end

-- ------------------------------------------------------------------ policy

local function bytes_before(a, b)
  for k = 1, math.min(#a, #b) do
    local x, y = string.byte(a, k), string.byte(b, k)
    if x ~= y then return x < y end
  end
  return #a < #b
end

-- waiting_order(p) < waiting_order(q): longest-waiting first, ties broken by address.
local function waits_longer(p, q)
  if p.at ~= q.at then return p.at < q.at end
  return bytes_before(p.a, q.a)
end

local function is_compatible(a, b)
  return a.a ~= b.a and a.l == b.l and not a.xset[b.a] and not b.xset[a.a]
end

local function shares_interest(a, b)
  for _, i in ipairs(a.i) do
    if b.iset[i] then return true end
  end
  return false
end

local function has_waited_out(e, now)
  return now - e.at >= WAIT
end

local function is_acceptable(a, b, now)
  if not is_compatible(a, b) then return false end
  if #a.i == 0 or #b.i == 0 or shares_interest(a, b) then return true end
  return has_waited_out(a, now) or has_waited_out(b, now)
end

-- The longest-waiting user of an index compatible with the joiner, skipping `gone`
-- (set aside or paired during a sweep); looks at MAX_SCAN members at most. Returns nil and
-- true when it found none within that bound although the index has more members.
local function first_compatible(name, joiner, gone)
  local prefix = index_prefix(name)
  -- Members are hex, ':' and the address: all below byte 255, so this bounds the range.
  local low, high = '[' .. prefix, '(' .. prefix .. '\255'
  local start = 0
  while start < MAX_SCAN do
    local members = redis.call('ZRANGEBYLEX', K_INDEX, low, high, 'LIMIT', start, CHUNK)
    for _, m in ipairs(members) do
      local addr = member_address(prefix, m)
      if not gone[addr] then
        local c = entry_of(addr)
        if is_compatible(joiner, c) then return c end
      end
    end
    if #members < CHUNK then return nil, false end
    start = start + CHUNK
  end
  return nil, true
end

-- MatchPolicy.choose over WaitingLine's shortlist: the first compatible user naming each of
-- the joiner's interests, the first without interests, and the first of all.
local function best_for(joiner, now, gone)
  local base = lane_index(joiner.l)
  if #joiner.i == 0 then
    -- Without interests every compatible user is acceptable and none shares an interest, so
    -- the first compatible user of the whole lane is the answer; the lane's users without
    -- interests are a subset of it, worth a look only if the lane's scan hit its bound.
    local first, bounded = first_compatible(base, joiner, gone)
    if first ~= nil or not bounded then return first end
  end
  local names = {}
  for _, i in ipairs(joiner.i) do names[#names + 1] = base .. INTEREST_INFIX .. i end
  names[#names + 1] = base .. FLEX_SUFFIX
  names[#names + 1] = base
  local best, best_shares = nil, false
  for _, name in ipairs(names) do
    local c = first_compatible(name, joiner, gone)
    if c ~= nil and is_acceptable(joiner, c, now) then
      local shares = shares_interest(joiner, c)
      if best == nil or (shares and not best_shares)
          or (shares == best_shares and waits_longer(c, best)) then
        best, best_shares = c, shares
      end
    end
  end
  return best
end

-- ------------------------------------------------------------------ sessions

local function is_live(session_id)
  return redis.call('HEXISTS', K_SESSIONS, session_id) == 1
end

local function start_session(session_id, initiator, responder, now_str)
  local raw = cjson.encode({
    id = session_id, c = initiator.c, i = initiator.a, r = responder.a,
    iw = initiator.w, rw = responder.w, t = now_str, e = 0,
  })
  redis.call('HSET', K_SESSIONS, session_id, raw)
  redis.call('HSET', K_SESSION_OF, initiator.a, session_id, responder.a, session_id)
  redis.call('ZADD', K_BY_START, now_str, session_id)
  return raw
end

local function drop_session(session_id, s)
  redis.call('HDEL', K_SESSIONS, session_id)
  redis.call('HDEL', K_SESSION_OF, s.i, s.r)
  redis.call('ZREM', K_BY_START, session_id)
end
