"""A Redis Cluster master dies under a live node: after failover the node serves again within
10 s, without a restart, and no user is ever in two sessions."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from roulette.storage.keys import LOBBY
from storage.redis_fixtures import RedisCluster, free_block, running_cluster
from support.server import running_server
from support.users import User, signed_in_users


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[RedisCluster]:
    with running_cluster(tmp_path / "redis", free_block(7300)) as running:
        yield running


def lobby_master_port(cluster: RedisCluster) -> int:
    """The port of the master that owns the lobby's hash slot."""
    with contextlib.closing(redis.RedisCluster(host="127.0.0.1", port=cluster.nodes[0].port)) as c:
        return int(c.get_node_from_key(LOBBY.waiting).port)  # type: ignore[no-untyped-call]


async def join_until_served(user: User, deadline: float, seen: list[dict[str, object]]) -> float:
    """Send join-queue until the answer is not ``state_unavailable``; returns when it was."""
    while time.monotonic() < deadline:
        await user.send({"type": "join-queue", "chainId": 1})
        answer = await user.recv(timeout=10)
        if answer["type"] != "error":
            seen.append(answer)
            return time.monotonic()
        assert answer["code"] == "state_unavailable", answer
        await asyncio.sleep(0.2)
    raise AssertionError("the node never served a join again")


async def test_the_node_serves_again_within_10_s_of_a_master_kill(
    cluster: RedisCluster, tmp_path: Path
) -> None:
    nodes = ",".join(f"{h}:{p}" for h, p in cluster.addresses)
    env = {"REDIS_CLUSTER_ENABLED": "true", "REDIS_CLUSTER_NODES": nodes}
    with running_server(tmp_path / "node", env) as node:
        users = await signed_in_users(node, 4)
        for user in users:
            await user.connect()
        await users[0].join()
        cluster.node(lobby_master_port(cluster)).stop(signal.SIGKILL)
        killed = time.monotonic()
        inbox: dict[str, list[dict[str, object]]] = {u.address: [] for u in users}
        served = await join_until_served(users[1], killed + 30, inbox[users[1].address])
        recovery = served - killed
        print(f"node served a join {recovery:.2f}s after the lobby's master was killed")
        assert recovery < 10.0
        # Afterwards: everyone is matched or told to rejoin; nobody is in two sessions.
        for user in users[2:]:
            await user.send({"type": "join-queue", "chainId": 1})
        await drain(users, inbox, seconds=7)
        assert_no_double_sessions(inbox)
        for user in users:
            await user.close()


async def drain(
    users: list[User], inbox: dict[str, list[dict[str, object]]], seconds: float
) -> None:
    """Collect what each user is told for a while; rejoin whoever gets ``queue-reset``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for user in users:
            with contextlib.suppress(TimeoutError):
                message = await user.recv(timeout=0.05)
                inbox[user.address].append(message)
                if message["type"] == "queue-reset":
                    await user.send({"type": "join-queue", "chainId": 1})


def assert_no_double_sessions(inbox: dict[str, list[dict[str, object]]]) -> None:
    members: dict[object, set[str]] = {}
    for address, messages in inbox.items():
        mine = [m["sessionId"] for m in messages if m["type"] == "match-found"]
        assert len(mine) <= 1, f"{address} was put in two sessions: {mine}"
        for session in mine:
            members.setdefault(session, set()).add(address)
    assert members, "nobody was matched after the failover"
    assert all(len(pair) == 2 for pair in members.values()), members
