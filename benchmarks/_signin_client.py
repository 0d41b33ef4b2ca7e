"""A cheap sign-in client for the sign-in benchmarks: raw HTTP/1.1 keep-alive over asyncio.

httpx costs the client ~6 ms of CPU per sign-in, more than the server; a 1,000/s storm
needs the client far cheaper. This one writes the two requests by hand and reads responses
by ``Content-Length`` (the server always sends one). Wallets are made before any timing.

Run as a child: ``python benchmarks/_signin_client.py HTTP_URL SOURCE SEED WALLETS``; one JSON
command per stdin line, one JSON reply per line:

- ``{"op": "signin", "count": N, "concurrency": C}``: N sign-ins (nonce + verify), C at once;
  keeps each access and refresh token;
- ``{"op": "refresh", "concurrency": C}``: exchange every kept refresh token once;
- ``{"op": "storm", "rate": R, "seconds": T}``: start R sign-ins a second for T seconds
  (open loop, at most ``MAX_IN_FLIGHT`` at once); latencies and outcomes;
- ``{"op": "tokens"}``: the access tokens kept so far (and forget them);
- ``{"op": "quit"}``.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
from _harness import exchange, spawn

from roulette.loadtest.wallet import Wallet, siwe_message

MAX_IN_FLIGHT = 2000


class _Closed(Exception):
    """The server closed the connection before answering (an idle keep-alive timeout)."""


class Connection:
    """One keep-alive HTTP/1.1 connection from ``source``."""

    def __init__(self, host: str, port: int, source: str, origin: str) -> None:
        self.host, self.port, self.source = host, port, source
        self.prefix = f"Host: {host}:{port}\r\nOrigin: {origin}\r\n"
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: bytes = b"", cookie: str | None = None
    ) -> tuple[int, dict[str, list[str]], bytes]:
        """Send one request, reconnecting once if the idle connection was closed."""
        try:
            return await self._exchange(method, path, body, cookie)
        except _Closed:
            self.close()
            return await self._exchange(method, path, body, cookie)

    async def _exchange(
        self, method: str, path: str, body: bytes, cookie: str | None
    ) -> tuple[int, dict[str, list[str]], bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(
                self.host, self.port, local_addr=(self.source, 0)
            )
        assert self.reader is not None
        head = f"{method} {path} HTTP/1.1\r\n{self.prefix}Content-Length: {len(body)}\r\n"
        if body:
            head += "Content-Type: application/json\r\n"
        if cookie:
            head += f"Cookie: {cookie}\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        try:
            raw = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError) as error:
            raise _Closed from error
        lines = raw.decode("latin-1").split("\r\n")
        headers: dict[str, list[str]] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name:
                headers.setdefault(name.lower(), []).append(value.strip())
        data = await self.reader.readexactly(int(headers["content-length"][0]))
        if headers.get("connection", [""])[0].lower() == "close":
            self.close()
        return int(lines[0].split(" ", 2)[1]), headers, data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def _cookie(headers: dict[str, list[str]], name: str) -> str | None:
    for header in headers.get("set-cookie", []):
        key, _, rest = header.partition("=")
        if key.strip() == name:
            return rest.split(";", 1)[0]
    return None


class Client:
    """Signs wallets in and refreshes their tokens over a pool of connections."""

    def __init__(self, http_url: str, source: str, wallets: list[Wallet]) -> None:
        self.http_url = http_url
        hostport = http_url.split("://", 1)[1]
        host, _, port = hostport.rpartition(":")
        self.domain = hostport
        self.make = lambda: Connection(host, int(port), source, http_url)
        self.idle: list[Connection] = []
        self.wallets = wallets
        self.access: list[str] = []
        self.refresh: list[str] = []
        self.errors: dict[str, int] = {}

    def _take(self) -> Connection:
        return self.idle.pop() if self.idle else self.make()

    def _fail(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    async def sign_in(self) -> bool:
        """One sign-in with the next unused wallet; False (counted) on failure."""
        wallet, conn = self.wallets.pop(), self._take()
        try:
            status, _, data = await conn.request("GET", "/auth/siwe/nonce")
            if status != 200:
                self._fail(f"nonce_{status}")
                return False
            message = siwe_message(
                wallet.address,
                domain=self.domain,
                uri=self.http_url,
                chain_id=1,
                nonce=msgspec.json.decode(data)["nonce"],
                issued_at=datetime.now(UTC),
            )
            body = msgspec.json.encode(
                {"message": message, "signature": wallet.sign_personal(message)}
            )
            status, headers, _ = await conn.request("POST", "/auth/siwe/verify", body)
            if status != 200:
                self._fail(f"verify_{status}")
                return False
            access, refresh = _cookie(headers, "accessToken"), _cookie(headers, "refreshToken")
            if access is None or refresh is None:
                self._fail("no_cookies")
                return False
            self.access.append(access)
            self.refresh.append(refresh)
            return True
        except (OSError, asyncio.IncompleteReadError, _Closed) as error:
            conn.close()
            self._fail(type(error).__name__)
            return False
        finally:
            self.idle.append(conn)

    async def rotate(self, index: int) -> None:
        """Exchange the kept refresh token ``index`` for a new one."""
        conn = self._take()
        try:
            cookie = f"refreshToken={self.refresh[index]}"
            status, headers, _ = await conn.request("POST", "/auth/refresh", cookie=cookie)
            fresh = _cookie(headers, "refreshToken")
            if status != 200 or fresh is None:
                self._fail(f"refresh_{status}")
                return
            self.refresh[index] = fresh
        except (OSError, asyncio.IncompleteReadError, _Closed) as error:
            conn.close()
            self._fail(type(error).__name__)
        finally:
            self.idle.append(conn)


async def _bounded(count: int, concurrency: int, work: Any) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one(index: int) -> None:
        async with gate:
            await work(index)

    await asyncio.gather(*(one(i) for i in range(count)))


async def storm(client: Client, rate: float, seconds: float) -> dict[str, Any]:
    """Start ``rate`` sign-ins a second for ``seconds`` (open loop); latencies in ms."""
    latencies: list[float] = []
    started = time.monotonic()
    offered = dropped = 0
    tasks: set[asyncio.Task[None]] = set()

    async def one() -> None:
        begun = time.monotonic()
        if await client.sign_in():
            latencies.append(1000 * (time.monotonic() - begun))

    async with asyncio.TaskGroup() as group:
        while (elapsed := time.monotonic() - started) < seconds:
            due = int(elapsed * rate) + 1
            while offered < due:
                offered += 1
                if len(tasks) >= MAX_IN_FLIGHT or not client.wallets:
                    dropped += 1
                    continue
                task = group.create_task(one())
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            await asyncio.sleep(max(0.0, (offered / rate) - (time.monotonic() - started)))
    latencies.sort()
    return {
        "offered": offered,
        "completed": len(latencies),
        "dropped": dropped,
        "latencies_ms": latencies[:: max(1, len(latencies) // 2000)],
    }


async def serve(client: Client) -> None:
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        command = json.loads(line)
        client.errors = {}
        op = command["op"]
        reply: dict[str, Any]
        if op == "quit":
            break
        if op == "signin":
            before = len(client.access)
            await _bounded(command["count"], command["concurrency"], lambda _: client.sign_in())
            reply = {"done": len(client.access) - before}
        elif op == "refresh":
            await _bounded(len(client.refresh), command["concurrency"], client.rotate)
            reply = {"done": len(client.refresh) - sum(client.errors.values())}
        elif op == "storm":
            reply = await storm(client, command["rate"], command["seconds"])
        else:
            reply = {"tokens": client.access}
            client.access = []
        reply["errors"] = client.errors
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
    for conn in client.idle:
        conn.close()


class SignInClients:
    """The parent's handle on ``processes`` client processes (sources 127.0.0.2, .3, …)."""

    def __init__(
        self, http_url: str, *, processes: int, wallets: int, cpus: set[int] | None, seed: int = 7
    ) -> None:
        script = str(Path(__file__).resolve())
        share = str(wallets // processes + 1)
        self.children = [
            spawn([script, http_url, f"127.0.0.{2 + n}", str(seed * 31 + n), share], cpus)
            for n in range(processes)
        ]
        for child in self.children:
            assert child.stdout is not None
            json.loads(child.stdout.readline())  # {"ready": n}: the wallets are made

    def all(self, command: dict[str, Any], split: str | None = None) -> list[dict[str, Any]]:
        """Send ``command`` to every child (``split``: a numeric field shared out); replies."""
        count = len(self.children)
        commands = [dict(command) for _ in self.children]
        if split is not None and isinstance(command[split], int):
            share, extra = divmod(command[split], count)
            for n, mine in enumerate(commands):
                mine[split] = share + (n < extra)
        elif split is not None:
            for mine in commands:
                mine[split] = command[split] / count
        return exchange(self.children, commands)

    @property
    def pids(self) -> list[int]:
        return [child.pid for child in self.children]

    def close(self) -> None:
        for child in self.children:
            if child.poll() is None and child.stdin is not None:
                child.stdin.write(json.dumps({"op": "quit"}) + "\n")
                child.stdin.close()
        for child in self.children:
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def merged_errors(replies: list[dict[str, Any]]) -> dict[str, int]:
    """The replies' error counts added up."""
    total: dict[str, int] = {}
    for reply in replies:
        for kind, count in reply["errors"].items():
            total[kind] = total.get(kind, 0) + count
    return total


def main() -> None:
    # Below the fleet's processes: on a 2-core machine they share a core, and a heartbeat's
    # round trip should measure the server, not a client starved by the storm's clients.
    os.nice(10)
    http_url, source, seed, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    rng = random.Random(seed)
    wallets = [Wallet.generate(rng) for _ in range(count)]
    sys.stdout.write(json.dumps({"ready": len(wallets)}) + "\n")
    sys.stdout.flush()
    asyncio.run(serve(Client(http_url, source, wallets)))


if __name__ == "__main__":
    main()
