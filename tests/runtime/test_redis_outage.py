"""Redis unreachable: logins and new matches fail closed with a clear error, live sessions on
one worker keep relaying, and everything recovers by itself when Redis returns.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from storage.redis_fixtures import RedisServer
from support.server import free_port, running_server
from support.users import signed_in_users


async def test_an_outage_fails_closed_and_heals(tmp_path: Path) -> None:
    # A probed port: redis-server cannot report a port-0 bind, and restarts on the same port.
    redis = RedisServer(port=free_port(), directory=tmp_path / "redis")
    redis.start()
    try:
        with running_server(tmp_path / "node", {"REDIS_URL": redis.url}) as node:
            a, b, c = await signed_in_users(node, 3)
            await a.connect()
            await b.connect()
            await c.connect()
            await a.join()
            await b.join()
            session = (await a.expect("match-found"))["sessionId"]
            await b.expect("match-found")

            redis.stop()
            # The live session (both sockets on this worker) keeps relaying.
            await a.send({"type": "chat", "sessionId": session, "text": "during the outage"})
            assert (await b.expect("chat"))["text"] == "during the outage"
            # New matches and logins fail closed, with a clear error.
            await c.send({"type": "join-queue", "chainId": 1})
            error = await c.expect("error", timeout=10)
            assert error["code"] == "state_unavailable"
            async with httpx.AsyncClient(base_url=node.http_url) as http:
                nonce = await http.get("/auth/siwe/nonce")
                assert nonce.status_code == 503
                assert nonce.json()["error"]["code"] == "state_unavailable"
                assert (await http.get("/health")).status_code == 503

            redis.start()
            # Recovered by itself: the same process serves logins and matches again.
            async with httpx.AsyncClient(base_url=node.http_url) as http:
                assert (await http.get("/auth/siwe/nonce")).status_code == 200
                assert (await http.get("/health")).status_code == 200
            (d,) = await signed_in_users(node, 1)
            await d.connect()
            await c.join()
            await d.join()
            assert (await c.expect("match-found"))["peerId"] == d.address
            for user in (a, b, c, d):
                await user.close()
    finally:
        redis.stop()


async def test_queued_users_whose_entries_are_lost_are_told_to_rejoin(tmp_path: Path) -> None:
    """A failover can lose acknowledged writes; FLUSHALL stands in for that loss here."""
    # A probed port: redis-server cannot report a port-0 bind.
    redis = RedisServer(port=free_port(), directory=tmp_path / "redis")
    redis.start()
    try:
        with running_server(tmp_path / "node", {"REDIS_URL": redis.url}) as node:
            (a,) = await signed_in_users(node, 1)
            await a.connect()
            await a.join()
            with redis.client() as control:
                control.flushall()
            reset = await a.expect("queue-reset", timeout=10)
            assert reset == {"type": "queue-reset", "reason": "state-lost"}
            await a.join()  # and joining again works
            await a.close()
    finally:
        redis.stop()
