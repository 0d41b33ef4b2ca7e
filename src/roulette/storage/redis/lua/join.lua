-- join: ARGV[6] entry (JSON), ARGV[7] now, ARGV[8] session id, ARGV[9] max_queue.
-- Returns {'queued', position} | {'paired', session} | {'in_session'} | {'id_reused'}
-- | {'queue_full'}; the checks come in MemoryLobby.join's order. The bound is checked last, as
-- the policy says: a join that pairs shrinks a full queue, so it never fails for the bound.
local raw, now_str, session_id = ARGV[6], ARGV[7], ARGV[8]
local joiner = decode_entry(raw)
if redis.call('HEXISTS', K_SESSION_OF, joiner.a) == 1 then return {'in_session'} end
if is_live(session_id) then return {'id_reused'} end
dequeue(joiner.a)
local candidate = best_for(joiner, tonumber(now_str), {})
if candidate == nil then
  -- A re-joining user has just freed its own place, so it is never refused here.
  if redis.call('HLEN', K_ENTRIES) >= tonumber(ARGV[9]) then return {'queue_full'} end
  enqueue(joiner, raw)
  return {'queued', position_of(joiner)}
end
dequeue(candidate.a)
return {'paired', start_session(session_id, candidate, joiner, now_str)}
