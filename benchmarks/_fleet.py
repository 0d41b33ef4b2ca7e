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
- ``{"op": "pair"}``: get every live socket matched (ours join the queue; the Node reference
  pairs sockets as they connect) and keep each one's session id;
- ``{"op": "pace", "rate": R, "size": B}``: from now on each matched socket sends its peer an
  ``ice-candidate`` of ~B bytes R times a second (phases spread evenly), until ``stop``;
- ``{"op": "count"}``: relayed messages received so far, messages sent, how far the pacing
  fell behind its schedule at worst (seconds), and errors (a refusal, a close);
- ``{"op": "stop"}``: stop pacing (once stopped; ``pace`` may start it again);
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
from picows import WSMsgType

from roulette.loadtest.client import ServerInfo, UserError, UserSocket, open_socket, sign_in
from roulette.loadtest.stats import HEARTBEAT_RTT, RELAYED, Recorder
from roulette.loadtest.wallet import Wallet

CONCURRENCY = 64
RETRIES_WHEN_FULL = 10
WAIT_LIVE_SECONDS = 60.0
WAIT_MATCH_SECONDS = 120.0
PACE_SLOTS = 10
"""Each pacing period is cut into this many ticks; a tenth of the sockets send on each."""


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
        self.matched: list[tuple[UserSocket, str]] = []
        self.sent = 0
        self.behind = 0.0
        self.pacing = asyncio.Event()
        self.pacer: asyncio.Task[None] | None = None

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

    async def pair(self) -> dict[str, Any]:
        """Get every live socket matched; keep (socket, session id) of each."""
        self.errors = {}
        join = json.dumps({"type": "join-queue", "chainId": self.info.chain_id}).encode()

        async def one(sock: UserSocket) -> None:
            if self.tokens and sock.transport is not None:  # ours: join the real queue
                sock.transport.send(WSMsgType.TEXT, join)
            try:
                async with asyncio.timeout(WAIT_MATCH_SECONDS):
                    while (message := await sock.inbox.get())["type"] != "match-found":
                        pass
            except TimeoutError:
                self.errors["timeout_match"] = self.errors.get("timeout_match", 0) + 1
                return
            self.matched.append((sock, message["sessionId"]))

        await asyncio.gather(*(one(s) for s in self.sockets if s.is_open))
        return {"matched": len(self.matched), "errors": self.errors}

    async def pace(self, rate: float, size: int) -> None:
        """Each matched socket sends ``rate`` ICE candidates a second until :attr:`pacing` is
        cleared; a tick that comes late is caught up at once (the offered rate holds)."""
        pad = "x" * max(0, size - 90)
        sends = [
            (sock, json.dumps(_ice(session_id, pad)).encode()) for sock, session_id in self.matched
        ]
        groups = [sends[n::PACE_SLOTS] for n in range(PACE_SLOTS)]
        loop = asyncio.get_running_loop()
        step, start, tick = 1.0 / rate / PACE_SLOTS, loop.time(), 0
        while self.pacing.is_set():
            for sock, payload in groups[tick % PACE_SLOTS]:
                transport = sock.transport
                if transport is not None and not transport.is_close_frame_sent:
                    transport.send(WSMsgType.TEXT, payload)
                    self.sent += 1
            tick += 1
            late = loop.time() - (start + tick * step)
            self.behind = max(self.behind, late)
            await asyncio.sleep(max(0.0, -late))

    def count(self) -> dict[str, Any]:
        errors = dict(self.recorder.errors)
        for sock, _ in self.matched:  # anything but relayed traffic: a refusal, a close
            while not sock.inbox.empty():
                message = sock.inbox.get_nowait()
                kind = f"{message['type']}_{message.get('code', '')}".rstrip("_")
                errors[kind] = errors.get(kind, 0) + 1
        closed = sum(not sock.is_open for sock, _ in self.matched)
        return {
            "received": self.recorder.counters[RELAYED],
            "sent": self.sent,
            "behind_seconds": round(self.behind, 4),
            "errors": errors | ({"closed": closed} if closed else {}),
        }


def _ice(session_id: str, pad: str) -> dict[str, Any]:
    return {"type": "ice-candidate", "sessionId": session_id, "data": {"candidate": pad}}


async def _serve(child: _Child) -> None:
    async with asyncio.TaskGroup() as tasks:
        await _commands(child, tasks)
    for sock in child.sockets:
        sock.close()
    await child.http.aclose()


async def _pacing(child: _Child, command: dict[str, Any], tasks: asyncio.TaskGroup) -> Any:
    if command["op"] == "pace":
        child.pacing.set()
        child.behind = 0.0
        child.pacer = tasks.create_task(child.pace(command["rate"], command["size"]))
        return {"pacing": len(child.matched)}
    if command["op"] == "stop":
        child.pacing.clear()
        if child.pacer is not None:
            await child.pacer  # one pacer at a time
    return child.count()


async def _commands(child: _Child, tasks: asyncio.TaskGroup) -> None:
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        command = json.loads(line)
        op = command["op"]
        if op == "quit":
            break
        if op == "pair":
            reply = await child.pair()
        elif op in ("pace", "count", "stop"):
            reply = await _pacing(child, command, tasks)
        elif op == "login":
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
    child.pacing.clear()


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

    def pair(self) -> tuple[int, dict[str, int]]:
        """Get every open socket matched; (matched, errors)."""
        replies = self._all([{"op": "pair"}] * len(self.children))
        return sum(r["matched"] for r in replies), _merged(r["errors"] for r in replies)

    def pace(self, rate: float, size: int) -> int:
        """Start pacing every matched socket (``rate`` messages/s of ~``size`` bytes)."""
        replies = self._all([{"op": "pace", "rate": rate, "size": size}] * len(self.children))
        return sum(r["pacing"] for r in replies)

    def count(self, op: str = "count") -> dict[str, Any]:
        """Received and sent so far over the fleet, the worst lag, errors (``op="stop"``:
        and stop pacing)."""
        replies = self._all([{"op": op}] * len(self.children))
        return {
            "received": sum(r["received"] for r in replies),
            "sent": sum(r["sent"] for r in replies),
            "behind_seconds": max(r["behind_seconds"] for r in replies),
            "errors": _merged(r["errors"] for r in replies),
        }

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
