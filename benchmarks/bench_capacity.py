"""Most concurrent connections one node holds with p99 heartbeat latency under 100 ms.

Starts one ``roulette serve`` process, then ramps idle authenticated sockets in steps (each
step: sign in the step's wallets over HTTP, open their sockets from a fleet of client
processes on 127.0.0.2, 127.0.0.3, …), and after each step measures heartbeat → heartbeat-ack
round trips on a random sample of the open sockets. Stops when p99 reaches the bound or the
process's connection cap (``MAX_CONNECTIONS``, default 19,000: a process may open 20,000
files) is reached, and reports the last good step.

``--workers N`` measures a whole node instead: ``roulette cluster`` with N workers on one
``redis-server`` (each worker listens on its own ``SO_REUSEPORT`` socket of the same port and is
capped at ``--max``), unpinned; ``--target`` stops the ramp at that many sockets. Each step then
also reports the sockets per worker (from the supervisor's status) and the busiest worker's
share against the fair one.

Memory per socket: around each step's connects (after its sign-ins, which are not in the
figure) the servers' RSS is read; the sum of those deltas over the sockets held is the RSS per
idle socket. ``--node-reference N`` measures the same for N idle sockets on the Node ``ws``
reference (benchmarks/node/relay.js; one process, so N ≤ 19,000) in the same run.

Usage: ``python benchmarks/bench_capacity.py [--workers 0] [--step 2000] [--max 19000]
[--target N] [--clients 1] [--sample 500] [--node-reference 0] [--time-budget 0]
[--past-bound] [--step-seconds 0] [--postgresql] [--signers 0]``. Each step's row also goes to
stderr as it completes.
``--time-budget`` starts no step that many seconds after the benchmark started, so a long ramp
still ends with its report; ``--past-bound`` goes on ramping after a step's p99 passes the
bound (on a loaded machine: how far the sockets go); ``--step-seconds S`` sizes each next step
to about S seconds of sign-ins at the last step's rate (at most ``--step`` per worker);
``--postgresql`` gives the cluster a fresh database on the machine's PostgreSQL (six workers
writing one SQLite file answer some sign-ins with 503 "database unavailable" under load).
``--signers N`` signs the wallets in from N processes of the cheap raw-HTTP client of the
sign-in benchmarks (``_signin_client.py``, ~0.5 ms of client CPU per sign-in) instead of the
fleet's httpx (~7 ms): 100,000 sign-ins then fit the machine's two cores in minutes.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _fleet import Fleet, percentile
from _harness import (
    client_cpus,
    cpu_seconds,
    machine,
    roulette_server,
    rss_bytes,
    server_cpu,
    settle,
)
from _signin_client import SignInClients, merged_errors
from bench_memory import measure_node

from cluster.running import RunningCluster, running_cluster
from storage.redis_fixtures import RedisServer
from support.postgres import fresh_database
from support.server import free_port

PER_PROCESS = 10_000
"""Client sockets per fleet process (under the 20,000 open files a process may have)."""
BOUND_MS = 100.0
BOOT_SECONDS = 600.0
MAX_STEPS = 500
MIN_STEP = 200
FIRST_STEP = 1000
STARTED = time.monotonic()
"""When this benchmark started: ``--time-budget`` counts from here."""


@dataclass
class Node:
    """Where the fleet connects, and the server processes to read /proc of."""

    http_url: str
    ws_url: str
    pids: Callable[[], list[int]]
    per_worker: Callable[[], list[int]]
    """Sockets held by each server process (one entry for ``roulette serve``)."""


@contextlib.contextmanager
def single_process(env: dict[str, str]) -> Iterator[Node]:
    """One ``roulette serve``, pinned to core 0."""
    with roulette_server(env, cpus=server_cpu()) as server:
        yield Node(server.http_url, server.ws_url, lambda: [server.process.pid], lambda: [])


@contextlib.contextmanager
def cluster(env: dict[str, str], workers: int, postgresql: bool = False) -> Iterator[Node]:
    """``roulette cluster`` with ``workers`` workers on a fresh ``redis-server`` (and a fresh
    database on the machine's PostgreSQL, else SQLite in the data directory)."""
    shm = Path("/dev/shm")
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else None))
        if postgresql:
            name = stack.enter_context(fresh_database("bench_capacity"))
            env = env | {"DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"}
        redis = RedisServer(free_port(), Path(tmp) / "redis")
        redis.start()
        try:
            extra = {**env, "REDIS_URL": redis.url, "CLUSTER_WORKERS": str(workers)}
            # Six workers booting at once on a loaded 2-core machine can take minutes.
            args = ("--boot-timeout", str(BOOT_SECONDS), "--heartbeat-timeout", "60")
            env_ = extra | {"LOG_LEVEL": "warning"}
            with running_cluster(Path(tmp), env_, args=args, ready=None) as c:
                c.wait_ready(workers, timeout=BOOT_SECONDS)
                yield Node(c.http_url, c.ws_url, lambda: _worker_pids(c), lambda: _held(c))
        finally:
            redis.stop()


def _worker_pids(running: RunningCluster) -> list[int]:
    return [w["pid"] for w in running.status()["workers"] if w["state"] == "ready"]


def _held(running: RunningCluster) -> list[int]:
    """Each worker's sockets, as its last heartbeat (≤ 1 s old) reported them."""
    return sorted((w["connections"] for w in running.status()["workers"]), reverse=True)


def _spread(held: list[int]) -> float | None:
    """The busiest worker's sockets over the fair share (1.0 = perfectly even)."""
    total = sum(held)
    return round(max(held) / (total / len(held)), 3) if total else None


def _login(fleet: Fleet, signers: SignInClients | None, count: int) -> dict[str, int]:
    """Sign in ``count`` wallets for the fleet's next connects: by the fleet itself (httpx,
    ~7 ms of client CPU each) or by the cheap raw-HTTP signers, whose tokens it adopts."""
    if signers is None:
        return fleet.login(count)[1]
    replies = signers.all({"op": "signin", "count": count, "concurrency": 64}, "count")
    fleet.adopt([t for reply in signers.all({"op": "tokens"}) for t in reply["tokens"]])
    return merged_errors(replies)


def _step(
    fleet: Fleet, signers: SignInClients | None, node: Node, count: int, args: argparse.Namespace
) -> dict[str, Any]:
    """Add ``count`` sockets, then probe; one row of the report (``rss_delta`` = the bytes the
    servers grew by while the step's sockets opened)."""
    started = time.monotonic()
    login_errors = _login(fleet, signers, count)
    login_seconds = time.monotonic() - started
    settle(2.0)  # the sign-ins' garbage is collected before the reading
    pids = node.pids()
    rss_before = sum(map(rss_bytes, pids))
    opened, errors = fleet.connect()
    ramp_seconds = time.monotonic() - started
    settle(3.0)  # heartbeats carry the new counts; the loop is idle again before we probe
    rss_after = sum(map(rss_bytes, pids))
    held = node.per_worker()
    cpu0, t0 = sum(map(cpu_seconds, pids)), time.monotonic()
    rtts, sent = fleet.probe(args.sample, args.probe_seconds)
    cpu_share = (sum(map(cpu_seconds, pids)) - cpu0) / (time.monotonic() - t0)
    return {
        "connections": opened,
        "p50_ms": round(1000 * percentile(rtts, 50), 2),
        "p99_ms": round(1000 * percentile(rtts, 99), 2),
        "max_ms": round(1000 * max(rtts, default=0.0), 2),
        "probes_sent": sent,
        "probes_answered": len(rtts),
        "per_worker": held,
        "busiest_over_fair_share": _spread(held) if held else None,
        "server_rss_mib": round(rss_after / 2**20, 1),
        "rss_delta": rss_after - rss_before,
        "server_cpu_share_while_probing": round(cpu_share, 3),
        "login_seconds": round(login_seconds, 1),
        "step_seconds": round(ramp_seconds, 1),
        "load_1min": round(os.getloadavg()[0], 2),
        "errors": {**login_errors, **errors},
    }


def _is_good(row: dict[str, Any]) -> bool:
    return bool(row["p99_ms"] < BOUND_MS and row["probes_answered"] == row["probes_sent"])


def ramp(node: Node, total: int, step: int, args: argparse.Namespace) -> tuple[list[Any], str]:
    """Steps until the bound, a refused socket or ``total``; the rows and why it stopped.

    A failed sign-in does not stop the ramp (it is counted in the step's ``errors``).
    """
    processes = max(args.clients, math.ceil(total / PER_PROCESS))
    pinned = client_cpus() if args.workers == 0 else None
    fleet = Fleet(node.http_url, node.ws_url, processes=processes, cpus=pinned)
    signers = None
    if args.signers:  # wallets for every step, with room for failed sign-ins
        wallets = math.ceil(total * 1.2) + 1000
        signers = SignInClients(node.http_url, processes=args.signers, wallets=wallets, cpus=pinned)
    steps: list[dict[str, Any]] = []
    size = min(step, FIRST_STEP) if args.step_seconds else step  # then sized by the rate
    try:
        for _ in range(MAX_STEPS):
            held = steps[-1]["connections"] if steps else 0
            if held >= total:
                break
            if args.time_budget and time.monotonic() - STARTED > args.time_budget:
                return steps, "time"
            target = min(total, held + size)
            steps.append(_step(fleet, signers, node, target - held, args))
            print(json.dumps(steps[-1]), file=sys.stderr, flush=True)  # progress, kept if cut
            if args.step_seconds:  # about that many seconds of sign-ins per step, at most step
                rate = (steps[-1]["connections"] - held) / max(steps[-1]["login_seconds"], 0.1)
                size = max(MIN_STEP, min(step, round(rate * args.step_seconds)))
            if not _is_good(steps[-1]) and not args.past_bound:
                return steps, "latency"
            if steps[-1]["errors"].get("handshake_503"):  # full even after retries
                return steps, "refused"
    finally:
        fleet.close()
        if signers is not None:
            signers.close()
    return steps, "target" if args.target else "cap"


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Ramp until the bound or the cap; every step's row and the last good one."""
    env = {
        "IDLE_TIMEOUT_SECONDS": "3600",
        "MAX_CONNECTIONS": str(args.max),
        "AUTH_RATE_BURST": "1000000",
        "WS_HANDSHAKE_IP_BURST": "1000000",
        "AUTH_RATE_PER_SECOND": "1000000",
        # No shedding because of other people's CPU use or loop lag on a shared machine: the
        # node would refuse sign-ins and handshakes with 503 (bench_memory says the same).
        "AUTO_RECOVERY_ENABLED": "false",
        "SHED_LAG_MS": "60000",
    }
    workers = max(args.workers, 1)
    total, step = min(args.target or args.max * workers, args.max * workers), args.step * workers
    node = cluster(env, args.workers, args.postgresql) if args.workers else single_process(env)
    with node as running:
        steps, stop_reason = ramp(running, total, step, args)
    good = [row for row in steps if _is_good(row)]
    held = steps[-1]["connections"] if steps else 0
    spreads = [row["busiest_over_fair_share"] for row in steps]
    return {
        "server": f"roulette cluster, {args.workers} workers" if args.workers else "roulette serve",
        "max_connections_p99_under_100ms": good[-1]["connections"] if good else 0,
        "stopped_by": stop_reason,
        "per_process_cap": args.max,
        "rss_kib_per_socket": round(sum(r["rss_delta"] for r in steps) / max(held, 1) / 1024, 2),
        "worst_busiest_over_fair_share": max((x for x in spreads if x), default=None),
        "steps": steps,
    }


def main() -> None:
    """Measure and print the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=0, help="0: one `serve`; N: a cluster")
    parser.add_argument("--step", type=int, default=2000, help="sockets added per step, per worker")
    parser.add_argument("--max", type=int, default=19_000, help="MAX_CONNECTIONS per process")
    parser.add_argument("--sample", type=int, default=500, help="sockets probed per step")
    parser.add_argument("--probe-seconds", type=float, default=5.0)
    parser.add_argument("--target", type=int, default=0, help="stop at this many sockets")
    parser.add_argument("--clients", type=int, default=1, help="fewest client processes")
    parser.add_argument("--node-reference", type=int, default=0, help="Node ws idle sockets")
    parser.add_argument("--postgresql", action="store_true", help="workers share PostgreSQL")
    parser.add_argument("--step-seconds", type=float, default=0, help="size steps by rate")
    parser.add_argument("--past-bound", action="store_true", help="go on past p99 ≥ 100 ms")
    parser.add_argument("--signers", type=int, default=0, help="cheap sign-in processes")
    parser.add_argument("--time-budget", type=float, default=0, help="no step after (s from start)")
    args = parser.parse_args()
    report: dict[str, Any] = {"benchmark": "capacity", "bound_p99_ms": BOUND_MS}
    report["load_1min_at_start"] = round(os.getloadavg()[0], 2)
    if args.node_reference:  # first: a ramp cut short by --time-budget still has it
        report["node_ws_reference"] = measure_node(args.node_reference)
        print(json.dumps(report["node_ws_reference"]), file=sys.stderr, flush=True)
    report.update(measure(args))
    if args.node_reference:
        node_kib = report["node_ws_reference"]["kib_per_connection"]
        report["rss_per_socket_ours_to_node"] = round(
            report["rss_kib_per_socket"] / max(node_kib, 0.01), 2
        )
    report.update(machine())
    print(json.dumps(report))


if __name__ == "__main__":
    main()
