"""The single-node contract against ``roulette cluster`` (2 workers) on a standalone Redis and
on a 6-node Redis Cluster: users on different workers meet and relay; a SIGKILLed worker's
user resumes through whichever worker its new socket lands on.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cluster.pairs import Pair, Pool, next_of
from cluster.running import RunningCluster, running_cluster
from storage.redis_fixtures import free_block
from storage.redis_fixtures import running_cluster as running_redis_cluster


@pytest.fixture(scope="module", params=["redis", "redis-cluster"])
def state_env(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """Where the workers keep shared state: one redis-server, or a 6-node Redis Cluster."""
    if request.param == "redis":
        yield {"REDIS_URL": request.getfixturevalue("redis_url")}
        return
    directory = tmp_path_factory.mktemp("redis-cluster")
    with running_redis_cluster(directory, free_block(7100)) as cluster:
        nodes = ",".join(f"{host}:{port}" for host, port in cluster.addresses)
        yield {"REDIS_CLUSTER_ENABLED": "true", "REDIS_CLUSTER_NODES": nodes}


@pytest.fixture
def node(tmp_path: Path, state_env: dict[str, str]) -> Iterator[RunningCluster]:
    env = {
        **state_env,
        "CLUSTER_WORKERS": "2",
        "RECONNECT_GRACE_SECONDS": "20",
        "AUTH_RATE_BURST": "100000",
        "WS_HANDSHAKE_IP_BURST": "100000",
    }
    with running_cluster(tmp_path, env) as running:
        yield running


async def cross_worker_pairs(node: RunningCluster, pairs: int) -> list[Pair]:
    """``pairs`` sessions, each between a user on one worker and a user on the other."""
    pool = Pool(node)
    made = await pool.pairs(pairs)
    used = {id(u) for a, b, _, _ in made for u in (a, b)}
    await asyncio.gather(*(u.close() for u in pool.users if id(u) not in used))
    return made


async def close_all(pairs: list[Pair]) -> None:
    for a, b, _, _ in pairs:
        await a.close()
        await b.close()


async def test_users_on_different_workers_meet_and_relay(node: RunningCluster) -> None:
    pairs = await cross_worker_pairs(node, 4)
    try:
        await expect_node_metrics(
            node, {"roulette_matches_total": 4.0, "roulette_ws_connections": 8.0}
        )
        for a, b, found, _ in pairs:
            assert a.worker != b.worker
            for i in range(20):
                await a.send({"type": "ice-candidate", "sessionId": found["sessionId"], "data": i})
            assert [(await b.expect("ice-candidate"))["data"] for _ in range(20)] == list(range(20))
            await b.send({"type": "next"})
            assert (await b.expect("session-ended"))["reason"] == "next"
            assert (await a.expect("session-ended"))["reason"] == "peer-next"
    finally:
        await close_all(pairs)


async def expect_node_metrics(node: RunningCluster, expected: dict[str, float]) -> None:
    """Any worker's /metrics shows the whole node (prometheus_client multiprocess mode)."""
    seen: dict[str, float] = {}
    for _ in range(40):
        async with httpx.AsyncClient() as http:
            text = (await http.get(f"{node.http_url}/metrics")).text
        seen = {
            name: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            for name in expected
            if line.startswith(name + " ")
        }
        if seen == expected:
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"node-wide metrics {seen}, expected {expected}")


def pid_of(node: RunningCluster, worker_id: str) -> int:
    return int(next(w["pid"] for w in node.status()["workers"] if w["workerId"] == worker_id))


async def test_a_sigkilled_worker_is_survived_by_resuming(node: RunningCluster) -> None:
    pairs = await cross_worker_pairs(node, 3)
    try:
        os.kill(pid_of(node, pairs[0][0].worker), signal.SIGKILL)  # every "a" lives there
        killed_at = time.monotonic()
        for _a, b, found_a, _ in pairs:
            notice = await next_of(b, "peer-disconnected", timeout=20)
            assert notice["sessionId"] == found_a["sessionId"]
        told_after = time.monotonic() - killed_at
        # Membership: the key lapses after TTL_SECONDS, then CONFIRM_SECONDS more, ~7 s.
        assert told_after < 12.0, f"peers told {told_after:.1f}s after the kill"
        for a, b, found_a, _ in pairs:
            await a.connect_after_a_crash()  # lands on the surviving worker
            await a.send(
                {
                    "type": "reconnect",
                    "sessionId": found_a["sessionId"],
                    "resumeToken": found_a["resumeToken"],
                }
            )
            await next_of(a, "session-resumed", timeout=10)
            await next_of(b, "session-resumed", timeout=10)
            await b.send({"type": "chat", "sessionId": found_a["sessionId"], "text": "still here"})
            assert (await next_of(a, "chat", timeout=10))["text"] == "still here"
        print(f"peers told {told_after:.2f}s after SIGKILL")
    finally:
        await close_all(pairs)
