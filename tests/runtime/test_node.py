"""The node as a process: ordered shutdown, restarts that keep sign-ins, PostgreSQL mode."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support.postgres import fresh_database
from support.server import running_server
from support.users import signed_in_users


async def test_sigterm_closes_sockets_with_1001_and_exits_cleanly(tmp_path: Path) -> None:
    with running_server(tmp_path) as server:
        users = await signed_in_users(server, 2)
        for user in users:
            await user.connect()
        await users[0].join()
        server.process.send_signal(signal.SIGTERM)
        for user in users:
            assert user.ws is not None
            await asyncio.wait_for(user.ws.wait_closed(), 10)
            assert user.ws.close_code == 1001
        assert await asyncio.to_thread(server.process.wait, 15) == 0
        for user in users:
            await user.close()


async def test_a_restart_keeps_everyone_signed_in(tmp_path: Path) -> None:
    """Embedded mode generates JWT secrets once and keeps them in the data directory."""
    with running_server(tmp_path) as server:
        (user,) = await signed_in_users(server, 1)
        token = user.access_token
        await user.close()
    assert (tmp_path / "jwt-secrets.json").stat().st_mode & 0o777 == 0o600
    with running_server(tmp_path) as again:
        async with httpx.AsyncClient(base_url=again.http_url) as http:
            me = await http.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database of the machine's server, dropped afterwards."""
    with fresh_database("roulette_node") as name:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


@pytest.mark.postgres
async def test_the_whole_contract_path_runs_on_postgresql(
    tmp_path: Path, postgres_url: str
) -> None:
    with running_server(tmp_path, {"DATABASE_URL": postgres_url}) as server:
        a, b = await signed_in_users(server, 2)
        assert (await a.http.post("/blocks", json={"targetAddr": b.address})).status_code == 201
        assert (await a.http.get("/blocks")).json()["total"] == 1
        report = await a.http.post("/reports", json={"targetAddr": b.address, "reason": "spam"})
        assert report.status_code == 201
        assert (await a.http.post("/auth/refresh")).status_code == 200
        await a.connect()
        await a.join()
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            assert (await http.get("/health")).json()["checks"]["database"] == "ok"
        for user in (a, b):
            await user.close()
    # The data outlived the process: a new node on the same database still has the block.
    with running_server(tmp_path / "second", {"DATABASE_URL": postgres_url}) as server:
        (c,) = await signed_in_users(server, 1)
        c.account = a.account  # the same wallet signs in again
        await c.sign_in()
        assert (await c.http.get("/blocks")).json()["total"] == 1
        await c.close()
