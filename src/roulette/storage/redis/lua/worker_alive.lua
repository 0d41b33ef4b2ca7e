-- alive: KEYS[1] index; ARGV[1] the worker key prefix (same {workers} tag, same slot).
-- Returns the info of every worker whose key has not expired, pruning the others.
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local info = redis.call('GET', ARGV[1] .. id)
  if info then out[#out + 1] = info else redis.call('SREM', KEYS[1], id) end
end
return out
