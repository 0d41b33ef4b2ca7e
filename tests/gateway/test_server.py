"""The handshake checks and per-socket limits of the gateway, against a real server."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from picows import WSFrame, WSListener, WSTransport, ws_connect
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin

from conftest import MakeUsers
from support.eventually import eventually
from support.server import RunningServer, running_server
from support.users import signed_in_users


async def test_a_handshake_without_a_token_is_refused_with_401(server: RunningServer) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(server.ws_url):
            pass
    assert refused.value.response.status_code == 401


async def test_a_forged_token_is_refused_with_401(server: RunningServer) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(server.ws_url, additional_headers={"Authorization": "Bearer a.b.c"}):
            pass
    assert refused.value.response.status_code == 401


async def test_a_foreign_origin_is_refused_with_403(make_users: MakeUsers) -> None:
    (user,) = await make_users(1)
    with pytest.raises(InvalidStatus) as refused:
        async with connect(
            user.ws_url, additional_headers=user.bearer, origin=Origin("http://evil.example")
        ):
            pass
    assert refused.value.response.status_code == 403


async def test_the_service_origin_and_the_cookie_are_accepted(make_users: MakeUsers) -> None:
    (user,) = await make_users(1)
    cookie = {"Cookie": f"accessToken={user.access_token}"}
    async with connect(user.ws_url, additional_headers=cookie, origin=user.http_url) as ws:  # type: ignore[arg-type]
        assert json.loads(await ws.recv()) == {"type": "connected", "address": user.address}


async def test_a_message_over_64_kib_closes_with_1009(make_users: MakeUsers) -> None:
    (user,) = await make_users(1)
    ws = await user.connect(max_size=None)
    at_limit = json.dumps({"type": "heartbeat", "pad": "x" * (65_536 - 32)})
    assert len(at_limit) == 65_536
    await ws.send(at_limit)
    await user.expect("heartbeat-ack")
    await ws.send(json.dumps({"type": "heartbeat", "pad": "x" * 65_536}))
    with pytest.raises(ConnectionClosed):
        await user.recv()
    assert ws.close_code == 1009


async def test_a_fragmented_message_over_64_kib_closes_with_1009(make_users: MakeUsers) -> None:
    (user,) = await make_users(1)
    ws = await user.connect()
    await ws.send(iter(["x" * 40_000, "y" * 40_000]))
    with pytest.raises(ConnectionClosed):
        await user.recv()
    assert ws.close_code == 1009


async def test_bursts_pass_and_sustained_abuse_closes_with_1008(make_users: MakeUsers) -> None:
    (user,) = await make_users(1)
    ws = await user.connect()
    for _ in range(60):
        await user.send({"type": "heartbeat"})
    for _ in range(60):
        assert (await user.recv())["type"] == "heartbeat-ack"
    codes: list[str] = []
    with pytest.raises(ConnectionClosed):
        for _ in range(2000):
            await user.send({"type": "heartbeat"})
        while True:
            codes.append((await user.recv(timeout=3))["type"])
    assert ws.close_code == 1008
    assert "error" in codes


async def test_a_newer_socket_of_the_same_wallet_replaces_the_older(make_users: MakeUsers) -> None:
    (user,) = await make_users(1)
    old = await user.connect()
    async with connect(user.ws_url, additional_headers=user.bearer) as new:
        assert json.loads(await new.recv())["type"] == "connected"
        await asyncio.wait_for(old.wait_closed(), 3)
        assert old.close_code == 4002


async def test_a_socket_that_never_joins_is_closed_after_the_idle_timeout(tmp_path: Path) -> None:
    with running_server(tmp_path, {"IDLE_TIMEOUT_SECONDS": "0.5"}) as server:
        (user,) = await signed_in_users(server, 1)
        ws = await user.connect()
        await asyncio.wait_for(ws.wait_closed(), 5)
        assert ws.close_code == 1001
        await user.close()


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def test_a_reader_that_never_reads_is_dropped_and_memory_stays_flat(tmp_path: Path) -> None:
    """The slow reader's outbound buffer is bounded: the server drops it, memory stays flat."""
    env = {
        "WS_RATE_BURST": "100000",
        "WS_RATE_PER_SECOND": "100000",
        "WS_OUTBOUND_BUFFER_BYTES": "262144",
    }
    with running_server(tmp_path, env) as server:
        a, b = await signed_in_users(server, 2)
        await a.connect()
        await b.connect(max_queue=1, max_size=None)
        await a.join()
        await b.join()
        session = (await a.expect("match-found"))["sessionId"]
        before = _rss_kib(server.process.pid)
        payload = {"type": "ice-candidate", "sessionId": session, "data": {"c": "x" * 60_000}}
        for _ in range(300):  # 18 MB, over every buffer on the way (kernel and ours)
            await a.send(payload)

        async def slow_reader_dropped() -> None:
            async with httpx.AsyncClient() as http:
                metrics = (await http.get(f"{server.http_url}/metrics")).text
            assert "roulette_ws_slow_readers_total 1.0" in metrics

        await eventually(slow_reader_dropped)
        assert _rss_kib(server.process.pid) - before < 40_000
        await a.close()
        await b.close()


async def test_a_full_worker_refuses_new_handshakes_with_503(tmp_path: Path) -> None:
    """Each worker caps its sockets below its open-file limit (here: 2)."""
    with running_server(tmp_path, {"MAX_CONNECTIONS": "2"}) as server:
        users = await signed_in_users(server, 3)
        await users[0].connect()
        await users[1].connect()
        with pytest.raises(InvalidStatus) as refused:
            await users[2].connect()
        assert refused.value.response.status_code == 503
        await users[0].close()

        async def connects() -> None:
            try:
                await users[2].connect()
            except InvalidStatus as refused_again:
                raise AssertionError("the slot is not free yet") from refused_again

        await eventually(connects)  # a freed slot is usable again (once it is freed)
        for user in users:
            await user.close()


class _Silent(WSListener):
    """A client that never answers pings (picows with auto-pong off)."""

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        pass


async def test_sockets_are_pinged_and_the_silent_ones_dropped(tmp_path: Path) -> None:
    with running_server(tmp_path, {"WS_PING_SECONDS": "0.4"}) as server:
        polite, mute = await signed_in_users(server, 2)
        ws = await polite.connect()  # websockets answers pings by itself
        transport, _ = await ws_connect(
            _Silent, server.ws_url, extra_headers=mute.bearer, enable_auto_pong=False
        )
        await asyncio.wait_for(transport.wait_disconnected(), 5)  # dropped after ~1 s of silence
        await asyncio.sleep(1.5)
        await polite.send({"type": "heartbeat"})
        assert (await polite.expect("heartbeat-ack"))["type"] == "heartbeat-ack"
        assert ws.state.name == "OPEN"
        for user in (polite, mute):
            await user.close()
