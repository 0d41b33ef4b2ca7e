"""A real node on a real Redis: the Redis breaker opens in an outage and closes after it; the
node sheds new sign-ins and handshakes near its socket cap and tells the agent check."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from roulette.storage.keys import LB_NODES
from storage.redis_fixtures import RedisServer
from storage.redis_fixtures import running_server as running_redis
from support.server import RunningServer, running_server
from support.users import User

pytestmark = [pytest.mark.redis, pytest.mark.slow, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with running_redis(tmp_path_factory.mktemp("protect-redis")) as server:
        yield server


@pytest.fixture(scope="module")
def node(
    tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer
) -> Iterator[RunningServer]:
    env = {
        "REDIS_URL": redis_server.url,
        "BREAKER_THRESHOLD": "2",
        "BREAKER_RESET_SECONDS": "1",
        "MAX_CONNECTIONS": "2",
        "SHED_SOCKET_FRACTION": "0.5",
        "LB_NODE_TTL_SECONDS": "3",
    }
    with running_server(tmp_path_factory.mktemp("protect-node"), env) as server:
        yield server


def _health(node: RunningServer) -> dict[str, object]:
    body: dict[str, object] = httpx.get(f"{node.http_url}/health", timeout=10.0).json()
    return body


def test_redis_outage_opens_the_breaker_and_it_closes_when_redis_returns(
    node: RunningServer, redis_server: RedisServer
) -> None:
    assert _health(node)["breakers"] == {"redis": "closed", "sql": "closed"}
    redis_server.stop()
    try:
        deadline = time.monotonic() + 20
        while _health(node)["breakers"]["redis"] != "open":  # type: ignore[index]
            assert time.monotonic() < deadline
            time.sleep(0.1)
        metrics = httpx.get(f"{node.http_url}/metrics", timeout=10.0)
        assert metrics.status_code in {200, 503}
        # While open, sign-in answers a clear 503 at once instead of waiting on Redis.
        started = time.monotonic()
        nonce = httpx.get(f"{node.http_url}/auth/siwe/nonce", timeout=10.0)
        assert nonce.status_code == 503
        assert time.monotonic() - started < 1.0
    finally:
        redis_server.start()
    deadline = time.monotonic() + 20
    while (health := _health(node))["breakers"]["redis"] != "closed":  # type: ignore[index]
        assert time.monotonic() < deadline, health
        time.sleep(0.2)
    assert health["status"] == "ok"
    metrics_text = httpx.get(f"{node.http_url}/metrics", timeout=10.0).text
    assert 'roulette_circuit_breaker_state{name="redis",state="closed"} 1.0' in metrics_text
    assert 'roulette_circuit_breaker_opened{name="redis"} 1.0' in metrics_text


def _agent(redis_server: RedisServer) -> tuple[str, int]:
    with redis_server.client() as control:
        (raw,) = control.hgetall(LB_NODES).values()
    record = json.loads(raw)
    return record["host"], int(record["agent_port"])


async def _ask_agent(address: tuple[str, int]) -> bytes:
    reader, writer = await asyncio.open_connection(*address)
    writer.write(b"state")
    answer = await reader.read()
    writer.close()
    return answer


async def test_near_the_cap_the_node_sheds_and_says_drain(
    node: RunningServer, redis_server: RedisServer
) -> None:
    agent = await asyncio.to_thread(_agent, redis_server)
    assert await _ask_agent(agent) == b"up ready\n"
    first, second = (User(node.http_url, node.ws_url, f"127.0.0.1:{node.port}") for _ in "ab")
    await first.sign_in()
    await second.sign_in()
    try:
        await first.connect()  # 1 of 2 sockets: at the 50% shedding mark
        deadline = time.monotonic() + 5
        while (answer := await _ask_agent(agent)) != b"up drain\n":
            assert time.monotonic() < deadline, answer
            await asyncio.sleep(0.1)
        nonce = await second.http.get("/auth/siwe/nonce")
        assert nonce.status_code == 503
        assert nonce.headers["Retry-After"] == "5"
        with pytest.raises(InvalidStatus) as refused:
            await second.connect()
        assert refused.value.response.status_code == 503
        assert refused.value.response.headers["Retry-After"] == "5"
        assert b"overloaded" in refused.value.response.body
        assert (await asyncio.to_thread(_health, node))["shedding"] is True
    finally:
        await first.close()
        await second.close()
    deadline = time.monotonic() + 5
    while await _ask_agent(agent) != b"up ready\n":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
