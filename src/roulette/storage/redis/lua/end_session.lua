-- end_session: ARGV[6] session id, ARGV[7] '1' when ended by a user, ARGV[8] that user.
-- Returns the ended session, or nil when it is not live or the user is not one of the pair.
local session_id = ARGV[6]
local raw = redis.call('HGET', K_SESSIONS, session_id)
if not raw then return false end
local s = cjson.decode(raw)
if ARGV[7] == '1' and ARGV[8] ~= s.i and ARGV[8] ~= s.r then return false end
drop_session(session_id, s)
return raw
