"""Issue 10, hole 3, fleet-wide: two nodes (``roulette serve`` processes sharing one real
Redis and one database) stand for any two workers of the fleet. A wallet's spent budgets stay
spent on its next socket whichever node takes it, and a wallet holds one live socket in the
whole fleet, so it cannot hold N budgets on N workers.

Each socket is opened on a chosen node, so "the other worker" and "the same worker" are both
exercised every run (the kernel's spread over the workers of one ``roulette cluster`` is not
something a test can choose).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from gateway.test_honest_limits import CANDIDATES, candidate, received
from runtime.test_cross_worker import SECRETS
from storage.redis_fixtures import running_server as running_redis
from support.server import RunningServer, running_server
from support.users import User, signed_in_users

BURST, PER_SECOND = 60, 0.05
"""The default burst; a refill so slow (one message per 20 s) that no debt is paid off
while a test runs, so a fresh budget would show as an answered message."""
WAIT = 20.0
"""Seconds a reply or a close may take: generous, the notices cross Redis on a loaded host."""

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, ...]]:
    base = tmp_path_factory.mktemp("budgets")
    with ExitStack() as stack:
        redis = stack.enter_context(running_redis(base / "redis"))
        env = {
            **SECRETS,
            "REDIS_URL": redis.url,
            "DATABASE_URL": f"sqlite+aiosqlite:///{base / 'shared.db'}",
            "AUTH_RATE_BURST": "100000",
            "WS_HANDSHAKE_WALLET_BURST": "1000",  # the message budgets are under test here
            "WS_RATE_BURST": str(BURST),
            "WS_RATE_PER_SECOND": str(PER_SECOND),
        }
        one = stack.enter_context(running_server(base / "one", env))
        two = stack.enter_context(running_server(base / "two", env))
        yield one, two


async def one_reply(ws: ClientConnection, message: dict[str, Any]) -> dict[str, Any]:
    await ws.send(json.dumps(message))
    reply: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
    return reply


async def open_socket(user: User, node: RunningServer) -> ClientConnection:
    """Another socket of ``user``'s wallet on ``node``, authenticated."""
    ws = await connect(node.ws_url, additional_headers=user.bearer)
    assert json.loads(await asyncio.wait_for(ws.recv(), WAIT))["type"] == "connected"
    return ws


async def refused_codes(ws: ClientConnection, messages: list[dict[str, Any]]) -> list[str]:
    """Send ``messages`` at once; the error codes among the replies (one reply each)."""
    for message in messages:
        await ws.send(json.dumps(message))
    replies = [json.loads(await asyncio.wait_for(ws.recv(), WAIT)) for _ in messages]
    return [r["code"] for r in replies if r["type"] == "error"]


async def test_hole3_a_spent_message_budget_stays_spent_on_a_new_socket_on_either_worker(
    nodes: tuple[RunningServer, RunningServer],
) -> None:
    one, two = nodes
    (user,) = await signed_in_users(one, 1)
    ws = await open_socket(user, one)
    codes = await refused_codes(ws, [{"type": "heartbeat"}] * (BURST + 5))
    assert codes == ["rate_limited"] * 5  # the burst, then nothing: the budget is spent
    try:
        for node in (two, one, two):  # the other worker, back, the other again
            await ws.close()
            ws = await open_socket(user, node)
            # A fresh budget would answer heartbeat-ack: the debt came along.
            reply = await one_reply(ws, {"type": "heartbeat"})
            assert reply == {**reply, "type": "error", "code": "rate_limited"}
    finally:
        await ws.close()
        await user.close()


async def test_hole3_a_spent_skip_budget_stays_spent_on_the_other_worker(
    nodes: tuple[RunningServer, RunningServer],
) -> None:
    one, two = nodes
    (user,) = await signed_in_users(one, 1)
    ws = await open_socket(user, one)
    skips = 10  # SKIPS_PER_MINUTE's default
    codes = await refused_codes(ws, [{"type": "next"}] * (skips + 1))
    assert codes.count("skip_limited") == 1
    try:
        await ws.close()
        ws = await open_socket(user, two)
        reply = await one_reply(ws, {"type": "next"})
        assert reply == {**reply, "type": "error", "code": "skip_limited"}
    finally:
        await ws.close()
        await user.close()


async def test_hole3_a_second_socket_of_a_wallet_on_the_other_worker_closes_the_first(
    nodes: tuple[RunningServer, RunningServer],
) -> None:
    one, two = nodes
    (user,) = await signed_in_users(one, 1)
    older = await open_socket(user, one)
    try:
        for node in (two, one, one):  # across workers both ways, then on the same one
            newer = await open_socket(user, node)
            await asyncio.wait_for(older.wait_closed(), WAIT)
            assert older.close_code == 4002
            assert older.close_reason == "replaced by a newer connection"
            # The newer socket serves on (nobody closes it in return).
            assert (await one_reply(newer, {"type": "heartbeat"}))["type"] == "heartbeat-ack"
            older = newer
    finally:
        await older.close()
        await user.close()


async def test_hole3_sockets_of_a_wallet_signing_in_at_once_leave_exactly_one(
    nodes: tuple[RunningServer, RunningServer],
) -> None:
    """Whatever the order the workers hear of each other's sockets, the newest wins alone
    (a socket replaced while signing in may close before it hears ``connected``)."""
    (user,) = await signed_in_users(nodes[0], 1)
    try:
        for _ in range(5):
            sockets = await asyncio.gather(
                *(connect(node.ws_url, additional_headers=user.bearer) for node in nodes * 2)
            )
            survivor = await _one_survivor(sockets)
            await survivor.send(json.dumps({"type": "heartbeat"}))
            kinds = [json.loads(await asyncio.wait_for(survivor.recv(), WAIT))["type"]]
            if kinds[0] == "connected":
                kinds.append(json.loads(await asyncio.wait_for(survivor.recv(), WAIT))["type"])
            assert kinds[-1] == "heartbeat-ack", kinds
            await survivor.close()
    finally:
        await user.close()


async def _one_survivor(sockets: list[ClientConnection]) -> ClientConnection:
    """The one socket left open once the others closed (within WAIT), with code 4002."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while sum(ws.close_code is None for ws in sockets) > 1:
        assert loop.time() < deadline, "more than one socket of the wallet stayed open"
        await asyncio.sleep(0.05)
    assert sorted(ws.close_code or 0 for ws in sockets) == [0, 4002, 4002, 4002]
    return next(ws for ws in sockets if ws.close_code is None)


async def test_an_honest_call_with_a_reload_onto_the_other_worker_passes_every_limit(
    nodes: tuple[RunningServer, RunningServer],
) -> None:
    """The budgets carried across workers cost an honest user nothing: ICE bursts, a reload
    that lands on the other worker and resumes, chat."""
    one, two = nodes
    (a,) = await signed_in_users(one, 1)
    (b,) = await signed_in_users(two, 1)
    try:
        await a.connect()
        await b.connect()
        await a.join()
        await b.join()
        found = await a.expect("match-found")
        await b.expect("match-found")
        session = found["sessionId"]
        for i in range(CANDIDATES):
            await a.send({"type": "ice-candidate", "sessionId": session, "data": candidate(i)})
            await b.send({"type": "ice-candidate", "sessionId": session, "data": candidate(i)})
        assert len(await received(b, "ice-candidate", CANDIDATES)) == CANDIDATES
        assert len(await received(a, "ice-candidate", CANDIDATES)) == CANDIDATES
        assert a.ws is not None
        await a.ws.close()  # the page reloads, and the new socket lands on the other node
        await received(b, "peer-disconnected", 1)
        a.ws_url = two.ws_url
        await a.connect()
        await a.send(
            {"type": "reconnect", "sessionId": session, "resumeToken": found["resumeToken"]}
        )
        await received(a, "session-resumed", 1)
        await received(b, "session-resumed", 1)
        for i in range(5):
            await a.send({"type": "chat", "sessionId": session, "text": f"line {i}"})
            await b.send({"type": "chat", "sessionId": session, "text": f"reply {i}"})
        assert [m["text"] for m in await received(b, "chat", 5)][-1] == "line 4"
        assert [m["text"] for m in await received(a, "chat", 5)][-1] == "reply 4"
    finally:
        await a.close()
        await b.close()
