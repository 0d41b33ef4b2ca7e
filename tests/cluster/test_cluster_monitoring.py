"""Monitoring of a real two-worker ``roulette cluster`` on its own ``redis-server``: relays
between the workers are timed through the bridge, each user's wait for a match is observed by
their own worker, the management dashboard merges every worker's figures, and a stopped Redis
makes ``/health/ready`` 503 on every worker until it returns."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from cluster.running import TOKEN, RunningCluster, running_cluster
from storage.redis_fixtures import RedisServer
from support.server import free_port
from support.users import User, signed_in_users

ENV = {
    "CLUSTER_WORKERS": "2",
    "MONITOR_INTERVAL_SECONDS": "0.5",
    "HEALTH_PROBE_TIMEOUT_SECONDS": "1",
    "WS_RATE_BURST": "1000",
    "WS_RATE_PER_SECOND": "1000",
    # Eight builds share this host: its CPU, memory and loop lag must not page in these tests.
    **{
        f"ALERT_{figure}_{level}": "100000"
        for figure in ("CPU_PERCENT", "MEMORY_PERCENT", "LOOP_LAG_MS", "RESPONSE_P95_MS")
        for level in ("WARNING", "CRITICAL")
    },
}
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Node:
    cluster: RunningCluster
    redis: RedisServer


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    tmp_path = tmp_path_factory.mktemp("monitored-cluster")
    # A probed port: redis-server cannot report a port-0 bind, and restarts on the same port.
    redis = RedisServer(port=free_port(), directory=tmp_path / "redis")
    redis.start()
    try:
        with running_cluster(tmp_path, ENV | {"REDIS_URL": redis.url}) as cluster:
            yield Node(cluster, redis)
    finally:
        redis.stop()


def sample(metrics: str, name: str) -> float | None:
    found = re.search(rf"^{re.escape(name)} (\S+)$", metrics, re.MULTILINE)
    return float(found.group(1)) if found else None


async def eventually(check: Any, what: str, timeout: float = 20.0) -> Any:
    """Poll the coroutine function ``check`` until it returns something true."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.25)
    raise AssertionError(f"no {what} after {timeout}s; last: {last}")


async def users_on_both_workers(cluster: RunningCluster, count: int) -> list[User]:
    """``count`` connected users, until both workers hold at least one (new sockets spread)."""
    users: list[User] = []
    for _ in range(8):
        more = await signed_in_users(cluster, count - len(users) if len(users) < count else 1)
        for user in more:
            await user.connect()
        users += more
        if len({u.worker for u in users}) == 2 and len(users) >= count:
            return users
    raise AssertionError(f"every socket went to one worker: {[u.worker for u in users]}")


@pytest.mark.timeout(240)
async def test_relays_between_workers_are_timed_and_both_waits_observed(node: Node) -> None:
    cluster = node.cluster
    users = await users_on_both_workers(cluster, 2)
    a = users[0]
    b = next(u for u in users if u.worker != a.worker)
    await a.join()
    await asyncio.sleep(0.5)
    await b.send({"type": "join-queue", "chainId": 1, "preferences": {"interests": []}})
    session = (await a.expect("match-found", timeout=10))["sessionId"]
    for i in range(128):
        await a.send({"type": "chat", "sessionId": session, "text": f"line {i}"})
    texts: list[str] = []
    while len(texts) < 128:
        message = await b.recv(timeout=10)
        if message["type"] == "chat":
            texts.append(message["text"])
    assert texts == [f"line {i}" for i in range(128)]

    async with httpx.AsyncClient(base_url=cluster.http_url, timeout=10) as http:

        async def scraped() -> str | None:
            text = (await http.get("/metrics")).text  # the whole node (multiprocess)
            name = 'roulette_relay_latency_seconds_count{path="bridge"}'
            return text if sample(text, name) == 2.0 else None

        # 128 messages from a's worker to b's: the 64th and 128th carried their arrival time
        # and were observed by b's worker as they were written to b's socket.
        metrics = await eventually(scraped, "two bridge samples")
    assert sample(metrics, 'roulette_relay_latency_seconds_count{path="local"}') is None
    total = sample(metrics, 'roulette_relay_latency_seconds_sum{path="bridge"}')
    assert total is not None and 0.0 < total < 10.0
    # a's wait observed by a's worker (the match notice came through the bridge), b's by b's.
    assert sample(metrics, "roulette_time_to_match_seconds_count") == 2.0
    waits = sample(metrics, "roulette_time_to_match_seconds_sum")
    assert waits is not None and waits >= 0.5
    for user in users:
        await user.close()


@pytest.mark.timeout(240)
async def test_the_management_dashboard_merges_every_worker(node: Node) -> None:
    cluster = node.cluster
    users = await users_on_both_workers(cluster, 4)
    per_worker = {w: sum(u.worker == w for u in users) for w in {u.worker for u in users}}
    async with httpx.AsyncClient(base_url=cluster.management_url, timeout=30) as http:

        async def merged() -> dict[str, Any] | None:
            data: dict[str, Any] = (await http.get("/dashboard/data", headers=AUTH)).json()
            last = data["series"].get("connections", [None])[-1]
            return data if last == float(len(users)) else None

        data = await eventually(merged, f"{len(users)} sockets in the merged series", 40.0)
    ready = sorted(w["workerId"] for w in data["cluster"]["workers"] if w["state"] == "ready")
    assert data["workers"] == ready == sorted(per_worker)
    assert data["missing"] == []
    assert data["aggregates"]["1m"]["connections"]["last"] == float(len(users))
    for user in users:
        await user.close()


async def answers_in_a_row(http: httpx.AsyncClient, status: int, row: int = 12) -> set[str]:
    """Wait until ``row`` consecutive ``/health/ready`` answers (new connections, so any
    worker) have ``status``; the workers that answered them."""
    deadline = time.monotonic() + 30.0
    seen: set[str] = set()
    streak = 0
    while streak < row:
        assert time.monotonic() < deadline, f"no {row} answers {status} in a row"
        answer = await http.get("/health/ready", headers={"Connection": "close"})
        if answer.status_code == status:
            streak += 1
            seen.add(answer.json()["node"])
        else:
            streak, seen = 0, set()
            await asyncio.sleep(0.2)
    return seen


@pytest.mark.timeout(240)
async def test_a_stopped_redis_makes_the_cluster_not_ready_until_it_returns(node: Node) -> None:
    cluster, redis = node.cluster, node.redis
    async with httpx.AsyncClient(base_url=cluster.http_url, timeout=10) as http:
        await answers_in_a_row(http, 200)
        redis.stop()
        try:
            workers = await answers_in_a_row(http, 503)
            answer = await http.get("/health/ready")
            assert answer.status_code == 503
            assert "redis:down" in answer.json()["reasons"]
        finally:
            redis.start()
        await answers_in_a_row(http, 200)
    # 12 answers on new connections: both workers answered (each misses all 12 with p = 2^-12).
    ready = {w["workerId"] for w in cluster.status()["workers"] if w["state"] == "ready"}
    assert workers == ready
