-- join: ARGV[6] entry (JSON), ARGV[7] now, ARGV[8] session id, ARGV[9] max_queue.
-- Returns {'queued', position} | {'paired', session} | {'in_session'} | {'id_reused'}
-- | {'queue_full'}; the checks come in MemoryLobby.join's order.
local raw, now_str, session_id = ARGV[6], ARGV[7], ARGV[8]
local joiner = decode_entry(raw)
if redis.call('HEXISTS', K_SESSION_OF, joiner.a) == 1 then return {'in_session'} end
if is_live(session_id) then return {'id_reused'} end
if redis.call('HEXISTS', K_ENTRIES, joiner.a) == 0
    and redis.call('HLEN', K_ENTRIES) >= tonumber(ARGV[9]) then
  return {'queue_full'}
end
dequeue(joiner.a)
local candidate = best_for(joiner, tonumber(now_str), {})
if candidate == nil then
  enqueue(joiner, raw)
  return {'queued', redis.call('ZRANK', lane_key(joiner.l), joiner.a) + 1}
end
dequeue(candidate.a)
return {'paired', start_session(session_id, candidate, joiner, now_str)}
