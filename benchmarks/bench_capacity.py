"""Most concurrent connections one node holds with p99 heartbeat latency under 100 ms.

Starts one ``roulette serve`` process, then ramps idle authenticated sockets in steps (each
step: sign in the step's wallets over HTTP, open their sockets from a fleet of client
processes on 127.0.0.2, 127.0.0.3, …), and after each step measures heartbeat → heartbeat-ack
round trips on a random sample of the open sockets. Stops when p99 reaches the bound or the
process's connection cap (``MAX_CONNECTIONS``, default 19,000: a process may open 20,000
files) is reached, and reports the last good step.

``--workers N`` measures a whole node instead: ``roulette cluster`` with N workers on one
``redis-server`` (every worker accepts on the same port, each capped at ``--max``), unpinned.

Usage: ``python benchmarks/bench_capacity.py [--workers 0] [--step 2000] [--max 19000]
[--sample 500]``.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
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

from cluster.running import ready_pids, running_cluster
from storage.redis_fixtures import RedisServer
from support.server import free_port

PER_PROCESS = 10_000
"""Client sockets per fleet process (under the 20,000 open files a process may have)."""
BOUND_MS = 100.0


@dataclass
class Node:
    """Where the fleet connects, and the server processes to read /proc of."""

    http_url: str
    ws_url: str
    pids: Callable[[], list[int]]


@contextlib.contextmanager
def single_process(env: dict[str, str]) -> Iterator[Node]:
    """One ``roulette serve``, pinned to core 0."""
    with roulette_server(env, cpus=server_cpu()) as server:
        yield Node(server.http_url, server.ws_url, lambda: [server.process.pid])


@contextlib.contextmanager
def cluster(env: dict[str, str], workers: int) -> Iterator[Node]:
    """``roulette cluster`` with ``workers`` workers on a fresh ``redis-server``."""
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else None) as tmp:
        redis = RedisServer(free_port(), Path(tmp) / "redis")
        redis.start()
        try:
            extra = {**env, "REDIS_URL": redis.url, "CLUSTER_WORKERS": str(workers)}
            with running_cluster(Path(tmp), extra | {"LOG_LEVEL": "warning"}, ready=workers) as c:
                yield Node(c.http_url, c.ws_url, lambda: list(ready_pids(c.status()).values()))
        finally:
            redis.stop()


def _step(fleet: Fleet, node: Node, count: int, args: argparse.Namespace) -> dict[str, Any]:
    """Add ``count`` sockets, then probe; one row of the report."""
    started = time.monotonic()
    _, login_errors = fleet.login(count)
    opened, errors = fleet.connect()
    ramp_seconds = time.monotonic() - started
    settle(3.0)  # the step's sign-in garbage is collected before we probe
    pids = node.pids()
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
        "server_rss_mib": round(sum(map(rss_bytes, pids)) / 2**20, 1),
        "server_cpu_share_while_probing": round(cpu_share, 3),
        "step_seconds": round(ramp_seconds, 1),
        "errors": {**login_errors, **errors},
    }


def _is_good(row: dict[str, Any]) -> bool:
    return bool(row["p99_ms"] < BOUND_MS and row["probes_answered"] == row["probes_sent"])


def ramp(node: Node, total: int, step: int, args: argparse.Namespace) -> tuple[list[Any], str]:
    """Steps until the bound, a refused socket or ``total``; the rows and why it stopped.

    A failed sign-in does not stop the ramp (it is counted in the step's ``errors``).
    """
    processes = math.ceil(total / PER_PROCESS)
    pinned = client_cpus() if args.workers == 0 else None
    fleet = Fleet(node.http_url, node.ws_url, processes=processes, cpus=pinned)
    steps: list[dict[str, Any]] = []
    try:
        for _ in range(math.ceil(total / step) + 2):  # a few more if sign-ins failed
            held = steps[-1]["connections"] if steps else 0
            if held >= total:
                break
            target = min(total, held + step)
            steps.append(_step(fleet, node, target - held, args))
            if not _is_good(steps[-1]):
                return steps, "latency"
            if steps[-1]["errors"].get("handshake_503"):  # full even after retries
                return steps, "refused"
    finally:
        fleet.close()
    return steps, "cap"


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Ramp until the bound or the cap; every step's row and the last good one."""
    env = {
        "IDLE_TIMEOUT_SECONDS": "3600",
        "MAX_CONNECTIONS": str(args.max),
        "AUTH_RATE_BURST": "1000000",
        "WS_HANDSHAKE_IP_BURST": "1000000",
        "AUTH_RATE_PER_SECOND": "1000000",
    }
    workers = max(args.workers, 1)
    total, step = args.max * workers, args.step * workers
    node = cluster(env, args.workers) if args.workers else single_process(env)
    with node as running:
        steps, stop_reason = ramp(running, total, step, args)
    good = [row for row in steps if _is_good(row)]
    return {
        "server": f"roulette cluster, {args.workers} workers" if args.workers else "roulette serve",
        "max_connections_p99_under_100ms": good[-1]["connections"] if good else 0,
        "stopped_by": stop_reason,
        "per_process_cap": args.max,
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
    args = parser.parse_args()
    report = {"benchmark": "capacity", "bound_p99_ms": BOUND_MS, **measure(args)}
    report.update(machine())
    print(json.dumps(report))


if __name__ == "__main__":
    main()
