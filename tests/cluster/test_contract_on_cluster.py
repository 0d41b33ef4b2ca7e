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

from cluster.running import RunningCluster, running_cluster
from storage.redis_fixtures import free_block
from storage.redis_fixtures import running_cluster as running_redis_cluster
from support.users import User, signed_in_users


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
    }
    with running_cluster(tmp_path, env) as running:
        yield running


Pair = tuple[User, User, dict[str, object], dict[str, object]]


async def matched_pairs(node: RunningCluster, pairs: int) -> list[Pair]:
    users = await signed_in_users(node, 2 * pairs)
    result = []
    for a, b in zip(users[::2], users[1::2], strict=True):
        await a.connect()
        await b.connect()
        await a.join()
        await b.join()
        found_a = await a.expect("match-found", timeout=10)
        found_b = await b.expect("match-found", timeout=10)
        result.append((a, b, found_a, found_b))
    return result


def connections_by_worker(node: RunningCluster) -> list[int]:
    return [w["connections"] for w in node.status()["workers"]]


async def close_all(pairs: list[Pair]) -> None:
    for a, b, _, _ in pairs:
        await a.close()
        await b.close()


async def test_users_spread_over_workers_meet_and_relay(node: RunningCluster) -> None:
    pairs = await matched_pairs(node, 8)
    await asyncio.sleep(1.5)  # the next heartbeat carries the connection counts
    spread = connections_by_worker(node)
    assert all(count > 0 for count in spread), f"every worker holds sockets: {spread}"
    await expect_node_metrics(
        node, {"roulette_matches_total": 8.0, "roulette_ws_connections": 16.0}
    )
    for a, b, found, _ in pairs:
        await a.send({"type": "chat", "sessionId": found["sessionId"], "text": "hi"})
        assert (await b.expect("chat"))["from"] == a.address
        await b.send({"type": "next"})
        assert (await b.expect("session-ended"))["reason"] == "next"
        assert (await a.expect("session-ended"))["reason"] == "peer-next"
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


def is_open(user: User) -> bool:
    return user.ws is not None and user.ws.state.name == "OPEN"


async def test_a_sigkilled_worker_is_survived_by_resuming(node: RunningCluster) -> None:
    pairs = await matched_pairs(node, 8)
    os.kill(node.status()["workers"][0]["pid"], signal.SIGKILL)
    killed_at = time.monotonic()
    users = [u for a, b, _, _ in pairs for u in (a, b)]
    for _ in range(50):  # the kernel resets the victim's sockets; wait until clients notice
        await asyncio.sleep(0.1)
        if any(not is_open(u) for u in users):
            await asyncio.sleep(0.3)
            break
    split = [(a, b, fa, fb) for a, b, fa, fb in pairs if is_open(a) != is_open(b)]
    assert split, "no pair had one user on each worker"
    for a, b, found_a, found_b in split:
        gone, stay, found = (a, b, found_a) if not is_open(a) else (b, a, found_b)
        notice = await next_of(stay, "peer-disconnected", timeout=10)
        assert notice["sessionId"] == found["sessionId"]
        assert time.monotonic() - killed_at < 5.0 + 2 * len(split)
        await gone.connect()
        await gone.send(
            {
                "type": "reconnect",
                "sessionId": found["sessionId"],
                "resumeToken": found["resumeToken"],
            }
        )
        await next_of(gone, "session-resumed", timeout=10)
        await next_of(stay, "session-resumed", timeout=10)
        await stay.send({"type": "chat", "sessionId": found["sessionId"], "text": "still here"})
        assert (await next_of(gone, "chat", timeout=10))["text"] == "still here"
    await close_all(pairs)


async def next_of(user: User, kind: str, timeout: float) -> dict[str, object]:
    """The next message of type ``kind``, skipping others."""
    deadline = time.monotonic() + timeout
    while True:
        message = await user.recv(timeout=max(0.1, deadline - time.monotonic()))
        if message["type"] == kind:
            return message
