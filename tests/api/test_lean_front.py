"""The lean branch (``api/front.py``) answers the sign-in routes exactly as FastAPI's full
stack does: the same statuses, headers and bodies for every outcome, the same metrics.

Each request is sent to a real node's app twice, once down the lean branch (the app as
uvicorn calls it) and once down FastAPI's own stack (``FastAPI.__call__``), and the two
answers are compared whole; only values that are fresh per request (nonces, tokens) are
compared by shape.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from starlette.responses import Response

from roulette.api.auth_routes import _set_cookie
from roulette.api.front import FrontedApp
from roulette.config import Config
from roulette.loadtest.wallet import Wallet, siwe_message
from roulette.runtime.node import Node

HOST = "127.0.0.1:8000"
ORIGIN = f"http://{HOST}"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    env = {"DATA_DIR": str(tmp_path), "SIWE_DOMAIN": HOST, "STUN_SERVERS": ""}
    env |= {"ALLOWED_ORIGINS": ORIGIN, "AUTH_RATE_BURST": "1000", "AUTH_RATE_PER_SECOND": "1000"}
    built = await Node.build(Config.from_env(env))
    yield built
    if built.lane is not None:
        await built.lane.aclose()
    await built.engine.dispose()


def _app(node: Node) -> FrontedApp:
    app = node.http.config.app
    assert isinstance(app, FrontedApp)
    return app


async def _call(
    app: Any,
    method: str,
    path: str,
    *,
    chunks: Sequence[bytes] = (),
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> Answer:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", HOST.encode()), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    pending = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks or [b""])
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start, *bodies = sent
    return Answer(start["status"], list(start["headers"]), b"".join(m["body"] for m in bodies))


async def _both(app: FrontedApp, method: str, path: str, **request: Any) -> tuple[Answer, Answer]:
    lean = await _call(app, method, path, **request)
    full = await _call(lambda *a: FastAPI.__call__(app, *a), method, path, **request)
    return lean, full


JSON = [(b"content-type", b"application/json"), (b"origin", ORIGIN.encode())]


async def test_the_three_sign_in_routes_and_only_they_take_the_lean_branch(node: Node) -> None:
    assert set(_app(node).lean_branches) == {
        ("GET", "/auth/siwe/nonce"),
        ("POST", "/auth/siwe/verify"),
        ("POST", "/auth/refresh"),
    }


@pytest.mark.parametrize(
    ("method", "path", "request_"),
    [
        # CSRF: a cross-site origin (the outermost of our middlewares).
        ("POST", "/auth/siwe/verify", {"headers": [(b"origin", b"http://evil.example")]}),
        ("POST", "/auth/refresh", {"headers": [(b"cookie", b"refreshToken=abc")]}),
        # The body limit: declared too large, not a number, and streamed past the limit.
        ("POST", "/auth/siwe/verify", {"headers": [(b"content-length", b"999999")]}),
        ("POST", "/auth/siwe/verify", {"headers": [(b"content-length", b"12x")]}),
        (
            "POST",
            "/auth/siwe/verify",
            {"chunks": [b"{" + b" " * 9000, b" " * 9000 + b"}"], "headers": JSON},
        ),
        # The body: no JSON media type, not JSON, the wrong shape, a bad message.
        ("POST", "/auth/siwe/verify", {"chunks": [b"{}"]}),
        ("POST", "/auth/siwe/verify", {"chunks": [b"{nope"], "headers": JSON}),
        ("POST", "/auth/siwe/verify", {"chunks": [b'{"message": 1}'], "headers": JSON}),
        (
            "POST",
            "/auth/siwe/verify",
            {"chunks": [b'{"message": "hi", "signature": "0x00"}'], "headers": JSON},
        ),
        # A refresh without a token, and with one that is not a token.
        ("POST", "/auth/refresh", {}),
        ("POST", "/auth/refresh", {"headers": [(b"cookie", b"refreshToken=not.a.jwt")]}),
    ],
)
async def test_every_refusal_is_byte_for_byte_the_full_stacks(
    node: Node, method: str, path: str, request_: dict[str, Any]
) -> None:
    lean, full = await _both(_app(node), method, path, **request_)
    assert lean == full
    assert 400 <= lean.status < 500


async def test_a_shedding_node_refuses_both_ways_with_retry_after(node: Node) -> None:
    assert node.lag is not None
    node.lag.observe(60.0)  # a loop a minute late: over any shedding threshold
    lean, full = await _both(_app(node), "GET", "/auth/siwe/nonce")
    assert lean == full
    assert lean.status == 503
    assert (b"retry-after", b"5") in lean.headers


def _shape(answer: Answer) -> tuple[int, list[bytes], Any]:
    """Status, header names and values with fresh tokens and nonces blanked, body keys."""
    fresh = re.compile(rb"(accessToken|refreshToken)=[^;]*|[0-9a-zA-Z]{16,}")
    return (
        answer.status,
        [name + b": " + fresh.sub(b"*", value) for name, value in answer.headers],
        sorted(answer.json()),
    )


async def _sign_in(app: Any, wallet: Wallet) -> Answer:
    nonce = json.loads((await _call(app, "GET", "/auth/siwe/nonce")).body)["nonce"]
    message = siwe_message(
        wallet.address,
        domain=HOST,
        uri=ORIGIN,
        chain_id=1,
        nonce=nonce,
        issued_at=datetime.now(UTC),
    )
    body = json.dumps({"message": message, "signature": wallet.sign_personal(message)})
    return await _call(app, "POST", "/auth/siwe/verify", chunks=[body.encode()], headers=JSON)


def _refresh_cookie(answer: Answer) -> bytes:
    return next(
        value.split(b";", 1)[0]
        for name, value in answer.headers
        if name == b"set-cookie" and value.startswith(b"refreshToken=")
    )


async def test_a_sign_in_and_a_refresh_are_the_full_stacks_and_counted_alike(node: Node) -> None:
    app = _app(node)
    rng = random.Random(7)
    full_app = lambda *a: FastAPI.__call__(app, *a)  # noqa: E731 - the full stack, same app
    labels = {"method": "POST", "route": "/auth/siwe/verify", "status": "200"}
    counted = REGISTRY.get_sample_value("roulette_http_request_duration_seconds_count", labels)
    lean = await _sign_in(app, Wallet.generate(rng))
    full = await _sign_in(full_app, Wallet.generate(rng))
    assert _shape(lean) == _shape(full)
    assert lean.status == 200
    after = REGISTRY.get_sample_value("roulette_http_request_duration_seconds_count", labels)
    assert (after or 0) - (counted or 0) == 2  # one each way, under the route's template
    cookie = [(b"cookie", _refresh_cookie(lean)), (b"origin", ORIGIN.encode())]
    lean_refresh = await _call(app, "POST", "/auth/refresh", headers=cookie)
    cookie = [(b"cookie", _refresh_cookie(full)), (b"origin", ORIGIN.encode())]
    full_refresh = await _call(full_app, "POST", "/auth/refresh", headers=cookie)
    assert _shape(lean_refresh) == _shape(full_refresh)
    assert lean_refresh.status == 200


@pytest.mark.parametrize("secure", [False, True])
@pytest.mark.parametrize("token", ["eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln-_", "has space;"])
def test_the_cookie_header_is_what_starlette_writes(secure: bool, token: str) -> None:
    reference = Response()
    reference.set_cookie(
        "refreshToken",
        token,
        max_age=86_400,
        path="/auth",
        secure=secure,
        httponly=True,
        samesite="strict",
    )
    built = _set_cookie(
        "refreshToken", token, max_age=86_400, path="/auth", samesite="strict", secure=secure
    )
    assert built == reference.raw_headers[-1]
