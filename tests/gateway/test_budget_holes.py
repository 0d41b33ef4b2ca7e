"""Issue 10, hole 3: message budgets per wallet across reconnects; handshake limits.

The per-socket limit used to start afresh with every socket: open, ``reconnect``, burst, close,
again, delivered ~2,100 messages/s to the peer. And one token could open 2,000 sockets in 6 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus

from support.raw_ws import open_raw
from support.server import running_server
from support.users import signed_in_users

pytestmark = pytest.mark.usefixtures("raw_cleanup")

BURST, PER_SECOND = 20, 5


async def test_hole3_the_message_budget_survives_reconnects_and_resumes(tmp_path: Path) -> None:
    env = {
        "WS_RATE_BURST": str(BURST),
        "WS_RATE_PER_SECOND": str(PER_SECOND),
        "WS_HANDSHAKE_WALLET_BURST": "1000",  # only the message budget is under test here
    }
    with running_server(tmp_path, env) as server:
        attacker, victim = await signed_in_users(server, 2)
        await attacker.connect()
        await victim.connect()
        await attacker.join()
        await victim.join()
        found = await attacker.expect("match-found")
        await victim.expect("match-found")
        session, token = found["sessionId"], found["resumeToken"]
        started = time.monotonic()
        for _ in range(6):  # the loop of the issue: new socket, resume, burst, close
            assert attacker.ws is not None
            await attacker.ws.close()
            await attacker.connect()
            await attacker.send({"type": "reconnect", "sessionId": session, "resumeToken": token})
            if (await attacker.recv())["type"] != "session-resumed":
                continue  # the reconnect itself was over the wallet's budget: refused
            for i in range(BURST):
                await attacker.send({"type": "chat", "sessionId": session, "text": f"spam {i}"})
        await asyncio.sleep(0.5)
        elapsed = time.monotonic() - started
        chats = 0
        with contextlib.suppress(TimeoutError):
            while True:
                if (await victim.recv(timeout=0.5))["type"] == "chat":
                    chats += 1
        allowed = BURST + PER_SECOND * elapsed
        assert chats <= allowed + 2, f"{chats} chats in {elapsed:.1f}s, budget {allowed:.0f}"
        await attacker.close()
        await victim.close()


async def test_hole3_handshakes_per_wallet_are_limited_with_429_and_retry_after(
    tmp_path: Path,
) -> None:
    env = {"WS_HANDSHAKE_WALLET_BURST": "3", "WS_HANDSHAKE_WALLET_PER_SECOND": "0.2"}
    with running_server(tmp_path, env) as server:
        looper, other = await signed_in_users(server, 2)
        for _ in range(3):
            await looper.connect()
            assert looper.ws is not None
            await looper.ws.close()
        with pytest.raises(InvalidStatus) as refused:
            await looper.connect()
        response = refused.value.response
        assert response.status_code == 429
        assert 1 <= int(response.headers["Retry-After"]) <= 5
        await other.connect()  # another wallet is not affected
        await looper.close()
        await other.close()


async def test_hole3_handshakes_per_ip_are_limited_with_1013(tmp_path: Path) -> None:
    env = {"WS_HANDSHAKE_IP_BURST": "4", "WS_HANDSHAKE_IP_PER_SECOND": "0.01"}
    with running_server(tmp_path, env) as server:
        users = await signed_in_users(server, 5)
        for user in users[:4]:
            await user.connect()
        raw = await open_raw(server.ws_url, users[4].bearer, connected=False)
        assert await raw.close_code_within() == 1013
        for user in users:
            await user.close()


async def test_hole3_a_forged_forwarded_for_does_not_buy_a_fresh_handshake_budget(
    tmp_path: Path,
) -> None:
    """From an untrusted peer, each new ``X-Forwarded-For`` value is ignored (issue 10, 11)."""
    env = {"WS_HANDSHAKE_IP_BURST": "2", "WS_HANDSHAKE_IP_PER_SECOND": "0.01"}
    with running_server(tmp_path, env) as server:
        users = await signed_in_users(server, 3)
        for n, user in enumerate(users[:2]):
            forged = {**user.bearer, "X-Forwarded-For": f"203.0.113.{n}"}
            await open_raw(server.ws_url, forged)
        forged = {**users[2].bearer, "X-Forwarded-For": "203.0.113.99"}
        raw = await open_raw(server.ws_url, forged, connected=False)
        assert await raw.close_code_within() == 1013
        for user in users:
            await user.close()


async def test_hole3_behind_a_trusted_proxy_each_client_has_its_own_handshake_budget(
    tmp_path: Path,
) -> None:
    """With ``TRUSTED_PROXIES`` naming the balancer, the forwarded client is what counts."""
    env = {
        "WS_HANDSHAKE_IP_BURST": "1",
        "WS_HANDSHAKE_IP_PER_SECOND": "0.01",
        "TRUSTED_PROXIES": "127.0.0.0/8",
    }
    with running_server(tmp_path, env) as server:
        users = await signed_in_users(server, 3)
        for n, user in enumerate(users[:2]):
            await open_raw(server.ws_url, {**user.bearer, "X-Forwarded-For": f"203.0.113.{n}"})
        again = {**users[2].bearer, "X-Forwarded-For": "203.0.113.0"}
        raw = await open_raw(server.ws_url, again, connected=False)
        assert await raw.close_code_within() == 1013
        for user in users:
            await user.close()
