"""The whole Redis Cluster stops under a live ``roulette serve`` (the lab's ``stop-redis``;
issue 9, Deliver 5): whatever the cluster client raises — it has no node left to ask, then
reloads its slot map from nodes that come back — every answer that needs shared state is 503
``state_unavailable`` over HTTP and ``error {state_unavailable}`` on a socket, never a 500 or
``internal_error``; and the same process serves again once the cluster is back.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.redis_fixtures import RedisCluster, free_block, running_cluster
from support.eventually import eventually
from support.outage import assert_no_crash, assert_unavailable
from support.server import running_server
from support.users import signed_in_users

pytestmark = [pytest.mark.redis, pytest.mark.slow]

STRANGER = "0x000000000000000000000000000000000000dEaD"
"""Someone to block who takes no part in the test's matches."""


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[RedisCluster]:
    with running_cluster(tmp_path / "redis", free_block(7500)) as running:
        yield running


async def test_a_stopped_redis_cluster_answers_503_never_500(
    cluster: RedisCluster, tmp_path: Path
) -> None:
    env = {**cluster.client_env(), "LB_DRAIN_SECONDS": "0.5"}  # a short goodbye at the end
    with running_server(tmp_path / "node", env) as node:
        a, b = await signed_in_users(node, 2)
        await a.connect()
        for redis_node in cluster.nodes:
            redis_node.stop()
        answers = [
            await a.http.get("/auth/siwe/nonce"),
            # The block is stored (SQL is up); keeping the queued users apart needs Redis.
            await a.http.post("/blocks", json={"targetAddr": STRANGER}),
        ]
        for answer in answers:
            assert_unavailable(answer, "state_unavailable")
        for _ in range(2):
            await a.send({"type": "join-queue", "chainId": 1})
            error = await a.expect("error", timeout=15)
            assert error["code"] == "state_unavailable", error

        for redis_node in cluster.nodes:
            redis_node.start()
        cluster.wait_healthy(timeout=60)

        async def serves_again() -> None:
            assert (await a.http.get("/auth/siwe/nonce")).status_code == 200

        await eventually(serves_again, timeout=30, interval=0.2)
        await b.connect()
        await a.join()
        await b.join()
        assert (await a.expect("match-found", timeout=10))["peerId"] == b.address
        await a.close()
        await b.close()
        assert_no_crash(node)
