"""Issue 10, holes 5, 6 and 8: bans and logout reach live sockets and tokens; ``websocketUrl``.

Hole 5: ``roulette ban`` closed nothing; the banned user kept relaying. Hole 6: a banned
wallet's refresh token still worked, and with it reports and blocks. Hole 8: ``/config`` took
the host from the request's ``Host`` header; a socket open at logout stayed open.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from conftest import MakeUsers
from support.postgres import fresh_database
from support.server import RunningServer, running_server, server_env
from support.users import User, signed_in_users

ADMIN = {"Authorization": "Bearer test-admin-token-0123456789"}
WITHIN = 1.5
"""A ban reaches a socket within BAN_POLL_SECONDS (0.5) plus a poll; slack for a loaded CI."""


def cli_ban(server: RunningServer, address: str) -> subprocess.CompletedProcess[str]:
    """``roulette ban`` as an operator runs it, on the server's own database."""
    return subprocess.run(
        [sys.executable, "-m", "roulette", "ban", address, "--reason", "abuse"],
        env=server_env(server.port, server.data_dir, None),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def closed_within(user: User, seconds: float) -> int | None:
    assert user.ws is not None
    await asyncio.wait_for(user.ws.wait_closed(), seconds)
    return user.ws.close_code


async def matched(make_users: MakeUsers) -> tuple[User, User, str]:
    a, b = await make_users(2)
    await a.connect()
    await b.connect()
    await a.join()
    await b.join()
    session = (await a.expect("match-found"))["sessionId"]
    await b.expect("match-found")
    return a, b, str(session)


async def test_hole5_a_cli_ban_closes_the_live_socket_within_a_second(
    server: RunningServer, make_users: MakeUsers
) -> None:
    banned, peer, session = await matched(make_users)
    result = await asyncio.to_thread(cli_ban, server, banned.address)
    assert result.returncode == 0, result.stderr
    written = time.monotonic()
    assert await closed_within(banned, 5) == 1008
    assert time.monotonic() - written < WITHIN
    assert (await peer.expect("peer-disconnected"))["sessionId"] == session
    refused = await banned.http.post("/auth/refresh")
    assert refused.status_code in (401, 403)


async def test_hole6_a_banned_wallets_refresh_reports_and_blocks_are_refused(
    server: RunningServer, make_users: MakeUsers
) -> None:
    banned, other = await make_users(2)
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        made = await http.post(
            "/admin/bans", json={"address": banned.address, "reason": "spam"}, headers=ADMIN
        )
        assert made.status_code == 201
    refresh = await banned.http.post("/auth/refresh")
    assert refresh.status_code in (401, 403), refresh.text
    report = await banned.http.post(
        "/reports", json={"targetAddr": other.address, "reason": "spam"}, headers=banned.bearer
    )
    assert report.status_code in (401, 403), report.text
    block = await banned.http.post(
        "/blocks", json={"targetAddr": other.address}, headers=banned.bearer
    )
    assert block.status_code in (401, 403), block.text


async def test_hole6_a_cli_ban_revokes_the_token_families(
    server: RunningServer, make_users: MakeUsers
) -> None:
    (banned,) = await make_users(1)
    assert (await banned.http.get("/auth/me", headers=banned.bearer)).status_code == 200
    result = await asyncio.to_thread(cli_ban, server, banned.address)
    assert result.returncode == 0, result.stderr
    assert (await banned.http.get("/auth/me", headers=banned.bearer)).status_code in (401, 403)
    assert (await banned.http.post("/auth/refresh")).status_code in (401, 403)


async def test_hole8_logout_closes_the_live_socket(make_users: MakeUsers) -> None:
    user, peer, _ = await matched(make_users)
    out = await user.http.post("/auth/logout", headers=user.bearer)
    assert out.status_code == 200
    assert await closed_within(user, WITHIN) == 4001
    await peer.expect("peer-disconnected")


async def test_hole8_websocket_url_never_comes_from_a_foreign_host(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        forged = (await http.get("/config", headers={"Host": "evil.example"})).json()
        honest = (await http.get("/config")).json()
    assert "evil.example" not in forged["websocketUrl"]
    assert forged["websocketUrl"] == server.ws_url  # the configured listener
    assert honest["websocketUrl"] == server.ws_url


# ---------------------------------------------------------------- fleet-wide, two nodes


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, ...]]:
    """Two nodes sharing only a PostgreSQL database (no Redis, no bus) and the JWT keys."""
    with fresh_database("roulette_bans") as name:
        env = {
            "DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}",
            "ADMIN_TOKEN": ADMIN["Authorization"][7:],
            "JWT_ACCESS_SECRET": "access-secret-shared-by-the-fleet",
            "JWT_REFRESH_SECRET": "refresh-secret-shared-by-the-fleet",
        }
        root = tmp_path_factory.mktemp("fleet")
        with running_server(root / "one", env) as one, running_server(root / "two", env) as two:
            yield one, two


@pytest.mark.postgres
async def test_hole5_a_ban_on_one_node_closes_the_socket_on_another_within_a_second(
    two_nodes: tuple[RunningServer, RunningServer],
) -> None:
    """The poll alone carries the ban: there is no bus between the two nodes."""
    one, two = two_nodes
    (user,) = await signed_in_users(two, 1)
    await user.connect()
    async with httpx.AsyncClient(base_url=one.http_url) as http:
        made = await http.post(
            "/admin/bans", json={"address": user.address, "reason": "spam"}, headers=ADMIN
        )
    assert made.status_code == 201
    written = time.monotonic()
    assert await closed_within(user, 5) == 1008
    assert time.monotonic() - written < WITHIN
    await user.close()


@pytest.mark.postgres
async def test_hole8_a_logout_on_one_node_closes_the_socket_on_another_within_a_second(
    two_nodes: tuple[RunningServer, RunningServer],
) -> None:
    one, two = two_nodes
    (user,) = await signed_in_users(two, 1)
    await user.connect()
    async with httpx.AsyncClient(base_url=one.http_url) as http:
        out = await http.post("/auth/logout", headers=user.bearer)
    assert out.status_code == 200
    written = time.monotonic()
    assert await closed_within(user, 5) == 4001
    assert time.monotonic() - written < WITHIN
    await user.close()
