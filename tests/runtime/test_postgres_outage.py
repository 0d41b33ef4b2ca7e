"""PostgreSQL down or restarted under a live ``roulette serve`` (issue 9, Deliver 5): every
answer that needs the database is 503 ``database_unavailable`` with ``Retry-After`` — over HTTP
an error body, on a socket an ``error`` message or close 1013 — never a 500 or
``internal_error``; and a restart the node did not see costs no error at all (the pool checks a
connection before handing it out, so it heals at once).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from support.eventually import eventually
from support.outage import assert_no_crash, assert_unavailable
from support.postgres import ThrowawayPostgres, throwaway_postgres
from support.server import RunningServer, running_server
from support.users import User, signed_in_users

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


TRY_AGAIN_LATER = 1013
"""RFC 6455 §7.4.1 via the IANA registry: the server cannot serve the socket right now."""


@pytest.fixture(scope="module")
def database() -> Iterator[ThrowawayPostgres]:
    with throwaway_postgres() as running:
        yield running


@pytest.fixture(scope="module")
def node(
    database: ThrowawayPostgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    data_dir: Path = tmp_path_factory.mktemp("node")
    # Only the test's requests use the pool: the ban poll (every 0.5 s by default) would meet a
    # dead connection first and have the pool replaced before the first request after a
    # restart, hiding whether a request heals the pool by itself.
    env = {"DATABASE_URL": database.url, "BAN_POLL_SECONDS": "3600", "LB_DRAIN_SECONDS": "0.5"}
    with running_server(data_dir, env) as running:
        yield running


async def test_a_postgres_outage_answers_503_never_500(
    database: ThrowawayPostgres, node: RunningServer
) -> None:
    a, b = await signed_in_users(node, 2)
    await a.connect()
    database.stop()
    try:
        message, signature = await b.sign_in_message()  # nonces live in memory, not SQL
        answers = [
            await a.http.get("/auth/me"),
            await a.http.post("/auth/refresh"),
            await a.http.post("/reports", json={"targetAddr": b.address, "reason": "spam"}),
            await a.http.post("/blocks", json={"targetAddr": b.address}),
            await a.http.get("/blocks"),
            await a.http.delete(f"/blocks/{b.address}"),
            await b.http.post(
                "/auth/siwe/verify", json={"message": message, "signature": signature}
            ),
        ]
        for answer in answers:
            assert_unavailable(answer, "database_unavailable")
        # An operation on a live socket: an error, and the socket stays open.
        await a.send({"type": "join-queue", "chainId": 1})
        assert (await a.expect("error", timeout=10))["code"] == "database_unavailable"
        await a.send({"type": "heartbeat"})
        await a.expect("heartbeat-ack")
        # A new socket cannot be authenticated: closed with "try again later".
        async with connect(node.ws_url, additional_headers=b.bearer) as socket:
            with pytest.raises(ConnectionClosed) as closed:
                await socket.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == TRY_AGAIN_LATER
    finally:
        database.start()

    async def healed() -> None:
        assert (await a.http.get("/auth/me")).status_code == 200

    await eventually(healed, timeout=15)
    await a.join()
    await b.connect()
    await b.join()
    assert (await a.expect("match-found"))["peerId"] == b.address
    await a.close()
    await b.close()
    assert_no_crash(node)


async def test_a_postgres_restart_the_node_did_not_see_costs_no_error(
    database: ThrowawayPostgres, node: RunningServer
) -> None:
    (a,) = await signed_in_users(node, 1)
    await a.connect()
    # Every pooled connection the node holds dies with the restart.
    assert (await a.http.get("/blocks")).status_code == 200
    database.stop()
    database.start()
    for answer in (
        await a.http.get("/auth/me"),
        await a.http.post("/auth/refresh"),
        await a.http.get("/blocks"),
    ):
        assert answer.status_code == 200, answer.text
    await a.join()
    (b,) = await signed_in_users(node, 1)
    await b.connect()
    await close_all(a, b)
    assert_no_crash(node)


async def close_all(*users: User) -> None:
    for user in users:
        await user.close()
