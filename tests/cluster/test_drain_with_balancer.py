"""``roulette cluster`` behind a balancer: SIGTERM turns the agent to ``drain`` while the
workers keep serving for ``LB_DRAIN_SECONDS``, then they close (issue 11, as ``serve`` does)."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import time
from pathlib import Path

import httpx
import redis

from cluster.running import running_cluster
from roulette.storage.keys import LB_NODES
from support.users import signed_in_users


def agent_answer(port: int) -> str:
    """What an HAProxy agent check reads from ``port`` (one line, then the node closes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5.0) as sock:
        return sock.recv(256).decode().strip()


def agent_port_of_the_node(redis_url: str) -> int:
    client = redis.Redis.from_url(redis_url)
    try:
        deadline = time.monotonic() + 30.0
        while time.monotonic() < deadline:
            records = [json.loads(v) for v in client.hvals(LB_NODES)]
            if records:
                return int(records[0]["agent_port"])
            time.sleep(0.2)
    finally:
        client.close()
    raise AssertionError("the node never announced itself")


def test_sigterm_answers_drain_before_the_workers_stop(tmp_path: Path, redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.delete(LB_NODES)  # other tests' nodes on the session's Redis
    client.close()
    env = {"CLUSTER_WORKERS": "1", "REDIS_URL": redis_url, "LB_DRAIN_SECONDS": "4"}
    with running_cluster(tmp_path, env, ready=1) as cluster:
        port = agent_port_of_the_node(redis_url)
        assert "ready" in agent_answer(port)
        cluster.signal(signal.SIGTERM)
        deadline = time.monotonic() + 10.0
        while "drain" not in agent_answer(port):
            assert time.monotonic() < deadline, "the agent never answered drain"
            time.sleep(0.1)
        drained_at = time.monotonic()
        # The balancer now sends new clients elsewhere, but this node still serves meanwhile.
        while time.monotonic() - drained_at < 2.0:
            assert httpx.get(f"{cluster.http_url}/health/live", timeout=5.0).status_code == 200
            time.sleep(0.25)
        assert cluster.process.wait(timeout=30.0) == 0
        assert time.monotonic() - drained_at >= 3.0  # the workers stopped after the delay


async def test_a_shedding_worker_turns_the_clusters_agent_to_drain(
    tmp_path: Path, redis_url: str
) -> None:
    client = redis.Redis.from_url(redis_url)
    client.delete(LB_NODES)
    client.close()
    env = {
        "CLUSTER_WORKERS": "1",
        "REDIS_URL": redis_url,
        "MAX_CONNECTIONS": "2",
        "SHED_SOCKET_FRACTION": "0.5",  # one socket of two: the worker sheds
    }
    with running_cluster(tmp_path, env, ready=1) as cluster:
        port = agent_port_of_the_node(redis_url)
        assert "ready" in agent_answer(port)
        (user,) = await signed_in_users(cluster, 1)
        try:
            await user.connect()
            deadline = time.monotonic() + 15.0  # a heartbeat, then the presence's next look
            while "drain" not in agent_answer(port):
                assert time.monotonic() < deadline, "the worker's shedding never reached the agent"
                await asyncio.sleep(0.2)
        finally:
            await user.close()
        deadline = time.monotonic() + 15.0
        while "ready" not in agent_answer(port):
            assert time.monotonic() < deadline, "the agent stayed at drain after the load left"
            await asyncio.sleep(0.2)
