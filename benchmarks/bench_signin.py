"""HTTP sign-in throughput of one ``roulette serve`` process, and what each sign-in costs it.

Starts a server pinned to core 0; a client process on core 1 signs in N fresh wallets
(``GET /auth/siwe/nonce``, EIP-4361 message, EIP-191 signature, ``POST /auth/siwe/verify``)
with 64 in flight. Reports sign-ins/s, the server's CPU milliseconds per sign-in (from /proc,
all threads) and, with ``--profile FILE``, the functions py-spy saw on the server's CPU. The
floor is ``bench_siwe.py``'s ``verify_sign_in`` (the parse + checks + secp256k1 recovery alone).

Usage: ``python benchmarks/bench_signin.py [--users 3000] [--profile FILE]``. Prints one JSON
object.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from _fleet import Fleet
from _harness import client_cpus, cpu_seconds, machine, roulette_server, server_cpu
from _profile import Profiler

SERVER_ENV = {"AUTH_RATE_BURST": "1000000", "AUTH_RATE_PER_SECOND": "1000000"}


def measure(users: int, profile: Path | None) -> dict[str, Any]:
    """Sign in ``users`` wallets after a 200-wallet warm-up; rates and CPU per sign-in."""
    with roulette_server(SERVER_ENV, cpus=server_cpu()) as server:
        fleet = Fleet(server.http_url, server.ws_url, processes=1, cpus=client_cpus())
        try:
            fleet.login(200)  # warm-up: imports, caches, the SQLite file
            pid, clients = server.process.pid, [child.pid for child in fleet.children]
            profiler = Profiler(profile) if profile else None
            if profiler is not None:
                profiler.start(pid, 10)
            cpu0, client0 = cpu_seconds(pid), sum(map(cpu_seconds, clients))
            started = time.monotonic()
            tokens, errors = fleet.login(users)
            wall = time.monotonic() - started
            cpu = cpu_seconds(pid) - cpu0
            client = sum(map(cpu_seconds, clients)) - client0
        finally:
            fleet.close()
    result: dict[str, Any] = {
        "sign_ins": users,
        "sign_ins_per_s": round(users / wall, 1),
        "server_cpu_ms_per_sign_in": round(1000 * cpu / users, 3),
        "server_cpu_share": round(cpu / wall, 3),
        "client_cpu_ms_per_sign_in": round(1000 * client / users, 3),
        "tokens": tokens - 200,
        "errors": errors,
    }
    if profiler is not None:
        result["profile_top_self"] = profiler.finish()
    return result


def main() -> None:
    """Measure and print the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--profile", type=Path, default=None, help="py-spy collapsed stacks")
    args = parser.parse_args()
    report = {"benchmark": "signin", **measure(args.users, args.profile)}
    report.update(machine())
    print(json.dumps(report))


if __name__ == "__main__":
    main()
