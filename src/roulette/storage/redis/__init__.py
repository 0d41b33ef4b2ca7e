"""The Redis stores: every shared-state port on standalone Redis, Sentinel or Redis Cluster.

Build one client from the settings and hand it to each store::

    client = connect(config.redis)
    lobby = RedisLobby(client, MatchPolicy(config.interest_wait_seconds))
    nonces, bus, workers = RedisNonceStore(client), RedisBus(client), RedisWorkerRegistry(client)
    ...
    await close(client)

Every Redis failure surfaces as ``Unavailable(code="state_unavailable")``.
"""

from roulette.storage.redis.bus import RedisBus
from roulette.storage.redis.client import RedisClient, close, connect
from roulette.storage.redis.control import RedisControlLog
from roulette.storage.redis.debts import RedisBudgetDebts
from roulette.storage.redis.lobby import RedisLobby
from roulette.storage.redis.nonces import RedisNonceStore
from roulette.storage.redis.workers import RedisWorkerRegistry

__all__ = [
    "RedisBudgetDebts",
    "RedisBus",
    "RedisClient",
    "RedisControlLog",
    "RedisLobby",
    "RedisNonceStore",
    "RedisWorkerRegistry",
    "close",
    "connect",
]
