"""A real ``roulette serve``: relayed messages are timed 1 in 64 (``/metrics`` and
``/health/performance``), each matched user's wait is observed once, and open TCP connections
of the HTTP listener are counted while they are open."""

from __future__ import annotations

import asyncio
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support.server import RunningServer, running_server
from support.users import signed_in_users

OPERATOR = "operator-token-0123456789"
ENV = {
    "MANAGEMENT_TOKEN": OPERATOR,
    "WS_RATE_BURST": "1000",
    "WS_RATE_PER_SECOND": "1000",
    "MONITOR_INTERVAL_SECONDS": "0.5",
}


def sample(metrics: str, name: str) -> float | None:
    """The value of the sample ``name`` (with its labels, exactly) in an exposition text."""
    found = re.search(rf"^{re.escape(name)} (\S+)$", metrics, re.MULTILINE)
    return float(found.group(1)) if found else None


async def scrape_until(http: httpx.AsyncClient, name: str, value: float) -> str:
    deadline = time.monotonic() + 15.0
    while True:
        metrics = (await http.get("/metrics")).text
        if sample(metrics, name) == value or time.monotonic() > deadline:
            assert sample(metrics, name) == value, f"{name} is {sample(metrics, name)}"
            return metrics
        await asyncio.sleep(0.2)


@pytest.fixture
def node(tmp_path: Path) -> Iterator[RunningServer]:
    with running_server(tmp_path / "node", ENV) as server:
        yield server


@pytest.mark.timeout(90)
async def test_relay_is_timed_one_in_64_and_each_wait_for_a_match_once(
    node: RunningServer,
) -> None:
    a, b = await signed_in_users(node, 2)
    await a.connect()
    await b.connect()
    joined = time.time()
    await a.join()
    await asyncio.sleep(0.5)  # a waits at least this long
    await b.send({"type": "join-queue", "chainId": 1, "preferences": {"interests": []}})
    session = (await a.expect("match-found"))["sessionId"]
    waited = time.time() - joined
    for i in range(200):
        await a.send({"type": "chat", "sessionId": session, "text": f"line {i}"})
    texts: list[str] = []
    while len(texts) < 200:
        message = await b.recv()
        if message["type"] == "chat":
            texts.append(message["text"])
    assert texts == [f"line {i}" for i in range(200)]

    async with httpx.AsyncClient(base_url=node.http_url, timeout=10) as http:
        # 200 relayed messages: the 64th, 128th and 192nd were timed, on this worker.
        name = 'roulette_relay_latency_seconds_count{path="local"}'
        metrics = await scrape_until(http, name, 3.0)
        assert sample(metrics, 'roulette_relay_latency_seconds_count{path="bridge"}') is None
        relay_sum = sample(metrics, 'roulette_relay_latency_seconds_sum{path="local"}')
        assert relay_sum is not None and 0.0 < relay_sum < 3.0
        assert sample(metrics, "roulette_relayed_messages_total") == 200.0
        # Both users' waits, once each: a's at least 0.5 s, b's next to nothing.
        assert sample(metrics, "roulette_time_to_match_seconds_count") == 2.0
        total = sample(metrics, "roulette_time_to_match_seconds_sum")
        assert total is not None and 0.5 <= total <= waited + 1.0
        assert sample(metrics, 'roulette_time_to_match_seconds_bucket{le="0.1"}') == 1.0
        # Both sockets passed the sign-in check after the upgrade, each timed once.
        handshakes = sample(metrics, "roulette_ws_handshake_duration_seconds_count")
        assert handshakes is not None and handshakes >= 2.0

        operator = {"Authorization": f"Bearer {OPERATOR}"}
        perf = await http.get("/health/performance", headers=operator)
        deadline = time.monotonic() + 10.0
        while True:  # the monitor's next pass charts the samples' p95 on the dashboard
            data = (await http.get("/dashboard/data", headers=operator)).json()
            chart = data["aggregates"]["1m"].get("relay_p95_ms")
            if chart is not None or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        assert chart is not None and 0.0 < chart["max"] < 3000.0
    relay = perf.json()["relay"]
    assert relay["latencySampleEvery"] == 64
    local = relay["latencyMs"]["1m"]["local"]
    assert local["samples"] == 3
    assert 0.0 < local["p50"] <= local["p99"] <= local["max"] < 3000.0
    assert relay["latencyMs"]["1m"]["bridge"]["samples"] == 0
    for user in (a, b):
        await user.close()


@pytest.mark.timeout(60)
async def test_open_tcp_connections_of_the_http_listener_are_counted(
    node: RunningServer,
) -> None:
    name = "roulette_http_connections"
    async with httpx.AsyncClient(base_url=node.http_url, timeout=10) as http:
        before = sample((await http.get("/metrics")).text, name)
        assert before is not None and before >= 1.0  # this client's own connection
        idle = [socket.create_connection(("127.0.0.1", node.port)) for _ in range(5)]
        try:
            await scrape_until(http, name, before + 5)
        finally:
            for sock in idle:
                sock.close()
        await scrape_until(http, name, before)
