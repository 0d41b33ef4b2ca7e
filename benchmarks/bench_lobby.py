"""Join and match throughput of the lobby: in process vs standalone Redis vs Redis Cluster.

10,000 users join in pairs (user 2k, then user 2k+1, no interests, one lane), first one pair at
a time (each join waits for the last: the round-trip bound), then from 64 concurrent tasks (a
busy worker). Time-to-match is, per user, from the start of its join until it is in a session.
Starts its own ``redis-server`` processes (standalone on a free port, a 6-node cluster on
7000-7005 or the next free block). Usage: ``python benchmarks/bench_lobby.py [--users 10000]``.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from redis.asyncio import RedisCluster

from roulette.config import RedisSettings
from roulette.identity import Address, SessionId, WorkerId
from roulette.matchmaking.policy import MatchPolicy
from roulette.matchmaking.records import QueueEntry
from roulette.storage.keys import LOBBY
from roulette.storage.memory import MemoryLobby
from roulette.storage.ports import Lobby, Paired
from roulette.storage.redis import RedisClient, RedisLobby, close, connect
from storage.redis_fixtures import free_block, running_cluster, running_server

CONCURRENCY = (1, 64)
POLICY = MatchPolicy()


def _entry(n: int, now: float) -> QueueEntry:
    return QueueEntry(
        address=Address(f"0x{n:040x}"),
        chain_id=1,
        interests=frozenset(),
        enqueued_at=now,
        worker=WorkerId(f"worker-{n % 4}"),
    )


class Run:
    """One pass: every user joins once; remembers when each started and got matched."""

    def __init__(self, lobby: Lobby, users: int) -> None:
        self.lobby = lobby
        self.users = users
        self.started: dict[Address, float] = {}
        self.matched: dict[Address, float] = {}
        self.sessions = 0

    async def join(self, n: int) -> None:
        now = time.perf_counter()
        joiner = _entry(n, now)
        self.started[joiner.address] = now
        result = await self.lobby.join(joiner, now=now, session_id=SessionId(f"s-{n}"))
        if isinstance(result, Paired):
            done = time.perf_counter()
            self.matched[result.session.initiator] = self.matched[joiner.address] = done
            self.sessions += 1

    async def pairs(self, first: int, step: int) -> None:
        for pair in range(first, self.users // 2, step):
            await self.join(2 * pair)
            await self.join(2 * pair + 1)

    async def measure(self, concurrency: int) -> dict[str, float]:
        began = time.perf_counter()
        async with asyncio.TaskGroup() as group:
            for task in range(concurrency):
                group.create_task(self.pairs(task, concurrency))
        elapsed = time.perf_counter() - began
        waits = sorted(self.matched[a] - self.started[a] for a in self.matched)
        return {
            "joins_per_s": round(self.users / elapsed),
            "matches_per_s": round(self.sessions / elapsed),
            "time_to_match_p50_ms": round(1000 * waits[len(waits) // 2], 3),
            "time_to_match_p99_ms": round(1000 * waits[int(len(waits) * 0.99)], 3),
            "matched_users": len(waits),
        }


class Backend:
    """A fresh, empty lobby per pass, and what one join cost its Redis master."""

    def __init__(self, settings: RedisSettings | None) -> None:
        self.settings = settings
        self.client: RedisClient | None = None

    @asynccontextmanager
    async def fresh(self) -> AsyncIterator[Lobby]:
        if self.settings is None:
            yield MemoryLobby(POLICY)
            return
        self.client = client = connect(self.settings)
        try:
            if isinstance(client, RedisCluster):
                await client.flushall(target_nodes=RedisCluster.PRIMARIES)
            await client.execute_command("CONFIG", "RESETSTAT", **self._on_lobby_master())
            if not isinstance(client, RedisCluster):
                await client.flushall()
            yield RedisLobby(client, POLICY)
        finally:
            await close(client)

    def _on_lobby_master(self) -> dict[str, object]:
        if isinstance(self.client, RedisCluster):
            return {"target_nodes": self.client.get_node_from_key(LOBBY.waiting)}
        return {}

    async def server_us_per_script(self) -> float | None:
        """Mean server time of one lobby script (``INFO commandstats``), None in memory."""
        if self.client is None:
            return None
        stats = await self.client.info("commandstats", **self._on_lobby_master())
        return float(stats["cmdstat_evalsha"]["usec_per_call"])


async def _bench(backends: dict[str, Backend], users: int) -> dict[str, dict[str, object]]:
    results: dict[str, dict[str, object]] = {}
    for name, backend in backends.items():
        results[name] = {}
        for concurrency in CONCURRENCY:
            async with backend.fresh() as lobby:
                run = Run(lobby, users)
                measured: dict[str, object] = {**await run.measure(concurrency)}
                cost = await backend.server_us_per_script()
                if cost is not None:
                    measured["redis_server_us_per_join"] = cost
                results[name][f"concurrency_{concurrency}"] = measured
    return results


def main() -> None:
    """Start the servers, measure every backend, print the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        with (
            running_server(root / "standalone") as server,
            running_cluster(root / "cluster", free_block()) as cluster,
        ):
            backends = {
                "memory": Backend(None),
                "redis_standalone": Backend(RedisSettings(url=server.url)),
                "redis_cluster": Backend(
                    RedisSettings(cluster_enabled=True, cluster_nodes=cluster.addresses)
                ),
            }
            results = asyncio.run(_bench(backends, args.users))
    report = {
        "benchmark": "lobby",
        "python": platform.python_version(),
        "users": args.users,
        "pattern": "users join in pairs, no interests, one lane",
        **results,
        # The machine is shared (client and servers on the same cores): see the load.
        "cpu_count": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
