"""Issue 10, hole 3, fleet-wide: on ``roulette cluster`` (two workers, one real Redis) a
wallet's spent budgets stay spent on its next socket whichever worker takes it, and a wallet
holds one live socket in the whole fleet, so it cannot hold N budgets on N workers.

The kernel spreads sockets over the workers (SO_REUSEPORT); the handshake's
``X-Roulette-Worker`` says which took each, and the tests reconnect until both cases — the
same worker and the other one — have been seen.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from cluster.running import RunningCluster, running_cluster
from gateway.test_honest_limits import CANDIDATES, candidate, received
from storage.redis_fixtures import running_server as running_redis
from support.users import User, signed_in_users

BURST, PER_SECOND = 60, 0.05
"""The default burst; a refill so slow (one message per 20 s) that no debt is paid off
while a test runs, so a fresh budget would show as an answered message."""
WAIT = 20.0
"""Seconds a reply or a close may take: generous, the notices cross Redis on a loaded host."""
TRIES = 16
"""Reconnections at most until both workers took one (each lands on either: 2**-16 to miss)."""

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCluster]:
    base: Path = tmp_path_factory.mktemp("budgets")
    with running_redis(base / "redis") as redis:
        env = {
            "CLUSTER_WORKERS": "2",
            "REDIS_URL": redis.url,
            "AUTH_RATE_BURST": "100000",
            "WS_HANDSHAKE_WALLET_BURST": "1000",  # the message budgets are under test here
            "WS_RATE_BURST": str(BURST),
            "WS_RATE_PER_SECOND": str(PER_SECOND),
        }
        with running_cluster(base, env) as cluster:
            yield cluster


async def one_reply(ws: ClientConnection, message: dict[str, Any]) -> dict[str, Any]:
    await ws.send(json.dumps(message))
    reply: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
    return reply


async def open_socket(user: User) -> tuple[ClientConnection, str]:
    """Another socket of ``user``'s wallet, authenticated; and the worker that took it."""
    ws = await connect(user.ws_url, additional_headers=user.bearer)
    assert json.loads(await asyncio.wait_for(ws.recv(), WAIT))["type"] == "connected"
    assert ws.response is not None
    return ws, str(ws.response.headers["X-Roulette-Worker"])


async def refused_codes(ws: ClientConnection, messages: list[dict[str, Any]]) -> list[str]:
    """Send ``messages`` at once; the error codes among the replies (one reply each)."""
    for message in messages:
        await ws.send(json.dumps(message))
    replies = [json.loads(await asyncio.wait_for(ws.recv(), WAIT)) for _ in messages]
    return [r["code"] for r in replies if r["type"] == "error"]


async def test_hole3_a_spent_message_budget_stays_spent_on_a_new_socket_on_either_worker(
    two_workers: RunningCluster,
) -> None:
    (user,) = await signed_in_users(two_workers, 1)
    ws, first = await open_socket(user)
    codes = await refused_codes(ws, [{"type": "heartbeat"}] * (BURST + 5))
    assert codes == ["rate_limited"] * 5  # the burst, then nothing: the budget is spent
    workers = {first}
    try:
        for _ in range(TRIES):
            await ws.close()
            ws, worker = await open_socket(user)
            workers.add(worker)
            # A fresh budget would answer heartbeat-ack: the debt came along.
            reply = await one_reply(ws, {"type": "heartbeat"})
            assert reply == {**reply, "type": "error", "code": "rate_limited"}, (worker, first)
            if len(workers) == 2 and worker == first:
                break  # seen on the other worker and on the same one
        assert len(workers) == 2, "every socket landed on one worker"
    finally:
        await ws.close()
        await user.close()


async def test_hole3_a_spent_skip_budget_stays_spent_on_the_other_worker(
    two_workers: RunningCluster,
) -> None:
    (user,) = await signed_in_users(two_workers, 1)
    ws, first = await open_socket(user)
    skips = 10  # SKIPS_PER_MINUTE's default
    codes = await refused_codes(ws, [{"type": "next"}] * (skips + 1))
    assert codes.count("skip_limited") == 1
    try:
        for _ in range(TRIES):
            await ws.close()
            ws, worker = await open_socket(user)
            reply = await one_reply(ws, {"type": "next"})
            assert reply == {**reply, "type": "error", "code": "skip_limited"}
            if worker != first:
                break
        else:
            pytest.fail("every socket landed on one worker")
    finally:
        await ws.close()
        await user.close()


async def test_hole3_a_second_socket_of_a_wallet_on_the_other_worker_closes_the_first(
    two_workers: RunningCluster,
) -> None:
    (user,) = await signed_in_users(two_workers, 1)
    older, where = await open_socket(user)
    crossed = False
    try:
        for _ in range(TRIES):
            newer, worker = await open_socket(user)
            await asyncio.wait_for(older.wait_closed(), WAIT)
            assert older.close_code == 4002, (where, worker, older.close_code)
            assert older.close_reason == "replaced by a newer connection"
            # The newer socket serves on (nobody closes it in return).
            assert (await one_reply(newer, {"type": "heartbeat"}))["type"] == "heartbeat-ack"
            crossed |= worker != where
            older, where = newer, worker
            if crossed:
                break
        assert crossed, "every socket landed on one worker"
    finally:
        await older.close()
        await user.close()


async def test_hole3_sockets_of_a_wallet_signing_in_at_once_leave_exactly_one(
    two_workers: RunningCluster,
) -> None:
    """Whatever the order the workers hear of each other's sockets, the newest wins alone
    (a socket replaced while signing in may close before it hears ``connected``)."""
    (user,) = await signed_in_users(two_workers, 1)
    try:
        for _ in range(5):
            sockets = await asyncio.gather(
                *(connect(user.ws_url, additional_headers=user.bearer) for _ in range(4))
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
    two_workers: RunningCluster,
) -> None:
    """The budgets carried across workers cost an honest user nothing: ICE bursts, a reload
    that lands on the other worker and resumes, chat."""
    a, b = await signed_in_users(two_workers, 2)
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
        before = a.worker
        for _ in range(TRIES):  # reload until the new socket is on the other worker
            assert a.ws is not None
            await a.ws.close()
            await received(b, "peer-disconnected", 1)
            await a.connect()
            resume = {"type": "reconnect", "sessionId": session}
            await a.send({**resume, "resumeToken": found["resumeToken"]})
            await received(a, "session-resumed", 1)
            await received(b, "session-resumed", 1)
            if a.worker != before:
                break
        assert a.worker != before, "every socket landed on one worker"
        for i in range(5):
            await a.send({"type": "chat", "sessionId": session, "text": f"line {i}"})
            await b.send({"type": "chat", "sessionId": session, "text": f"reply {i}"})
        assert [m["text"] for m in await received(b, "chat", 5)][-1] == "line 4"
        assert [m["text"] for m in await received(a, "chat", 5)][-1] == "reply 4"
    finally:
        await a.close()
        await b.close()
