"""Per-IP sign-in limits count the real client only behind a trusted proxy (issue 10, hole 7).

A real node with a 3-request sign-in budget per IP; ``TRUSTED_PROXIES`` names 127.0.0.5 only.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from support.server import RunningServer, running_server

TRUSTED = "127.0.0.5"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    env = {"AUTH_RATE_BURST": "3", "AUTH_RATE_PER_SECOND": "0.01", "TRUSTED_PROXIES": TRUSTED}
    with running_server(tmp_path_factory.mktemp("proxies"), env) as server:
        yield server


def _nonce(node: RunningServer, source: str, forwarded: str | None) -> int:
    """``GET /auth/siwe/nonce`` from ``source``; returns the status."""
    header = f"X-Forwarded-For: {forwarded}\r\n" if forwarded else ""
    request = f"GET /auth/siwe/nonce HTTP/1.1\r\nHost: n\r\n{header}Connection: close\r\n\r\n"
    target = ("127.0.0.1", node.port)
    with socket.create_connection(target, timeout=5.0, source_address=(source, 0)) as sock:
        sock.sendall(request.encode())
        reply = sock.recv(65536)
    return int(reply.split(b" ", 2)[1])


def test_a_forged_header_from_an_untrusted_peer_does_not_move_the_limit(
    node: RunningServer,
) -> None:
    # Each request claims another client; the limit still counts the peer, 127.0.0.2.
    statuses = [_nonce(node, "127.0.0.2", f"198.51.100.{i}") for i in range(5)]
    assert statuses == [200, 200, 200, 429, 429]


def test_loopback_is_not_trusted_by_default(node: RunningServer) -> None:
    # uvicorn used to believe X-Forwarded-For from 127.0.0.1; only TRUSTED_PROXIES counts now.
    statuses = [_nonce(node, "127.0.0.1", f"198.51.100.{i}") for i in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_a_trusted_proxy_gets_one_budget_per_forwarded_client(node: RunningServer) -> None:
    first = [_nonce(node, TRUSTED, "203.0.113.1") for _ in range(4)]
    assert first == [200, 200, 200, 429]
    # Another client behind the same proxy has its own budget, even with a forged left entry.
    assert _nonce(node, TRUSTED, "203.0.113.1, 203.0.113.2") == 200
    # The proxy's own address is not spent by its clients.
    assert _nonce(node, TRUSTED, None) == 200
