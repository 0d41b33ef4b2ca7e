-- beat: KEYS[1] index, KEYS[2] the worker's key; ARGV[1] worker id, ARGV[2] info, ARGV[3] ttl ms.
-- The key and its index entry change together, so alive() never misses a beating worker.
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
redis.call('SADD', KEYS[1], ARGV[1])
return 0
