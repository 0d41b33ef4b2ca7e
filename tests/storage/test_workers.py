"""The WorkerRegistry contract (membership with a TTL), on memory, a standalone Redis and a
Redis Cluster; then what the Redis registry adds: Redis itself expires a silent worker."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from roulette.storage import keys
from roulette.storage.memory_bus import MemoryWorkerRegistry
from roulette.storage.ports import WorkerInfo, WorkerRegistry
from roulette.storage.redis import RedisClient, RedisWorkerRegistry
from storage.conftest import BACKENDS, flushed_client
from support.eventually import eventually

TTL = 30.0
SHORT_TTL = 0.1
"""A beat that runs out during the test: real time, since the port passes no clock."""


@pytest.fixture(params=["memory", *BACKENDS])
async def registry(request: pytest.FixtureRequest) -> AsyncIterator[WorkerRegistry]:
    if request.param == "memory":
        yield MemoryWorkerRegistry()
        return
    async with flushed_client(request.param, request) as client:
        yield RedisWorkerRegistry(client)


def worker(name: str, *, connections: int = 0) -> WorkerInfo:
    return WorkerInfo(
        worker_id=name,
        host="node-1.internal",
        pid=1000 + len(name),
        connections=connections,
        started_at=1_700_000_000.123_456_7,
    )


class TestWorkerRegistryContract:
    async def test_nobody_is_alive_at_first(self, registry: WorkerRegistry) -> None:
        assert await registry.alive() == []

    async def test_a_beating_worker_is_alive_with_what_it_said(
        self, registry: WorkerRegistry
    ) -> None:
        await registry.beat(worker("w2"), ttl=TTL)
        await registry.beat(worker("w1"), ttl=TTL)
        assert await registry.alive() == [worker("w1"), worker("w2")]

    async def test_a_new_beat_replaces_the_last(self, registry: WorkerRegistry) -> None:
        await registry.beat(worker("w1", connections=3), ttl=TTL)
        await registry.beat(worker("w1", connections=7), ttl=TTL)
        assert await registry.alive() == [worker("w1", connections=7)]

    async def test_a_worker_that_leaves_is_gone_at_once(self, registry: WorkerRegistry) -> None:
        await registry.beat(worker("w1"), ttl=TTL)
        await registry.beat(worker("w2"), ttl=TTL)
        await registry.leave("w1")
        await registry.leave("never-seen")
        assert await registry.alive() == [worker("w2")]

    async def test_a_worker_that_stops_beating_dies_after_its_ttl(
        self, registry: WorkerRegistry
    ) -> None:
        await registry.beat(worker("silent"), ttl=SHORT_TTL)
        await registry.beat(worker("steady"), ttl=TTL)
        assert [w.worker_id for w in await registry.alive()] == ["silent", "steady"]

        async def only_steady() -> None:
            assert await registry.alive() == [worker("steady")]

        await eventually(only_steady)

    async def test_a_dead_worker_that_beats_again_is_alive_again(
        self, registry: WorkerRegistry
    ) -> None:
        await registry.beat(worker("phoenix"), ttl=SHORT_TTL)

        async def none_alive() -> None:
            assert await registry.alive() == []

        await eventually(none_alive)
        await registry.beat(worker("phoenix"), ttl=TTL)
        assert await registry.alive() == [worker("phoenix")]


# ---------------------------------------------------------------- Redis only


@pytest.fixture(params=BACKENDS)
async def redis_client_only(request: pytest.FixtureRequest) -> AsyncIterator[RedisClient]:
    async with flushed_client(request.param, request) as client:
        yield client


async def test_a_heartbeat_is_a_key_redis_expires(redis_client_only: RedisClient) -> None:
    registry = RedisWorkerRegistry(redis_client_only)
    await registry.beat(worker("w1"), ttl=TTL)
    ttl_ms = await redis_client_only.pttl(keys.WORKERS.worker("w1"))
    assert 0 < ttl_ms <= TTL * 1000


async def test_expired_workers_are_pruned_from_the_index(redis_client_only: RedisClient) -> None:
    registry = RedisWorkerRegistry(redis_client_only)
    for n in range(5):
        await registry.beat(worker(f"w{n}"), ttl=SHORT_TTL)
    await registry.beat(worker("steady"), ttl=TTL)

    async def pruned() -> None:
        assert [w.worker_id for w in await registry.alive()] == ["steady"]

    await eventually(pruned)
    assert await redis_client_only.smembers(keys.WORKERS.index) == {b"steady"}
