-- position: ARGV[6] address. Returns the 1-based place in its lane, or nil when not queued.
local e = entry_of(ARGV[6])
if e == nil then return false end
return position_of(e)
