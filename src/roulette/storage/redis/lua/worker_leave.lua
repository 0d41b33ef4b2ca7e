-- leave: KEYS[1] index, KEYS[2] the worker's key; ARGV[1] worker id.
redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[1], ARGV[1])
return 0
