-- rebind: ARGV[6] session id, ARGV[7] address, ARGV[8] worker. Moves that user's end of a live
-- session to the worker and bumps the epoch; returns the session, or nil when it is not live
-- or the user is not one of the pair.
local session_id, who = ARGV[6], ARGV[7]
local raw = redis.call('HGET', K_SESSIONS, session_id)
if not raw then return false end
local s = cjson.decode(raw)
if who == s.i then
  s.iw = ARGV[8]
elseif who == s.r then
  s.rw = ARGV[8]
else
  return false
end
s.e = s.e + 1
raw = cjson.encode(s)
redis.call('HSET', K_SESSIONS, session_id, raw)
return raw
