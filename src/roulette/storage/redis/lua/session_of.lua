-- session_of: ARGV[6] address. Returns the user's live session, or nil.
local session_id = redis.call('HGET', K_SESSION_OF, ARGV[6])
if not session_id then return false end
return redis.call('HGET', K_SESSIONS, session_id)
