"""What a sign-in and a refresh cost one ``roulette serve`` process, on SQLite and PostgreSQL.

For each backend a server is started pinned to core 0 (PostgreSQL: a throwaway database on
the machine's server, dropped afterwards); client processes on the other cores (a raw
HTTP/1.1 client, ``_signin_client.py``: httpx would cost more than the server) sign in N fresh
wallets (``GET /auth/siwe/nonce``, EIP-4361 message, EIP-191 signature, ``POST
/auth/siwe/verify``), then exchange each refresh token once (``POST /auth/refresh``). The
server's CPU time (user + system, all threads, from /proc) is read around each phase.

The reference, measured in the same run in this process: the work a sign-in cannot avoid —
``verify_sign_in`` (parse, checks, secp256k1 recovery; raw coincurve recovery shown apart),
a nonce, two JWTs, and the one SQL statement on the bare driver (sqlite3 / asyncpg) — and the
same for a refresh (a JWT check, two JWTs, one statement). ``--profile FILE`` samples the
server with py-spy when it is installed.

Usage: ``python benchmarks/bench_signin.py [--users 3000] [--backends sqlite,postgresql]
[--clients 1] [--profile FILE]``. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from _harness import client_cpus, cpu_seconds, machine, roulette_server, server_cpu
from _profile import Profiler
from _signin_client import SignInClients, merged_errors
from coincurve import PublicKey

from roulette.auth import SiweRules, personal_message_hash, verify_sign_in
from roulette.auth.nonces import new_nonce
from roulette.auth.tokens import TokenIssuer, TokenKind
from roulette.identity import Address
from roulette.loadtest.wallet import Wallet, siwe_message
from roulette.storage.sql import upgrade
from roulette.storage.sql.tokens import ROTATE_UNLESS_BANNED, START_UNLESS_BANNED
from support.postgres import psql

# No rate limit, and no load shedding: on a shared machine the loop lags and the node would
# answer 503 (cheap) to part of the sign-ins; this measures what a served one costs.
SERVER_ENV = {
    "AUTH_RATE_BURST": "1000000",
    "AUTH_RATE_PER_SECOND": "1000000",
    "SHED_LAG_MS": "3600000",
    "SHED_SIGNIN_LAG_MS": "3600000",
}
IDLE_SECONDS = 5.0
"""How long the server's idle CPU (sweeper, ban poll, monitor) is read before the phases."""
WARM_UP = 200
CONCURRENCY = 64
PG_SERVER = "postgres@127.0.0.1:5432"


@contextmanager
def database(backend: str) -> Iterator[dict[str, str]]:
    """The server's environment for ``backend`` (PostgreSQL: a fresh database, dropped)."""
    if backend == "sqlite":
        yield {}
        return
    name = f"bench_signin_{uuid.uuid4().hex[:12]}"
    psql(f'CREATE DATABASE "{name}"')
    try:
        yield {"DATABASE_URL": f"postgresql+asyncpg://{PG_SERVER}/{name}"}
    finally:
        psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def measure(backend: str, users: int, clients: int, profile: Path | None) -> dict[str, Any]:
    """Server CPU per sign-in and per refresh for ``users`` wallets after a warm-up."""
    with (
        database(backend) as env,
        roulette_server({**SERVER_ENV, **env}, cpus=server_cpu()) as server,
    ):
        fleet = SignInClients(
            server.http_url, processes=clients, wallets=users + WARM_UP, cpus=client_cpus()
        )
        try:
            fleet.all({"op": "signin", "count": WARM_UP, "concurrency": CONCURRENCY}, "count")
            fleet.all({"op": "refresh", "concurrency": CONCURRENCY})
            fleet.all({"op": "tokens"})  # forget the warm-up's access tokens
            pid = server.process.pid
            idle0 = cpu_seconds(pid)
            time.sleep(IDLE_SECONDS)
            idle_share = (cpu_seconds(pid) - idle0) / IDLE_SECONDS
            profiler = Profiler(profile) if profile else None
            if profiler is not None:
                profiler.start(pid, 10)
            sign_in = _phase(pid, fleet, {"op": "signin", "count": users}, idle_share)
            # The warm-up's families are refreshed again too: every kept token rotates once.
            refresh = _phase(pid, fleet, {"op": "refresh"}, idle_share)
        finally:
            fleet.close()
    result = {
        "backend": backend,
        "server_idle_cpu_share": round(idle_share, 4),
        "sign_in": sign_in,
        "refresh": refresh,
    }
    if profiler is not None:
        result["profile_top_self"] = profiler.finish()
    return result


def _phase(
    pid: int, fleet: SignInClients, command: dict[str, Any], idle_share: float
) -> dict[str, Any]:
    """One phase's rate and CPU per completed operation; ``_net`` less the idle CPU."""
    split = "count" if "count" in command else None
    cpu0, client0 = cpu_seconds(pid), sum(map(cpu_seconds, fleet.pids))
    started = time.monotonic()
    replies = fleet.all({**command, "concurrency": CONCURRENCY}, split)
    wall = time.monotonic() - started
    cpu = cpu_seconds(pid) - cpu0
    client = sum(map(cpu_seconds, fleet.pids)) - client0
    done = max(1, sum(reply["done"] for reply in replies))  # served: errors not counted
    return {
        "completed": done,
        "per_s": round(done / wall, 1),
        "server_cpu_ms": round(1000 * cpu / done, 3),
        "server_cpu_ms_net": round(1000 * (cpu - idle_share * wall) / done, 3),
        "server_cpu_share": round(cpu / wall, 3),
        "client_cpu_ms": round(1000 * client / done, 3),
        "errors": merged_errors(replies),
    }


def _per_call_us(operation: Callable[[int], object], count: int) -> float:
    started = time.process_time()
    for index in range(count):
        operation(index)
    return round(1e6 * (time.process_time() - started) / count, 1)


def reference(backend: str, count: int = 2000) -> dict[str, Any]:
    """The unavoidable work of a sign-in and a refresh, timed in this process."""
    domain, uri, now = "127.0.0.1:8000", "http://127.0.0.1:8000", time.time()
    rules = SiweRules(domain=domain, chain_ids=frozenset({1}))
    signed = []
    for wallet in (Wallet.generate(__import__("random").Random(n)) for n in range(64)):
        text = siwe_message(
            wallet.address,
            domain=domain,
            uri=uri,
            chain_id=1,
            nonce=new_nonce(secrets.token_bytes),
            issued_at=datetime.now(UTC),
        )
        signed.append((text, wallet.sign_personal(text)))
    raw = [
        (
            bytes.fromhex(s[2:130]) + bytes((int(s[-2:], 16) - 27,)),
            personal_message_hash(t.encode()),
        )
        for t, s in signed
    ]
    issuer = TokenIssuer(access_secret="a" * 32, refresh_secret="r" * 32)
    claims = {
        "address": Address(Wallet.generate(__import__("random").Random(1)).address),
        "chain_id": 1,
        "family_id": "f" * 22,
        "now": now,
    }
    token = issuer.issue(TokenKind.REFRESH, jti="j" * 22, **claims)  # type: ignore[arg-type]

    def two_tokens(_: int) -> None:
        for kind in (TokenKind.ACCESS, TokenKind.REFRESH):
            issuer.issue(kind, jti=secrets.token_urlsafe(16), **claims)  # type: ignore[arg-type]

    parts = {
        "raw_coincurve_recovery_us": _per_call_us(
            lambda i: PublicKey.from_signature_and_message(*raw[i % 64], hasher=None), count
        ),
        "verify_sign_in_us": _per_call_us(
            lambda i: verify_sign_in(*signed[i % 64], rules, now=now), count
        ),
        "nonce_us": _per_call_us(lambda _: new_nonce(secrets.token_bytes), count),
        "two_jwts_us": _per_call_us(two_tokens, count),
        "jwt_verify_us": _per_call_us(
            lambda _: issuer.verify(token, TokenKind.REFRESH, now=now), count
        ),
        **asyncio.run(_bare_statements(backend, count, now)),
    }
    sign_in = ["verify_sign_in_us", "nonce_us", "two_jwts_us", "start_statement_us"]
    refresh = ["jwt_verify_us", "two_jwts_us", "rotate_statement_us"]
    return {
        **parts,
        "sign_in_floor_ms": round(sum(parts[k] for k in sign_in) / 1000, 3),
        "refresh_floor_ms": round(sum(parts[k] for k in refresh) / 1000, 3),
    }


async def _bare_statements(backend: str, count: int, now: float) -> dict[str, float]:
    """The sign-in's and the refresh's one statement each, on the bare driver."""
    address, later = "0x" + "ab" * 20, now + 3600
    with database(backend) as env, tempfile.TemporaryDirectory() as tmp:
        url = env.get("DATABASE_URL", f"sqlite+aiosqlite:///{tmp}/bench.db")
        await upgrade(url)
        if backend == "sqlite":
            db = sqlite3.connect(f"{tmp}/bench.db", isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            start, rotate = (
                START_UNLESS_BANNED.replace("$", "?"),
                ROTATE_UNLESS_BANNED.replace("$", "?"),
            )
            started = time.process_time()
            for n in range(count):
                db.execute(start, (f"f{n}", address, "j0", now, later))
            middle = time.process_time()
            for n in range(count):
                db.execute(rotate, (f"f{n}", "j0", "j1", now))
            ended = time.process_time()
            db.close()
        else:
            conn = await asyncpg.connect(url.replace("+asyncpg", ""))
            started = time.process_time()
            for n in range(count):
                await conn.execute(START_UNLESS_BANNED, f"f{n}", address, "j0", now, later)
            middle = time.process_time()
            for n in range(count):
                await conn.execute(ROTATE_UNLESS_BANNED, f"f{n}", "j0", "j1", now)
            ended = time.process_time()
            await conn.close()
    return {
        "start_statement_us": round(1e6 * (middle - started) / count, 1),
        "rotate_statement_us": round(1e6 * (ended - middle) / count, 1),
    }


def main() -> None:
    """Measure and print the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--clients", type=int, default=1, help="client processes")
    parser.add_argument("--profile", type=Path, default=None, help="py-spy collapsed stacks")
    args = parser.parse_args()
    report: dict[str, Any] = {"benchmark": "signin", "users": args.users, "results": []}
    for backend in args.backends.split(","):
        report["results"].append(
            {
                **measure(backend, args.users, args.clients, args.profile),
                "reference": reference(backend),
            }
        )
    report.update(machine())
    print(json.dumps(report))


if __name__ == "__main__":
    main()
