"""Issue 10, hole 4 (the HTTP port kept unfinished requests for minutes) and hole 7's second
half (429 and 503 without ``Retry-After``), against a real server."""

from __future__ import annotations

import asyncio
import contextlib
import socket
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
    assert received.startswith(b"HTTP/1.1 431")  # RFC 6585 §5
    assert b"headers_too_large" in received
    assert seconds < 2


def _trickle_head(port: int) -> tuple[int, bytes]:
    """Send a request head in 1 KB pieces until the server answers; the bytes sent and what
    it answered. A plain socket: it reads the answer before the reset that follows (the
    server closes with our unread bytes), where a StreamReader would raise the reset first."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\n")
        sent, received = 0, b""
        sock.settimeout(0.005)
        while sent < 40_000 and not received:  # each piece well under the cap
            try:
                sock.sendall(b"X-Part-%d: %s\r\n" % (sent, b"a" * 1000))
                sent += 1000
                received = sock.recv(65_536)
            except TimeoutError:
                continue
            except OSError:
                break
        sock.settimeout(2)
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65_536):
                received += chunk
    return sent, received


async def test_a_head_trickled_past_16_kib_in_small_pieces_is_refused(
    server: RunningServer,
) -> None:
    sent, received = await asyncio.to_thread(_trickle_head, server.port)
    assert received.startswith(b"HTTP/1.1 431"), received
    assert 16_000 <= sent <= 20_000, sent  # refused soon after the cap, not at the end


async def _read_response(reader: asyncio.StreamReader) -> bytes:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    length = next(
        int(line.split(b":")[1])
        for line in head.lower().split(b"\r\n")
        if line.startswith(b"content-length:")
    )
    return head + await asyncio.wait_for(reader.readexactly(length), 5)


async def test_the_head_cap_is_per_request_and_does_not_count_the_body(
    server: RunningServer,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    header = b"X-Pad: " + b"p" * 10_000 + b"\r\n"
    body = b"{" + b" " * 12_000 + b"}"  # under the body limit; with its 6 KB head, over 16 KiB
    requests = [
        b"GET /health HTTP/1.1\r\nHost: t\r\n" + header + b"\r\n",
        b"POST /auth/logout HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"X-Pad: %s\r\nContent-Length: %d\r\n\r\n%s" % (b"p" * 6_000, len(body), body),
        b"GET /health HTTP/1.1\r\nHost: t\r\n" + header + b"\r\n",
    ]
    statuses = []
    for request in requests:  # one keep-alive connection, 40 KB in all
        for start in range(0, len(request), 1000):
            writer.write(request[start : start + 1000])
            await writer.drain()
            await asyncio.sleep(0.001)
        statuses.append((await _read_response(reader)).split(b" ")[1])
    writer.close()
    assert statuses == [b"200", b"200", b"200"]


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
