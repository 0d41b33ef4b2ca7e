-- exclude / include: ARGV[6] a, ARGV[7] b, ARGV[8] '1' to exclude, '0' to include.
-- Rewrites the queued entries of a and b; an included user is remembered as unblocked, the
-- one kind of queued user besides the waited-out that rematch must look at (MemoryLobby).
local a, b, add = ARGV[6], ARGV[7], ARGV[8] == '1'

local function rewrite(user, other)
  local raw = redis.call('HGET', K_ENTRIES, user)
  if not raw then return false end
  local e = cjson.decode(raw)
  local kept = {}
  for _, x in ipairs(e.x) do
    if x ~= other then kept[#kept + 1] = x end
  end
  if add then kept[#kept + 1] = other end
  -- cjson writes an empty table as {}; decode_entry iterates it all the same.
  e.x = kept
  redis.call('HSET', K_ENTRIES, user, cjson.encode(e))
  return true
end

for _, pair in ipairs({{a, b}, {b, a}}) do
  if rewrite(pair[1], pair[2]) and not add then
    redis.call('SADD', K_UNBLOCKED, pair[1])
  end
end
return 0
