"""Regression tests against a real ``roulette serve`` for defects of issue 9.

1. A logged-out user's old access token passes the handshake (it checks only the JWT); a
   ``join-queue`` sent at once must never reach the queue while the family is being checked.
2. With ``RECONNECT_GRACE_SECONDS=0`` the peer of a dropped user must get ``session-ended``
   and may join again at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from support.server import RunningServer, running_server
from support.users import User, signed_in_users

REVOKED_TRIES = 100


@pytest.fixture(scope="module")
def no_grace_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    env = {"RECONNECT_GRACE_SECONDS": "0"}
    with running_server(tmp_path_factory.mktemp("nograce"), env) as server:
        yield server


async def queued(observer: User) -> int:
    stats = await observer.http.get("/api/webrtc/stats", headers=observer.bearer)
    stats.raise_for_status()
    count: int = stats.json()["queued"]
    return count


async def join_with_revoked_token(server: RunningServer) -> list[dict[str, object]]:
    """Sign in, log out, then open a socket with the old token and join at once."""
    (user,) = await signed_in_users(server, 1)
    headers = user.bearer
    try:
        (await user.http.post("/auth/logout")).raise_for_status()
        join = {"type": "join-queue", "chainId": 1, "preferences": {"interests": []}}
        received: list[dict[str, object]] = []
        async with connect(server.ws_url, additional_headers=headers) as ws:
            try:
                await ws.send(json.dumps(join))
                await ws.send(json.dumps(join))
                while True:
                    received.append(json.loads(await ws.recv()))
            except ConnectionClosed:
                pass
            assert ws.close_code == 4001, (ws.close_code, received)
        return received
    finally:
        await user.http.aclose()


@pytest.mark.timeout(300)
async def test_a_revoked_token_racing_a_join_never_leaves_a_queue_entry(
    server: RunningServer,
) -> None:
    (observer,) = await signed_in_users(server, 1)
    try:
        for attempt in range(REVOKED_TRIES):
            received = await join_with_revoked_token(server)
            assert received == [], f"attempt {attempt}: the revoked socket was told {received}"
            assert await queued(observer) == 0, f"attempt {attempt}: a ghost entry is queued"
    finally:
        await observer.close()


async def test_an_honest_user_joining_before_connected_is_queued_after_authentication(
    server: RunningServer,
) -> None:
    (user,) = await signed_in_users(server, 1)
    try:
        user.ws = await connect(server.ws_url, additional_headers=user.bearer)
        await user.send({"type": "join-queue", "chainId": 1, "preferences": {"interests": []}})
        await user.expect("connected")
        assert (await user.expect("queue-joined"))["position"] == 1
    finally:
        await user.close()


async def test_with_no_grace_period_the_peer_gets_session_ended_and_may_join_again(
    no_grace_server: RunningServer,
) -> None:
    a, b, c = await signed_in_users(no_grace_server, 3)
    try:
        await a.connect()
        await b.connect()
        await a.join()
        await b.join()
        found = await a.expect("match-found")
        await b.expect("match-found")
        assert a.ws is not None
        await a.ws.close()
        ended = await b.expect("session-ended")
        assert ended == {
            "type": "session-ended",
            "sessionId": found["sessionId"],
            "reason": "peer-disconnected",
        }
        assert (await b.join())["position"] == 1
        await c.connect()
        await c.join()
        assert (await b.expect("match-found"))["peerId"] == c.address
    finally:
        for user in (a, b, c):
            await user.close()
