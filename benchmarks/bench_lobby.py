"""Join and match throughput of the lobby: in process vs standalone Redis vs Redis Cluster,
batched (one script call per loop turn, issue 15) and unbatched (one call per operation), from
one node and from three.

``users`` users join in pairs (user 2k, then user 2k+1, no interests, one lane) from ``c``
concurrent tasks of one process (c = 1: the round-trip bound; 64 and 256: a busy worker). A
match is a session made: two joins. Time-to-match is, per user, from the start of its join
until it is in a session. "Three nodes" is three processes, each with 256 joiners and its own
users, on the same Redis: matches over the window from the first start to the last finish.

What bounds it is read from CPU time, which a loaded machine does not inflate as it does wall
time: ``redis_cpu_us_per_join`` (the lobby master's ``used_cpu_user + used_cpu_sys``) and
``client_cpu_us_per_join`` (the joining process). The reference of the same run is Redis's own
limit: ``redis-benchmark`` running a no-op ``EVAL`` from 64 connections, one at a time and 16
pipelined, on the same server. Starts its own ``redis-server`` processes (standalone on a free
port, a 6-node cluster on 7000-7005 or the next free block). Usage:
``python benchmarks/bench_lobby.py [--users 20000]``. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import multiprocessing
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

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
from roulette.storage.redis.client import MAX_CONNECTIONS
from storage.redis_fixtures import free_block, running_cluster, running_server

CONCURRENCY = (1, 64, 256)
NODES = 3
NODE_CONCURRENCY = 256
NODE_START_DELAY = 10.0
"""Seconds between handing the nodes their work and their common start (spawn + imports)."""
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

    def __init__(self, lobby: Lobby, users: int, first_user: int = 0) -> None:
        self.lobby = lobby
        self.users = users
        self.first_user = first_user
        self.started: dict[Address, float] = {}
        self.matched: dict[Address, float] = {}
        self.sessions = 0

    async def join(self, n: int) -> None:
        now = time.perf_counter()
        joiner = _entry(self.first_user + n, now)
        self.started[joiner.address] = now
        result = await self.lobby.join(joiner, now=now, session_id=SessionId(f"s-{joiner.address}"))
        if isinstance(result, Paired):
            done = time.perf_counter()
            self.matched[result.session.initiator] = self.matched[joiner.address] = done
            self.sessions += 1

    async def pairs(self, first: int, step: int) -> None:
        for pair in range(first, self.users // 2, step):
            await self.join(2 * pair)
            await self.join(2 * pair + 1)

    async def measure(self, concurrency: int) -> dict[str, float]:
        began, cpu = time.perf_counter(), time.process_time()
        async with asyncio.TaskGroup() as group:
            for task in range(concurrency):
                group.create_task(self.pairs(task, concurrency))
        elapsed = time.perf_counter() - began
        cpu = time.process_time() - cpu
        waits = sorted(self.matched[a] - self.started[a] for a in self.matched if a in self.started)
        return {
            "joins_per_s": round(self.users / elapsed),
            "matches_per_s": round(self.sessions / elapsed),
            "time_to_match_p50_ms": round(1000 * waits[len(waits) // 2], 3),
            "time_to_match_p99_ms": round(1000 * waits[int(len(waits) * 0.99)], 3),
            "client_cpu_us_per_join": round(1e6 * cpu / self.users, 1),
        }


def _lobby(client: RedisClient, batched: bool) -> RedisLobby:
    if batched:
        return RedisLobby(client, POLICY)
    # One script call per operation, each on its own connection: the lobby before issue 15.
    return RedisLobby(client, POLICY, batch_ops=1, batch_in_flight=MAX_CONNECTIONS)


def _on_lobby_master(client: RedisClient) -> dict[str, object]:
    if isinstance(client, RedisCluster):
        return {"target_nodes": client.get_node_from_key(LOBBY.waiting)}
    return {}


async def _redis_cpu(client: RedisClient) -> float:
    if isinstance(client, RedisCluster):
        await client.initialize()  # the slot map, before the first command
    info = await client.info("cpu", **_on_lobby_master(client))
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def _flush(client: RedisClient) -> None:
    if isinstance(client, RedisCluster):
        await client.flushall(target_nodes=RedisCluster.PRIMARIES)
    else:
        await client.flushall()


class Backend:
    """A fresh, empty lobby per pass, and what the pass cost the lobby's Redis master."""

    def __init__(self, settings: RedisSettings | None, batched: bool = True) -> None:
        self.settings = settings
        self.batched = batched

    @asynccontextmanager
    async def fresh(self) -> AsyncIterator[tuple[Lobby, RedisClient | None]]:
        if self.settings is None:
            yield MemoryLobby(POLICY), None
            return
        client = connect(self.settings)
        try:
            await _flush(client)
            yield _lobby(client, self.batched), client
        finally:
            await close(client)


async def _one_node(backends: dict[str, Backend], users: int) -> dict[str, dict[str, object]]:
    results: dict[str, dict[str, object]] = {}
    for name, backend in backends.items():
        results[name] = {}
        for concurrency in CONCURRENCY:
            async with backend.fresh() as (lobby, client):
                run = Run(lobby, users)
                before = None if client is None else await _redis_cpu(client)
                measured: dict[str, object] = {**await run.measure(concurrency)}
                if client is not None and before is not None:
                    cpu = await _redis_cpu(client) - before
                    measured["redis_cpu_us_per_join"] = round(1e6 * cpu / users, 1)
                results[name][f"concurrency_{concurrency}"] = measured
    return results


def _node(settings: RedisSettings, node: int, users: int, start_at: float) -> dict[str, float]:
    """One of the three nodes, in its own process: joins from its own users until done."""
    return asyncio.run(_node_pass(settings, node, users, start_at))


async def _node_pass(
    settings: RedisSettings, node: int, users: int, start_at: float
) -> dict[str, float]:
    client = connect(settings)
    try:
        lobby = RedisLobby(client, POLICY)
        await lobby.stats()  # connected, script loaded: the pass measures joins only
        await asyncio.sleep(max(0.0, start_at - time.time()))
        began = time.time()
        run = Run(lobby, users, first_user=node * 10**9)
        measured = await run.measure(NODE_CONCURRENCY)
        return {"began": began, "ended": time.time(), "sessions": run.sessions, **measured}
    finally:
        await close(client)


def _three_nodes(settings: RedisSettings, users: int) -> dict[str, object]:
    async def flush_and_cpu() -> float:
        client = connect(settings)
        try:
            await _flush(client)
            return await _redis_cpu(client)
        finally:
            await close(client)

    async def cpu_now() -> float:
        client = connect(settings)
        try:
            return await _redis_cpu(client)
        finally:
            await close(client)

    before = asyncio.run(flush_and_cpu())
    start_at = time.time() + NODE_START_DELAY
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(NODES, mp_context=spawn) as pool:
        futures = [pool.submit(_node, settings, node, users, start_at) for node in range(NODES)]
        nodes = [future.result() for future in futures]
    cpu = asyncio.run(cpu_now()) - before
    window = max(n["ended"] for n in nodes) - min(n["began"] for n in nodes)
    sessions = sum(n["sessions"] for n in nodes)
    return {
        "matches_per_s": round(sessions / window),
        "per_node_matches_per_s": [n["matches_per_s"] for n in nodes],
        "redis_cpu_us_per_join": round(1e6 * cpu / (NODES * users), 1),
        "client_cpu_us_per_join": [n["client_cpu_us_per_join"] for n in nodes],
        "time_to_match_p99_ms": max(n["time_to_match_p99_ms"] for n in nodes),
    }


def _noop_script_limit(port: int) -> dict[str, float]:
    """Redis's own ceiling on this machine now: no-op ``EVAL`` calls per second."""
    limits: dict[str, float] = {}
    for name, pipeline in (("round_trips_per_s", 1), ("pipelined_16_per_s", 16)):
        out = subprocess.run(
            [
                *("redis-benchmark", "-p", str(port), "-c", "64", "-n", "50000"),
                *("-P", str(pipeline), "--csv", "EVAL", "return 1", "0"),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        rows = list(csv.DictReader(out.splitlines()))
        limits[name] = round(float(rows[-1]["rps"]))
    return limits


def _lobby_master_port(settings: RedisSettings) -> int:
    async def find() -> int:
        client = connect(settings)
        try:
            assert isinstance(client, RedisCluster)
            await client.initialize()
            master = client.get_node_from_key(LOBBY.waiting)
            assert master is not None
            return int(master.port)
        finally:
            await close(client)

    return asyncio.run(find())


def _measure(
    standalone_port: int, standalone: RedisSettings, cluster: RedisSettings, users: int
) -> dict[str, Any]:
    backends = {
        "memory": Backend(None),
        "redis_standalone": Backend(standalone),
        "redis_standalone_unbatched": Backend(standalone, batched=False),
        "redis_cluster": Backend(cluster),
        "redis_cluster_unbatched": Backend(cluster, batched=False),
    }
    report: dict[str, Any] = {"one_node": asyncio.run(_one_node(backends, users))}
    report["three_nodes"] = {
        "redis_standalone": _three_nodes(standalone, users),
        "redis_cluster": _three_nodes(cluster, users),
    }
    report["reference_noop_eval"] = {
        "redis_standalone": _noop_script_limit(standalone_port),
        "redis_cluster_lobby_master": _noop_script_limit(_lobby_master_port(cluster)),
    }
    return report


def main() -> None:
    """Start the servers, measure every backend, print the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20_000, help="users per pass (and node)")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        with (
            running_server(root / "standalone") as server,
            running_cluster(root / "cluster", free_block()) as cluster,
        ):
            results = _measure(
                server.port,
                RedisSettings(url=server.url),
                RedisSettings(cluster_enabled=True, cluster_nodes=cluster.addresses),
                args.users,
            )
    report = {
        "benchmark": "lobby",
        "python": platform.python_version(),
        "users": args.users,
        "pattern": "users join in pairs, no interests, one lane",
        **results,
        # The machine is shared (clients and servers on the same cores): see the load.
        "cpu_count": os.cpu_count(),
        "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
