"""The controller in-process: a real node in this event loop, on the memory lobby and on a real
Redis, so a test can hold one store call and let another user's overtake it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from roulette.config import Config
from roulette.identity import SessionId
from roulette.matchmaking.records import QueueEntry
from roulette.runtime.node import Node, bind
from roulette.storage.ports import Lobby, Paired, Queued
from storage.redis_fixtures import RedisServer
from storage.redis_fixtures import running_server as running_redis
from support.users import User, signed_in_users


@dataclass
class InProcess:
    """Where an in-process node listens (what ``signed_in_users`` needs)."""

    node: Node
    port: int
    ws_port: int

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}/ws"


class HeldJoins:
    """The node's real lobby; a join of an address in ``hold`` waits for its event."""

    def __init__(self, lobby: Lobby) -> None:
        self._lobby = lobby
        self.hold: dict[str, asyncio.Event] = {}
        self.reached = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._lobby, name)

    async def join(
        self, entry: QueueEntry, *, now: float, session_id: SessionId
    ) -> Queued | Paired:
        gate = self.hold.pop(entry.address, None)
        if gate is not None:
            self.reached.set()
            await gate.wait()
        return await self._lobby.join(entry, now=now, session_id=session_id)


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with running_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@asynccontextmanager
async def in_process(data_dir: Path, extra: dict[str, str]) -> AsyncIterator[InProcess]:
    http_sock, ws_sock = bind("127.0.0.1", 0), bind("127.0.0.1", 0)
    port, ws_port = http_sock.getsockname()[1], ws_sock.getsockname()[1]
    env = {
        "DATA_DIR": str(data_dir),
        "SIWE_DOMAIN": f"127.0.0.1:{port}",
        "STUN_SERVERS": "",
        "AUTH_RATE_BURST": "100000",
        **extra,
    }
    node = await Node.build(Config.from_env(env).with_ports(port, ws_port))
    stop, ready = asyncio.Event(), asyncio.Event()
    serving = asyncio.create_task(node.serve(http_sock, ws_sock, stop=stop, ready=ready.set))
    await asyncio.wait_for(ready.wait(), 20)
    try:
        yield InProcess(node, port, ws_port)
    finally:
        stop.set()
        await asyncio.wait_for(serving, 20)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def node(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[InProcess]:
    extra: dict[str, str] = {}
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis")
        server.client().flushall()
        extra["REDIS_URL"] = server.url
    async with in_process(tmp_path, extra) as running:
        yield running


async def no_message(user: User, within: float = 0.5) -> None:
    with pytest.raises(TimeoutError):
        message = await user.recv(timeout=within)
        pytest.fail(f"unexpected {message}")


async def test_a_user_paired_while_its_own_join_is_in_flight_gets_no_error(
    node: InProcess,
) -> None:
    """Defect 4: match-found answers the overtaken join, in order, and nothing else follows."""
    controller = node.node.gateway.controller
    held = HeldJoins(controller.lobby)
    controller.lobby = held
    a, b = await signed_in_users(node, 2)
    try:
        await a.connect()
        await b.connect()
        await a.join()
        gate = held.hold[a.address] = asyncio.Event()
        await a.send({"type": "join-queue", "chainId": 1, "preferences": {"interests": []}})
        await asyncio.wait_for(held.reached.wait(), 5)
        await b.join()
        found_b = await b.expect("match-found")
        assert await a.expect("queue-joined") == {
            "type": "queue-joined",
            "chainId": 1,
            "position": 1,
        }
        found_a = await a.expect("match-found")
        assert found_a["sessionId"] == found_b["sessionId"]
        gate.set()
        await no_message(a)
        await a.send({"type": "chat", "sessionId": found_a["sessionId"], "text": "hi"})
        assert (await b.expect("chat"))["text"] == "hi"
    finally:
        await a.close()
        await b.close()


async def test_end_session_for_a_session_the_store_forgot_ends_it_here(node: InProcess) -> None:
    a, b = await signed_in_users(node, 2)
    try:
        await a.connect()
        await b.connect()
        await a.join()
        await b.join()
        found = await a.expect("match-found")
        await b.expect("match-found")
        lobby = node.node.gateway.controller.lobby
        # The store loses the session without telling anyone (a failover, a flush).
        assert await lobby.end_session(SessionId(found["sessionId"]), by=None) is not None
        await a.send({"type": "end-session", "sessionId": found["sessionId"]})
        assert (await a.expect("session-ended"))["reason"] == "ended"
        assert (await a.join())["position"] == 1
    finally:
        await a.close()
        await b.close()
