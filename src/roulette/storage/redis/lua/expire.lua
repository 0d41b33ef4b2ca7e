-- expire: ARGV[6] now, ARGV[7] max_age. Ends every session with now - started_at >= max_age
-- (MAX_SCAN per call at most, oldest first) and returns them.
local now, max_age = tonumber(ARGV[6]), tonumber(ARGV[7])
local out = {}
while #out < MAX_SCAN do
  local head = redis.call('ZRANGE', K_BY_START, 0, 0)
  if #head == 0 then break end
  local raw = redis.call('HGET', K_SESSIONS, head[1])
  local s = cjson.decode(raw)
  if not (now - tonumber(s.t) >= max_age) then break end
  drop_session(head[1], s)
  out[#out + 1] = raw
end
return out
