"""The Redis client: built once from :class:`~roulette.config.RedisSettings`, and the one
place a Redis failure turns into our :class:`~roulette.errors.Unavailable`.

Standalone (``REDIS_URL``), Sentinel (``REDIS_SENTINELS`` + ``REDIS_SENTINEL_MASTER``) and
Redis Cluster (``REDIS_CLUSTER_ENABLED`` + ``REDIS_CLUSTER_NODES``) give one client type to
the stores. A call retries on its own, briefly: redis-py follows MOVED/ASK and reloads the
cluster's slot map, and a lost connection is retried with jittered exponential backoff, so a
failing Redis answers within about 3 s. After that the store fails closed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeAlias
from urllib.parse import urlsplit

import redis
import redis.cluster as sync_cluster
import redis.sentinel as sync_sentinel
from redis.asyncio import Redis, RedisCluster
from redis.asyncio.cluster import ClusterNode
from redis.asyncio.connection import BlockingConnectionPool
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import RedisClusterException, RedisError

from roulette.config import RedisSettings
from roulette.errors import ConfigError, Unavailable

__all__ = [
    "CONNECT_TIMEOUT_SECONDS",
    "MAX_CONNECTIONS",
    "POOL_TIMEOUT_SECONDS",
    "RETRIES",
    "SOCKET_TIMEOUT_SECONDS",
    "RedisClient",
    "close",
    "connect",
    "is_client_failure",
    "unavailable_on_failure",
]

RedisClient: TypeAlias = "Redis | RedisCluster"
"""What every Redis store takes: a standalone or Sentinel-managed client, or a cluster one."""

CONNECT_TIMEOUT_SECONDS = 0.5
SOCKET_TIMEOUT_SECONDS = 0.8
RETRIES = 2
"""Retries after the first attempt. With the timeouts above and backoff capped at 0.5 s, a
call against an unreachable Redis gives up after at most about 3 s (refused: well under 1 s)."""

MAX_CONNECTIONS = 1024
"""Per server. Only a standalone client waits for a free connection (up to
:data:`POOL_TIMEOUT_SECONDS`); the cluster and Sentinel pools fail at once when empty, so the
bound must cover every call a process has in flight (a burst of joins)."""

POOL_TIMEOUT_SECONDS = 2.0


def _retry() -> Retry:
    # A fresh object per client: redis-py keeps backoff state inside it.
    return Retry(ExponentialWithJitterBackoff(cap=0.5, base=0.1), RETRIES)


def connect(settings: RedisSettings) -> RedisClient:
    """Build the client ``settings`` select; it connects lazily, on the first command.

    Cluster mode wins over Sentinel, which wins over a plain URL. A cluster needs no URL:
    ``REDIS_CLUSTER_NODES`` names the startup nodes (falling back to the URL's host).

    Args:
        settings: where shared state lives.

    Returns:
        A client; hand it to the Redis stores and :func:`close` it at shutdown.

    Raises:
        ConfigError: no Redis mode is configured, or cluster mode has no node to start from.
    """
    timeouts: dict[str, Any] = {
        "socket_connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "socket_timeout": SOCKET_TIMEOUT_SECONDS,
    }
    if settings.cluster_enabled:
        nodes = [ClusterNode(host, port) for host, port in _cluster_nodes(settings)]
        return RedisCluster(
            startup_nodes=nodes, retry=_retry(), max_connections=MAX_CONNECTIONS, **timeouts
        )
    if settings.sentinels:
        sentinel = Sentinel(  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
            list(settings.sentinels), sentinel_kwargs=timeouts, **timeouts
        )
        client: Redis = sentinel.master_for(
            settings.sentinel_master, retry=_retry(), max_connections=MAX_CONNECTIONS, **timeouts
        )
        return client
    if settings.url:
        # A blocking pool: a burst of calls waits for a free connection (bounded) instead of
        # failing, and the number of connections to the one server stays bounded too.
        pool = BlockingConnectionPool.from_url(
            settings.url,
            max_connections=MAX_CONNECTIONS,
            timeout=POOL_TIMEOUT_SECONDS,
            retry=_retry(),
            **timeouts,
        )
        return Redis.from_pool(pool)
    raise ConfigError("set REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_ENABLED", code="no_redis")


SyncClient: TypeAlias = "redis.Redis | sync_cluster.RedisCluster"
"""A blocking client, for code that runs outside an event loop (the cluster supervisor)."""


def connect_sync(settings: RedisSettings, timeout: float) -> SyncClient:
    """A blocking client on the mode ``settings`` select, as :func:`connect` picks it.

    Args:
        settings: where shared state lives.
        timeout: seconds for connecting and for each command; a caller that must never stall
            (a supervisor's loop) keeps it short.

    Raises:
        ConfigError: no Redis mode is configured, or cluster mode has no node to start from.
    """
    timeouts: dict[str, Any] = {"socket_connect_timeout": timeout, "socket_timeout": timeout}
    if settings.cluster_enabled:
        # redis-py's synchronous cluster and Sentinel classes are unannotated.
        nodes = [
            sync_cluster.ClusterNode(h, p)  # type: ignore[no-untyped-call]
            for h, p in _cluster_nodes(settings)
        ]
        return sync_cluster.RedisCluster(startup_nodes=nodes, **timeouts)
    if settings.sentinels:
        sentinel = sync_sentinel.Sentinel(  # type: ignore[no-untyped-call]
            list(settings.sentinels), sentinel_kwargs=timeouts, **timeouts
        )
        client: redis.Redis = sentinel.master_for(  # type: ignore[no-untyped-call]
            settings.sentinel_master, **timeouts
        )
        return client
    if settings.url:
        return redis.Redis.from_url(settings.url, **timeouts)
    raise ConfigError("set REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_ENABLED", code="no_redis")


def _cluster_nodes(settings: RedisSettings) -> tuple[tuple[str, int], ...]:
    if settings.cluster_nodes:
        return settings.cluster_nodes
    if settings.url:
        url = urlsplit(settings.url)
        return ((url.hostname or "localhost", url.port or 6379),)
    raise ConfigError(
        "REDIS_CLUSTER_ENABLED needs REDIS_CLUSTER_NODES (host:port,...) or REDIS_URL",
        code="no_redis",
    )


async def close(client: RedisClient) -> None:
    """Close ``client`` and its connections (and the Sentinel connections behind it)."""
    await client.aclose()
    pool = getattr(client, "connection_pool", None)
    if isinstance(pool, SentinelConnectionPool):
        await pool.sentinel_manager.aclose()


@contextmanager
def unavailable_on_failure() -> Iterator[None]:
    """Turn any failure of the Redis client inside the block into ``Unavailable``.

    Connection loss, timeouts, CLUSTERDOWN, TRYAGAIN, a read-only replica mid-failover or an
    uncovered slot all mean the same to a caller: shared state cannot be trusted right now,
    so fail closed with a clear error rather than guess (issue 3, "Redis unreachable").

    During a failover redis-py also leaks errors that are not ``RedisError`` — ``OSError``
    and ``TimeoutError`` from the socket, ``AttributeError`` (``'NoneType' object has no
    attribute 'writelines'``: a connection closed under a pipeline) and ``RuntimeError``
    (``unable to perform operation on <TCPTransport closed=True>``) from its own frames. They
    are client failures too (issue 9, defect 5): :func:`is_client_failure` tells them apart
    from a bug of ours, which must still surface as one.

    Raises:
        Unavailable: code ``state_unavailable``, chained to the client's error for the log.
    """
    try:
        yield
    except Exception as error:
        if not is_client_failure(error):
            raise
        raise Unavailable(
            "shared state is unreachable; try again shortly", code="state_unavailable"
        ) from error


_ALWAYS = (RedisError, RedisClusterException, OSError, TimeoutError)
"""Failures of the client wherever they are raised (``ConnectionError`` is an ``OSError``)."""

_FROM_CLIENT = (AttributeError, RuntimeError, TypeError, IndexError, KeyError, AssertionError)
"""Failures that are the client's only when raised inside the client library."""

_CLIENT_PACKAGE = str(Path(redis.__file__).parent) + "/"


def is_client_failure(error: BaseException) -> bool:
    """True when ``error`` means the Redis client failed (rather than our own code)."""
    if isinstance(error, _ALWAYS):
        return True
    if not isinstance(error, _FROM_CLIENT):
        return False
    # Raised in the client's frames or below them (asyncio's or uvloop's transport, called by
    # the client): the traceback runs through the client library.
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.startswith(_CLIENT_PACKAGE):
            return True
        tb = tb.tb_next
    return False
