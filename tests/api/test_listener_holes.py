"""Issue 10, hole 4 (the HTTP port kept unfinished requests for minutes) and hole 7's second
half (429 and 503 without ``Retry-After``), against a real server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from websockets.exceptions import InvalidStatus

from roulette.api.app import RetryAfter
from support.server import RunningServer, running_server
from support.users import signed_in_users

DEADLINE = 2.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server with a 2 s request deadline and a sign-in limit of 2, then 1 per 4 s."""
    env = {
        "HTTP_REQUEST_TIMEOUT_SECONDS": str(DEADLINE),
        "AUTH_RATE_BURST": "2",
        "AUTH_RATE_PER_SECOND": "0.25",
    }
    with running_server(tmp_path_factory.mktemp("guarded"), env) as server:
        yield server


async def _seconds_until_closed(reader: asyncio.StreamReader, limit: float) -> tuple[float, bytes]:
    started, received = time.monotonic(), b""
    while chunk := await asyncio.wait_for(reader.read(4096), limit):
        received += chunk
    return time.monotonic() - started, received


async def test_hole4_a_slowloris_client_is_cut_off_at_the_request_deadline(
    server: RunningServer,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    started = time.monotonic()

    async def trickle() -> None:  # one header byte per second, never finishing
        writer.write(b"GET /health HTTP/1.1\r\n")
        for byte in b"X-Slow: " + b"a" * 100:
            await asyncio.sleep(1.0)
            writer.write(bytes([byte]))

    slow = asyncio.create_task(trickle())
    _, received = await _seconds_until_closed(reader, 10)
    closed_after = time.monotonic() - started
    slow.cancel()
    writer.close()
    assert closed_after < DEADLINE + 1.5, f"still open after {closed_after:.1f} s"
    assert received.startswith(b"HTTP/1.1 408")


async def test_hole4_a_connection_that_sends_nothing_is_closed(server: RunningServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    seconds, _ = await _seconds_until_closed(reader, 10)
    writer.close()
    assert seconds < DEADLINE + 1.5
    # Honest clients are not affected: keep-alive requests, each within the deadline.
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        for _ in range(3):
            assert (await http.get("/health")).status_code == 200
            await asyncio.sleep(DEADLINE / 2)
        assert (await http.get("/config")).status_code == 200


async def test_an_unfinished_request_head_over_16_kib_is_refused(
    server: RunningServer,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"GET /health HTTP/1.1\r\nX-Big: " + b"a" * 20_000)
    seconds, received = await _seconds_until_closed(reader, 5)
    writer.close()
    assert received.startswith(b"HTTP/1.1 400")
    assert seconds < 2


async def test_hole7_a_rate_limited_sign_in_says_when_to_retry(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        for _ in range(2):
            assert (await http.get("/auth/siwe/nonce")).status_code == 200
        limited = await http.get("/auth/siwe/nonce")
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 4  # one unit at 0.25/s


async def test_hole7_a_full_gateway_503_says_when_to_retry(tmp_path: Path) -> None:
    with running_server(tmp_path, {"MAX_CONNECTIONS": "1"}) as server:
        first, second = await signed_in_users(server, 2)
        await first.connect()
        with pytest.raises(InvalidStatus) as refused:
            await second.connect()
        assert refused.value.response.status_code == 503
        assert int(refused.value.response.headers["Retry-After"]) >= 1
        await first.close()
        await second.close()


async def test_hole7_any_other_429_or_503_gets_a_default_retry_after() -> None:
    async def unhealthy(request: Request) -> Response:
        return JSONResponse({"status": "degraded"}, 503)

    async def precise(request: Request) -> Response:
        return JSONResponse({}, 429, headers={"Retry-After": "7"})

    app = RetryAfter(Starlette(routes=[Route("/h", unhealthy), Route("/p", precise)]))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        assert (await http.get("/h")).headers["Retry-After"] == "5"
        assert (await http.get("/p")).headers["Retry-After"] == "7"


CAP = 4


async def _slow_connection(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection that starts a request head and never finishes it (slowloris)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /health HTTP/1.1\r\nX-Slow: a")
    await writer.drain()
    return reader, writer


async def test_hole4_unfinished_requests_are_capped_and_an_honest_one_is_served(
    tmp_path: Path,
) -> None:
    env = {"HTTP_MAX_INCOMPLETE_REQUESTS": str(CAP), "HTTP_REQUEST_TIMEOUT_SECONDS": "60"}
    with running_server(tmp_path, env) as server:
        first = [await _slow_connection(server.port) for _ in range(CAP)]
        # The cap is full of slow clients; an honest request is still served (the oldest
        # slow connection makes room) ...
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            assert (await http.get("/health")).status_code == 200
        seconds, received = await _seconds_until_closed(first[0][0], 5)
        assert received.startswith(b"HTTP/1.1 503"), received
        assert b"Retry-After: 1" in received
        # ... and however many more come, no more than the cap wait at once: each new one
        # closes the oldest waiting, within milliseconds rather than the 60 s deadline.
        second = [await _slow_connection(server.port) for _ in range(CAP)]
        for reader, _ in first[1:]:
            seconds, received = await _seconds_until_closed(reader, 5)
            assert received.startswith(b"HTTP/1.1 503")
            assert seconds < 5
        for reader, _ in second:
            assert not reader.at_eof()
        for _, writer in first + second:
            writer.close()
