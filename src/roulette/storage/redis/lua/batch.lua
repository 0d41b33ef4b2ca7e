-- batch: the operations of one event-loop turn of one process, in one script call.
-- ARGV[6] is a JSON list of operations, each `[name, arg...]` (every argument a string: the
-- operation reads them as its own ARGV[6..]). They run in that order, each exactly as its own
-- script call would (its own ARGV, an empty entry cache: the exclusions operation rewrites
-- entries behind it). The reply is one JSON list of their replies in the same order, nil as
-- false; a Lua error in one operation becomes `{"err": message}` in its place and the others
-- keep theirs (the writes of a failed operation stay, as those of a failed script call do).
-- JSON both ways: one decode and one encode in C instead of a Redis argument and a RESP
-- reply per value, which cost the client more than the whole operation costs the master.
-- The caller bounds the number of operations, since the master runs nothing else meanwhile.
--
-- KEYS[9] is this batch's own key, ARGV[7] how long to keep its reply there: redis-py sends
-- a call again when its reply was lost (a timeout, a dropped connection), and a batch run
-- twice would answer its joiners `already_in_session`; the second arrival gets the first reply.
local K_REPLY = KEYS[9]
local replied = redis.call('GET', K_REPLY)
if replied then return replied end
local out = {}
for k, call in ipairs(cjson.decode(ARGV[6])) do
  local args = {ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]}
  for j = 2, #call do args[4 + j] = call[j] end
  cache = {}
  local ok, result = pcall(OPS[call[1]], args)
  if not ok then
    result = {err = type(result) == 'table' and result.err or tostring(result)}
  elseif result == nil then
    result = false
  end
  out[k] = result
end
local reply = cjson.encode(out)
redis.call('SET', K_REPLY, reply, 'PX', ARGV[7])
return reply
