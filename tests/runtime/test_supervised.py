"""Supervised background loops: the pure backoff, and a real node whose sweeper is broken by an
injected exception — the restart shows in ``roulette_task_restarts_total`` and the node keeps
serving sign-ins and matches."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from roulette.config import Config
from roulette.runtime.node import Node, bind
from roulette.supervised import RESTARTS, Backoff, supervised
from support.users import signed_in_users


def test_backoff_doubles_up_to_its_cap() -> None:
    backoff = Backoff(first=0.1, cap=1.0)
    assert [backoff.delay(n) for n in range(1, 7)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]


def restarts(task: str) -> float:
    return float(RESTARTS.labels(task=task)._value.get())


async def test_a_crashing_loop_is_restarted_and_a_returning_one_is_done() -> None:
    runs: list[int] = []

    async def loop() -> None:
        runs.append(len(runs))
        if len(runs) < 3:
            raise KeyError("boom")

    before = restarts("unit")
    await asyncio.wait_for(supervised("unit", loop, backoff=Backoff(first=0.01)), 5)
    assert runs == [0, 1, 2]
    assert restarts("unit") == before + 2


async def test_cancellation_passes_through() -> None:
    async def forever() -> None:
        await asyncio.Event().wait()

    task = asyncio.create_task(supervised("cancelled", forever))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert restarts("cancelled") == 0


@dataclass
class InProcessNode:
    node: Node
    port: int
    ws_port: int

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}/ws"


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[InProcessNode]:
    http_sock, ws_sock = bind("127.0.0.1", 0), bind("127.0.0.1", 0)
    port, ws_port = http_sock.getsockname()[1], ws_sock.getsockname()[1]
    env = {"DATA_DIR": str(tmp_path), "SIWE_DOMAIN": f"127.0.0.1:{port}", "STUN_SERVERS": ""}
    config = Config.from_env(env).with_ports(port, ws_port)
    built = await Node.build(config)
    stop, ready = asyncio.Event(), asyncio.Event()
    serving = asyncio.create_task(built.serve(http_sock, ws_sock, stop=stop, ready=ready.set))
    await asyncio.wait_for(ready.wait(), 30)
    try:
        yield InProcessNode(built, port, ws_port)
    finally:
        stop.set()
        await asyncio.wait_for(serving, 30)


async def eventually(check: object, timeout: float = 10.0) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition never held"
        await asyncio.sleep(0.05)


async def test_an_injected_exception_in_the_sweeper_restarts_it_and_the_node_serves(
    node: InProcessNode,
) -> None:
    sweeper = node.node.sweeper
    real_pass = sweeper.pass_once
    broken = {"left": 1}
    passes: list[float] = []

    async def pass_once() -> None:
        if broken["left"]:
            broken["left"] -= 1
            raise ZeroDivisionError("injected")
        passes.append(time.monotonic())
        await real_pass()

    before = restarts("sweeper")
    sweeper.pass_once = pass_once  # type: ignore[method-assign]
    await eventually(lambda: restarts("sweeper") == before + 1)
    await eventually(lambda: len(passes) >= 2)  # the restarted loop sweeps again
    async with httpx.AsyncClient(base_url=node.http_url) as http:
        metrics = (await http.get("/metrics")).text
    assert f'roulette_task_restarts_total{{task="sweeper"}} {before + 1}' in metrics
    a, b = await signed_in_users(node, 2)
    for user in (a, b):
        await user.connect()
        await user.join()
    assert (await a.expect("match-found"))["peerId"] == b.address
    assert (await b.expect("match-found"))["peerId"] == a.address
    for user in (a, b):
        await user.close()
