-- rematch: ARGV[6] now, ARGV[7..] fresh session ids (at most that many pairs are made).
-- Returns {'made', session...} | {'id_reused'}.
--
-- MemoryLobby.rematch's sweep: the starters are the users whose interest window has opened
-- (the oldest MAX_SCAN of the global line at most) and the unblocked; each, oldest first,
-- takes its best partner among the users still in its lane; a starter left without one is
-- set aside until the sweep ends. Only these users can have gained a partner since they were
-- offered the whole lane on joining, so this equals MatchPolicy.pairs over everyone.
local now_str = ARGV[6]
local now = tonumber(now_str)
local ids, seen = {}, {}
for k = 7, #ARGV do
  local id = ARGV[k]
  if seen[id] or is_live(id) then return {'id_reused'} end
  seen[id] = true
  ids[#ids + 1] = id
end

local function starters()
  local chosen, list = {}, {}
  local function take(e)
    if e ~= nil and not chosen[e.a] then chosen[e.a] = true; list[#list + 1] = e end
  end
  -- The global line is in waiting order, so the waited-out users are a prefix of it.
  local start, open = 0, true
  while open and start < MAX_SCAN do
    local members = redis.call('ZRANGE', K_WAITING, start, start + CHUNK - 1)
    for _, addr in ipairs(members) do
      local e = entry_of(addr)
      open = has_waited_out(e, now)
      if not open then break end
      take(e)
    end
    open = open and #members == CHUNK
    start = start + CHUNK
  end
  for _, addr in ipairs(redis.call('SMEMBERS', K_UNBLOCKED)) do take(entry_of(addr)) end
  table.sort(list, waits_longer)
  return list
end

local made, gone = {}, {}
if #ids > 0 then
  for _, s in ipairs(starters()) do
    if #made >= #ids then break end
    if not gone[s.a] then
      gone[s.a] = true
      local partner = best_for(s, now, gone)
      if partner ~= nil then
        gone[partner.a] = true
        if waits_longer(s, partner) then made[#made + 1] = {s, partner}
        else made[#made + 1] = {partner, s} end
      end
    end
  end
end

local out = {'made'}
for k, pair in ipairs(made) do
  dequeue(pair[1].a)
  dequeue(pair[2].a)
  out[#out + 1] = start_session(ids[k], pair[1], pair[2], now_str)
end
return out
