"""A fleet of idle WebSocket clients spread over processes and loopback source addresses.

Each process holds at most ~15,000 sockets (a process may open 20,000 files) and binds its own
source address (127.0.0.2, 127.0.0.3, …: ~28k ephemeral ports each). The parent drives them
with one JSON line per command on stdin and reads one JSON line back:

- ``{"op": "login", "count": N}``: sign in N new wallets over HTTP (EIP-4361), keep the tokens;
- ``{"op": "connect", "count": N}``: open a socket for each kept token (or N anonymous ones
  for the Node reference) and wait until each is live;
- ``{"op": "probe", "sockets": S, "seconds": T}``: heartbeats from S sockets spread over T s,
  returning each heartbeat → heartbeat-ack round trip;
- ``{"op": "adopt", "tokens": [...]}``: keep access tokens signed in by another client;
- ``{"op": "quit"}``.

Run as a child: ``python benchmarks/_fleet.py HTTP_URL WS_URL SOURCE SEED``.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from _harness import exchange, pinned

from roulette.loadtest.client import ServerInfo, UserError, UserSocket, open_socket, sign_in
from roulette.loadtest.stats import HEARTBEAT_RTT, Recorder
from roulette.loadtest.wallet import Wallet

CONCURRENCY = 64
RETRIES_WHEN_FULL = 10
WAIT_LIVE_SECONDS = 60.0


class _Samples(Recorder):
    """A recorder that keeps every heartbeat round trip (the probes need exact percentiles)."""

    def __init__(self) -> None:
        super().__init__()
        self.samples: list[float] = []

    def observe(self, name: str, seconds: float) -> None:
        if name == HEARTBEAT_RTT:
            self.samples.append(seconds)


class _Child:
    def __init__(self, http_url: str, ws_url: str, source: str, seed: int) -> None:
        self.info = ServerInfo(http_url, ws_url, http_url.split("://", 1)[1], 1)
        self.source = source
        self.rng = random.Random(seed)
        self.recorder = _Samples()
        self.tokens: list[str] = []
        self.used = 0
        self.sockets: list[UserSocket] = []
        self.errors: dict[str, int] = {}
        # Keep-alive under uvicorn's 5 s: reusing a connection the server is closing fails.
        limits = httpx.Limits(keepalive_expiry=2.0)
        transport = httpx.AsyncHTTPTransport(local_address=source, limits=limits)
        # A browser names the page's origin on every POST (Fetch §3.1): without it, the
        # accessToken cookie of the previous sign-in makes the next verify look forged (403).
        origin = {"Origin": http_url}
        self.http = httpx.AsyncClient(transport=transport, timeout=120.0, headers=origin)

    async def login(self, count: int) -> dict[str, Any]:
        self.errors = {}  # each command reports its own
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one() -> None:
            async with gate:
                try:
                    self.tokens.append(
                        await sign_in(self.http, self.info, Wallet.generate(self.rng))
                    )
                except UserError as exc:
                    self.errors[exc.kind] = self.errors.get(exc.kind, 0) + 1

        await asyncio.gather(*(one() for _ in range(count)))
        return {"tokens": len(self.tokens), "errors": self.errors}

    async def connect(self, count: int) -> dict[str, Any]:
        self.errors = {}
        tokens = self.tokens[self.used :] if self.tokens else [""] * count
        self.used = len(self.tokens)
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(token: str) -> None:
            async with gate:
                try:
                    sock = await self._open(token)
                    if token:  # ours: live once "connected" arrives (after the auth checks)
                        async with asyncio.timeout(WAIT_LIVE_SECONDS):
                            await sock.inbox.get()
                    self.sockets.append(sock)
                except (UserError, TimeoutError) as exc:
                    kind = getattr(exc, "kind", "timeout_connected")
                    self.errors[kind] = self.errors.get(kind, 0) + 1

        await asyncio.gather(*(one(token) for token in tokens))
        return {"open": sum(s.is_open for s in self.sockets), "errors": self.errors}

    async def _open(self, token: str) -> UserSocket:
        """Open one socket; a full worker (503) is retried, as a client reconnecting would:
        the next connection may land on another worker of the node."""
        for _ in range(RETRIES_WHEN_FULL):
            try:
                return await open_socket(self.info, token, self.source, self.recorder)
            except UserError as exc:
                if exc.kind != "handshake_503":
                    raise
                self.errors["retried_503"] = self.errors.get("retried_503", 0) + 1
                await asyncio.sleep(0.05)
        return await open_socket(self.info, token, self.source, self.recorder)

    async def probe(self, sockets: int, seconds: float) -> dict[str, Any]:
        live = [s for s in self.sockets if s.is_open]
        chosen = self.rng.sample(live, min(sockets, len(live)))
        self.recorder.samples = []
        for sock in chosen:
            sock.send_heartbeat()
            await asyncio.sleep(seconds / max(len(chosen), 1))
        await asyncio.sleep(1.0)  # the last acks
        return {"rtts": self.recorder.samples, "sent": len(chosen)}


async def _serve(child: _Child) -> None:
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        command = json.loads(line)
        op = command["op"]
        if op == "quit":
            break
        if op == "login":
            reply = await child.login(command["count"])
        elif op == "connect":
            reply = await child.connect(command.get("count", 0))
        elif op == "adopt":  # tokens signed in elsewhere (bench_signin_storm's cheap client)
            child.tokens.extend(command["tokens"])
            reply = {"tokens": len(child.tokens)}
        else:
            reply = await child.probe(command["sockets"], command["seconds"])
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
    for sock in child.sockets:
        sock.close()
    await child.http.aclose()


class Fleet:
    """The parent's handle on the fleet's processes."""

    def __init__(
        self,
        http_url: str,
        ws_url: str,
        *,
        processes: int,
        seed: int = 1,
        cpus: set[int] | None = None,
    ) -> None:
        script = str(Path(__file__).resolve())
        self.children = [
            subprocess.Popen(
                pinned(
                    [
                        sys.executable,
                        script,
                        http_url,
                        ws_url,
                        f"127.0.0.{2 + n}",
                        str(seed * 97 + n),
                    ],
                    cpus,
                ),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for n in range(processes)
        ]

    def _all(self, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return exchange(self.children, commands)

    def _split(self, total: int) -> list[int]:
        share, extra = divmod(total, len(self.children))
        return [share + (n < extra) for n in range(len(self.children))]

    def login(self, count: int) -> tuple[int, dict[str, int]]:
        """Sign in ``count`` more wallets; returns (tokens held, errors by kind)."""
        replies = self._all([{"op": "login", "count": n} for n in self._split(count)])
        return sum(r["tokens"] for r in replies), _merged(r["errors"] for r in replies)

    def adopt(self, tokens: list[str]) -> None:
        """Share out access tokens signed in elsewhere, for the next :meth:`connect`."""
        shares = self._split(len(tokens))
        starts = [sum(shares[:n]) for n in range(len(shares))]
        self._all(
            [
                {"op": "adopt", "tokens": tokens[a : a + n]}
                for a, n in zip(starts, shares, strict=True)
            ]
        )

    def connect(self, count: int = 0) -> tuple[int, dict[str, int]]:
        """Open sockets for the new tokens (or ``count`` anonymous ones); (open, errors)."""
        replies = self._all([{"op": "connect", "count": n} for n in self._split(count)])
        return sum(r["open"] for r in replies), _merged(r["errors"] for r in replies)

    def probe(self, sockets: int, seconds: float) -> tuple[list[float], int]:
        """Heartbeat round trips (seconds) of ``sockets`` sockets; and how many were sent."""
        commands = [{"op": "probe", "sockets": n, "seconds": seconds} for n in self._split(sockets)]
        replies = self._all(commands)
        return [rtt for r in replies for rtt in r["rtts"]], sum(r["sent"] for r in replies)

    def close(self) -> None:
        """Close every socket and stop the processes."""
        for child in self.children:
            if child.poll() is None and child.stdin is not None:
                child.stdin.write(json.dumps({"op": "quit"}) + "\n")
                child.stdin.close()
        deadline = time.monotonic() + 30
        for child in self.children:
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def _merged(parts: Any) -> dict[str, int]:
    total: dict[str, int] = {}
    for part in parts:
        for kind, count in part.items():
            total[kind] = total.get(kind, 0) + count
    return total


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(1, math.ceil(len(ordered) * q / 100)) - 1]


def main() -> None:
    """Child entry point."""
    http_url, ws_url, source, seed = sys.argv[1:5]
    import uvloop

    uvloop.run(_serve(_Child(http_url, ws_url, source, int(seed))))


if __name__ == "__main__":
    main()
