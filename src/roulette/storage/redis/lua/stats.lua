-- stats: returns {flat chain id/count pairs, number of live sessions}, one consistent view.
return {redis.call('HGETALL', K_QUEUED), redis.call('HLEN', K_SESSIONS)}
