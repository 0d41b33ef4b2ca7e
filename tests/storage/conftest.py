"""Fixtures of the store tests: a standalone Redis and a 6-node Redis Cluster for the session,
and a clean client on either for each test (the keyspace is flushed on every master first).
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest
from redis.asyncio import RedisCluster as AsyncRedisCluster

from roulette.config import RedisSettings
from roulette.storage.redis import RedisClient, close, connect
from storage.redis_fixtures import (
    FIRST_CLUSTER_PORT,
    RedisCluster,
    RedisServer,
    free_block,
    running_cluster,
    running_server,
)

BACKENDS = [
    pytest.param("standalone", marks=pytest.mark.redis),
    pytest.param("cluster", marks=pytest.mark.redis),
]
"""The Redis deployments every Redis store test runs on."""


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A standalone ``redis-server`` on a free port for the whole session."""
    with running_server(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    """A 6-node cluster (3 masters + 3 replicas) on 7000-7005, or the next free block."""
    first = free_block()
    if first != FIRST_CLUSTER_PORT:
        busy = f"ports 7000-7005 are busy: the test cluster uses {first}-{first + 5}"
        print(busy, file=sys.stderr)
    with running_cluster(tmp_path_factory.mktemp("redis-cluster"), first) as cluster:
        yield cluster


def settings_for(backend: str, request: pytest.FixtureRequest) -> RedisSettings:
    """The settings that select ``backend``, starting its servers if need be."""
    if backend == "standalone":
        server: RedisServer = request.getfixturevalue("redis_server")
        return RedisSettings(url=server.url)
    cluster: RedisCluster = request.getfixturevalue("redis_cluster")
    return RedisSettings(cluster_enabled=True, cluster_nodes=cluster.addresses)


async def flush(client: RedisClient) -> None:
    """Empty the keyspace on every master, so that each test starts from nothing."""
    if isinstance(client, AsyncRedisCluster):
        await client.flushall(target_nodes=AsyncRedisCluster.PRIMARIES)
    else:
        await client.flushall()


@asynccontextmanager
async def flushed_client(
    backend: str, request: pytest.FixtureRequest
) -> AsyncIterator[RedisClient]:
    """A client on a flushed ``backend`` ("standalone" or "cluster"), closed at the end."""
    client = connect(settings_for(backend, request))
    try:
        await flush(client)
        yield client
    finally:
        await close(client)


@pytest.fixture(params=BACKENDS)
async def redis_client(request: pytest.FixtureRequest) -> AsyncIterator[RedisClient]:
    """A client on a flushed standalone Redis or Redis Cluster, closed after the test."""
    async with flushed_client(request.param, request) as client:
        yield client
