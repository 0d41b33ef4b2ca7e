-- alive: KEYS[1] index, KEYS[2..] the workers' keys; ARGV[k - 1] the worker id of KEYS[k].
-- Returns the info of every listed worker whose key has not expired, pruning the others.
local out = {}
for k = 2, #KEYS do
  local info = redis.call('GET', KEYS[k])
  if info then out[#out + 1] = info else redis.call('SREM', KEYS[1], ARGV[k - 1]) end
end
return out
