"""The sign-in path without the HTTP layer: a node's ASGI app called directly, in process.

``bench_signin.py`` counts everything the server process spends; this separates the app (the
routes, FastAPI's and our middlewares, the stores) from what lies below it (uvicorn's httptools
parser, the sockets, the loop's wake-ups). It builds a real :class:`~roulette.runtime.node.Node`
on a SQLite file in /dev/shm, then for each wallet calls ``GET /auth/siwe/nonce``, ``POST
/auth/siwe/verify`` and ``POST /auth/refresh`` with synthetic ASGI scopes, counting the
process's CPU time around the app calls only (signing is the client's and is left out).

Usage: ``python benchmarks/bench_signin_app.py [--users 1000]``. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from datetime import UTC, datetime
from typing import Any

from _harness import machine

from roulette.config import Config
from roulette.loadtest.wallet import Wallet, siwe_message
from roulette.runtime.node import Node

HOST = "127.0.0.1:8000"
WARM_UP = 100


async def _call(app: Any, method: str, path: str, body: bytes = b"", cookie: bytes = b"") -> Any:
    headers = [(b"host", HOST.encode()), (b"origin", f"http://{HOST}".encode())]
    headers += [(b"content-length", str(len(body)).encode())]
    if body:
        headers.append((b"content-type", b"application/json"))
    if cookie:
        headers.append((b"cookie", cookie))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    reply: dict[str, Any] = {"body": b""}
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return pending.pop() if pending else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            reply["status"], reply["headers"] = message["status"], message["headers"]
        else:
            reply["body"] += message.get("body", b"")

    await app(scope, receive, send)
    assert reply["status"] == 200, reply
    return reply


async def _one(app: Any, wallet: Wallet) -> tuple[float, float]:
    """One sign-in and one refresh; the CPU seconds of each, app calls only."""
    started = time.process_time()
    nonce = json.loads((await _call(app, "GET", "/auth/siwe/nonce"))["body"])["nonce"]
    spent = time.process_time() - started
    message = siwe_message(
        wallet.address,
        domain=HOST,
        uri=f"http://{HOST}",
        chain_id=1,
        nonce=nonce,
        issued_at=datetime.now(UTC),
    )
    body = json.dumps({"message": message, "signature": wallet.sign_personal(message)})
    started = time.process_time()
    verified = await _call(app, "POST", "/auth/siwe/verify", body.encode())
    sign_in = spent + time.process_time() - started
    cookie = next(
        value.split(b";", 1)[0]
        for name, value in verified["headers"]
        if name == b"set-cookie" and value.startswith(b"refreshToken=")
    )
    started = time.process_time()
    await _call(app, "POST", "/auth/refresh", cookie=cookie)
    return sign_in, time.process_time() - started


async def measure(users: int) -> dict[str, Any]:
    """CPU per sign-in and per refresh of the app alone, after a warm-up."""
    rng = random.Random(5)
    wallets = [Wallet.generate(rng) for _ in range(users + WARM_UP)]
    with tempfile.TemporaryDirectory(dir="/dev/shm") as tmp:
        env = {"DATA_DIR": tmp, "SIWE_DOMAIN": HOST, "STUN_SERVERS": "", "LOG_LEVEL": "warning"}
        env |= {"AUTH_RATE_BURST": "10000000", "AUTH_RATE_PER_SECOND": "10000000"}
        env |= {"SHED_LAG_MS": "3600000", "SHED_SIGNIN_LAG_MS": "3600000"}
        node = await Node.build(Config.from_env(env))
        app = node.http.config.app
        try:
            for wallet in wallets[:WARM_UP]:
                await _one(app, wallet)
            totals = [0.0, 0.0]
            for wallet in wallets[WARM_UP:]:
                sign_in, refresh = await _one(app, wallet)
                totals[0] += sign_in
                totals[1] += refresh
        finally:
            lane = getattr(node, "lane", None)  # absent before issue 15: older trees run too
            if lane is not None:
                await lane.aclose()
            await node.engine.dispose()
    return {
        "app_cpu_ms_per_sign_in": round(1000 * totals[0] / users, 3),
        "app_cpu_ms_per_refresh": round(1000 * totals[1] / users, 3),
    }


def main() -> None:
    """Measure and print the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    args = parser.parse_args()
    report = {"benchmark": "signin_app", "users": args.users, **asyncio.run(measure(args.users))}
    report.update(machine())
    print(json.dumps(report))


if __name__ == "__main__":
    main()
