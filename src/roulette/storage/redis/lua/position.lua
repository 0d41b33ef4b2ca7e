-- position: ARGV[6] address. Returns the 1-based place in its lane, or nil when not queued.
local e = entry_of(ARGV[6])
if e == nil then return false end
return redis.call('ZRANK', lane_key(e.l), e.a) + 1
