"""The control log (issue 9, defect 6) on a standalone Redis and a Redis Cluster: notices
arrive in order, and what is appended while the reader's connection is gone still arrives —
the difference from the pub/sub inbox, which loses it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import RedisCluster as AsyncRedisCluster

from roulette.errors import Unavailable
from roulette.storage import keys
from roulette.storage.redis import RedisClient, RedisControlLog
from storage.conftest import BACKENDS, flushed_client

WAIT = 10.0


@pytest.fixture(params=BACKENDS)
async def client(request: pytest.FixtureRequest) -> AsyncIterator[RedisClient]:
    async with flushed_client(request.param, request) as redis_client:
        yield redis_client


class Reader:
    def __init__(self, log: RedisControlLog, inbox: str, group: asyncio.TaskGroup) -> None:
        self.items: asyncio.Queue[bytes] = asyncio.Queue()
        self.started = asyncio.Event()
        self.task = group.create_task(self._read(log, inbox))

    async def _read(self, log: RedisControlLog, inbox: str) -> None:
        entries = log.read(inbox)
        first = asyncio.ensure_future(anext(entries))
        self.started.set()
        await self.items.put(await first)
        async for payload in entries:
            await self.items.put(payload)

    async def take(self, count: int) -> list[bytes]:
        async with asyncio.timeout(WAIT):
            return [await self.items.get() for _ in range(count)]


async def kill_readers(client: RedisClient) -> int:
    """CLIENT KILL every normal connection but our own, on every master."""
    if isinstance(client, AsyncRedisCluster):
        killed = await client.client_kill_filter(
            _type="normal", skipme=True, target_nodes=AsyncRedisCluster.PRIMARIES
        )
        return sum(killed.values()) if isinstance(killed, dict) else int(killed)
    return int(await client.client_kill_filter(_type="normal", skipme=True))


async def append_until_taken(log: RedisControlLog, inbox: str, payload: bytes) -> None:
    """Append as the bridge does: a batch refused with ``Unavailable`` is sent again.

    ``CLIENT KILL`` spares only the connection that sent it; on a cluster the pool holds one
    per node, so the writer's next pipeline may find its own connection cut too.
    """
    async with asyncio.timeout(WAIT):
        while True:
            try:
                await log.append(inbox, [payload])
                return
            except Unavailable:
                await asyncio.sleep(0.05)


def without_repeats(items: list[bytes]) -> list[bytes]:
    """``items`` with adjacent duplicates dropped: delivery is at least once, in order."""
    return [item for n, item in enumerate(items) if n == 0 or items[n - 1] != item]


async def test_notices_arrive_in_order(client: RedisClient) -> None:
    log = RedisControlLog(client)
    async with asyncio.TaskGroup() as group:
        reader = Reader(log, "w-order", group)
        await reader.started.wait()
        await asyncio.sleep(0.2)  # the reader has taken the tail
        await log.append("w-order", [b"one", b"two"])
        await log.append("w-order", [b"three"])
        assert await reader.take(3) == [b"one", b"two", b"three"]
        reader.task.cancel()
    assert await client.ttl(keys.control("w-order")) > 0  # a gone worker's log expires


async def test_what_is_appended_while_the_reader_is_cut_off_still_arrives(
    client: RedisClient,
) -> None:
    log = RedisControlLog(client, retry_delay=0.3, max_retry_delay=0.3)
    writer_client = client  # the same pool: CLIENT KILL below spares only this connection
    async with asyncio.TaskGroup() as group:
        reader = Reader(log, "w-cut", group)
        await reader.started.wait()
        await asyncio.sleep(0.2)
        await log.append("w-cut", [b"before"])
        assert await reader.take(1) == [b"before"]
        expected = [f"during-{n}".encode() for n in range(20)]
        for payload in expected:
            await kill_readers(writer_client)  # the reader's blocked XREAD loses its socket
            await append_until_taken(log, "w-cut", payload)
        received = await reader.take(20)
        while without_repeats(received) != expected and len(received) < 40:
            received += await reader.take(1)  # a retried append may have landed twice
        assert without_repeats(received) == expected
        reader.task.cancel()
