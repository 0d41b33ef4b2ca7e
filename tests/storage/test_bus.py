"""The Bus contract (worker inboxes), on the memory bus, a standalone Redis and a Redis Cluster;
then what each implementation adds: bounded queues in memory, resubscription on Redis."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import RedisCluster as AsyncRedisCluster

from roulette.storage import keys
from roulette.storage.memory_bus import MemoryBus
from roulette.storage.ports import Bus
from roulette.storage.redis import RedisBus, RedisClient
from storage.conftest import BACKENDS, flushed_client

WAIT = 5.0
"""The longest any delivery may take here (seconds); tests normally finish far sooner."""


@pytest.fixture(params=["memory", *BACKENDS])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[Bus]:
    if request.param == "memory":
        yield MemoryBus()
        return
    async with flushed_client(request.param, request) as client:
        yield RedisBus(client)


PROBE = b"\x00probe\x00"
"""Sent until a reader sees it: then its subscription is live. Readers drop probes."""


class Reader:
    """Reads one inbox in a task, keeping every payload but the probes."""

    def __init__(self, bus: Bus, inbox: str, group: asyncio.TaskGroup) -> None:
        self.bus = bus
        self.inbox = inbox
        self.items: asyncio.Queue[bytes] = asyncio.Queue()
        self.live = asyncio.Event()
        self.task = group.create_task(self._read())

    async def _read(self) -> None:
        async for payload in self.bus.subscribe(self.inbox):
            if payload == PROBE:
                self.live.set()
            else:
                await self.items.put(payload)

    async def take(self, count: int) -> list[bytes]:
        """The next ``count`` payloads, in arrival order."""
        async with asyncio.timeout(WAIT):
            return [await self.items.get() for _ in range(count)]

    def stop(self) -> None:
        self.task.cancel()


async def until_live(bus: Bus, *waiting: Reader) -> None:
    """Publish probes until every reader has seen one (stale probes are dropped later)."""
    for reader in waiting:
        reader.live.clear()
    async with asyncio.timeout(WAIT):
        while not all(reader.live.is_set() for reader in waiting):
            for inbox in {reader.inbox for reader in waiting}:
                await bus.publish(inbox, [PROBE])
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def readers(bus: Bus, *inboxes: str) -> AsyncIterator[list[Reader]]:
    """A live reader per inbox, all cancelled at the end."""
    async with asyncio.TaskGroup() as group:
        started = [Reader(bus, inbox, group) for inbox in inboxes]
        try:
            await until_live(bus, *started)
            yield started
        finally:
            for reader in started:
                reader.stop()


def payloads(count: int, tag: str = "m") -> list[bytes]:
    return [f"{tag}-{n}".encode() for n in range(count)]


class TestBusContract:
    async def test_a_batch_arrives_whole_and_in_order(self, bus: Bus) -> None:
        async with readers(bus, "worker-1") as [reader]:
            await bus.publish("worker-1", payloads(100))
            assert await reader.take(100) == payloads(100)

    async def test_batches_from_one_sender_stay_in_order(self, bus: Bus) -> None:
        async with readers(bus, "worker-1") as [reader]:
            for n in range(20):
                await bus.publish("worker-1", [f"single-{n}".encode()])
                await bus.publish("worker-1", payloads(3, tag=f"batch-{n}"))
            expected = [
                m
                for n in range(20)
                for m in [f"single-{n}".encode(), *payloads(3, tag=f"batch-{n}")]
            ]
            assert await reader.take(80) == expected

    async def test_each_payload_arrives_once(self, bus: Bus) -> None:
        async with readers(bus, "worker-1") as [reader]:
            await bus.publish("worker-1", payloads(10))
            assert await reader.take(10) == payloads(10)
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.2):
                    await reader.items.get()

    async def test_inboxes_are_separate(self, bus: Bus) -> None:
        async with readers(bus, "worker-1", "worker-2") as [one, two]:
            await bus.publish("worker-2", [b"for two"])
            await bus.publish("worker-1", [b"for one"])
            assert await one.take(1) == [b"for one"]
            assert await two.take(1) == [b"for two"]
            assert one.items.empty()

    async def test_every_reader_of_an_inbox_gets_every_payload(self, bus: Bus) -> None:
        async with readers(bus, "worker-1", "worker-1") as [first, second]:
            await bus.publish("worker-1", payloads(5))
            assert await first.take(5) == payloads(5)
            assert await second.take(5) == payloads(5)

    async def test_payloads_are_opaque_bytes_up_to_the_message_limit(self, bus: Bus) -> None:
        odd = [b"", bytes(range(256)), b"\x00" * 65_536, "ü ✓".encode()]
        async with readers(bus, "worker-1") as [reader]:
            await bus.publish("worker-1", odd)
            assert await reader.take(4) == odd

    async def test_an_inbox_nobody_reads_swallows_payloads(self, bus: Bus) -> None:
        await bus.publish("nobody", payloads(3))
        await bus.publish("nobody", [])
        async with readers(bus, "nobody") as [reader]:
            await bus.publish("nobody", [b"after"])
            assert await reader.take(1) == [b"after"]

    async def test_a_stopped_reader_leaves_the_inbox_usable(self, bus: Bus) -> None:
        async with readers(bus, "worker-1") as [reader]:
            reader.stop()
        await bus.publish("worker-1", [b"into the void"])
        async with readers(bus, "worker-1") as [again]:
            await bus.publish("worker-1", [b"again"])
            assert await again.take(1) == [b"again"]


# ---------------------------------------------------------------- memory only


async def test_a_reader_that_falls_behind_loses_what_does_not_fit() -> None:
    bus = MemoryBus(max_queue=2)
    iterator = bus.subscribe("slow")
    first = asyncio.ensure_future(anext(iterator))
    await asyncio.sleep(0)  # the iterator starts and waits: its queue exists
    await bus.publish("slow", payloads(5))
    assert bus.dropped == 3
    assert [await first, await anext(iterator)] == [b"m-0", b"m-1"]
    await bus.publish("slow", [b"later"])
    assert await anext(iterator) == b"later"
    await iterator.aclose()  # type: ignore[attr-defined]


# ---------------------------------------------------------------- Redis only


@pytest.fixture(params=BACKENDS)
async def redis_bus(request: pytest.FixtureRequest) -> AsyncIterator[tuple[RedisBus, RedisClient]]:
    async with flushed_client(request.param, request) as client:
        yield RedisBus(client), client


async def test_a_reader_subscribes_again_after_its_connection_is_killed(
    redis_bus: tuple[RedisBus, RedisClient],
) -> None:
    bus, client = redis_bus
    async with readers(bus, "worker-1") as [reader]:
        await _kill_pubsub_connections(client)
        await until_live(bus, reader)  # probes flow again: the reader subscribed anew
        await bus.publish("worker-1", payloads(10))
        assert await reader.take(10) == payloads(10)


async def test_inboxes_spread_over_the_masters_of_a_cluster(
    redis_bus: tuple[RedisBus, RedisClient],
) -> None:
    _, client = redis_bus
    if not isinstance(client, AsyncRedisCluster):
        pytest.skip("a standalone Redis has one shard")
    nodes = [client.get_node_from_key(keys.inbox(f"worker-{n}")) for n in range(20)]
    owners = {node.name for node in nodes if node is not None}
    assert len(owners) == 3


async def _kill_pubsub_connections(client: RedisClient) -> None:
    if isinstance(client, AsyncRedisCluster):
        for node in client.get_primaries():
            await client.execute_command("CLIENT", "KILL", "TYPE", "pubsub", target_nodes=node)
    else:
        await client.execute_command("CLIENT", "KILL", "TYPE", "pubsub")  # type: ignore[no-untyped-call]
