"""Most concurrent connections one node holds with p99 heartbeat latency under 100 ms.

Starts one ``roulette serve`` process, then ramps idle authenticated sockets in steps (each
step: sign in the step's wallets over HTTP, open their sockets from a fleet of client
processes on 127.0.0.2, 127.0.0.3, …), and after each step measures heartbeat → heartbeat-ack
round trips on a random sample of the open sockets. Stops when p99 reaches the bound or the
process's connection cap (``MAX_CONNECTIONS``, default 19,000: a process may open 20,000
files) is reached, and reports the last good step. The multi-worker figure (``roulette
cluster``) is pending the cluster.

Usage: ``python benchmarks/bench_capacity.py [--step 2000] [--max 19000] [--sample 500]``.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import time
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

PER_PROCESS = 10_000
"""Client sockets per fleet process (under the 20,000 open files a process may have)."""
BOUND_MS = 100.0


def _step(fleet: Fleet, pid: int, count: int, args: argparse.Namespace) -> dict[str, Any]:
    """Add ``count`` sockets, then probe; one row of the report."""
    started = time.monotonic()
    _, login_errors = fleet.login(count)
    opened, errors = fleet.connect()
    ramp_seconds = time.monotonic() - started
    settle(3.0)  # the step's sign-in garbage is collected before we probe
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    rtts, sent = fleet.probe(args.sample, args.probe_seconds)
    cpu_share = (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0)
    return {
        "connections": opened,
        "p50_ms": round(1000 * percentile(rtts, 50), 2),
        "p99_ms": round(1000 * percentile(rtts, 99), 2),
        "max_ms": round(1000 * max(rtts, default=0.0), 2),
        "probes_sent": sent,
        "probes_answered": len(rtts),
        "server_rss_mib": round(rss_bytes(pid) / 2**20, 1),
        "server_cpu_share_while_probing": round(cpu_share, 3),
        "step_seconds": round(ramp_seconds, 1),
        "errors": {**login_errors, **errors},
    }


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Ramp until the bound or the cap; every step's row and the last good one."""
    env = {
        "IDLE_TIMEOUT_SECONDS": "3600",
        "MAX_CONNECTIONS": str(args.max),
        "AUTH_RATE_BURST": "1000000",
        "AUTH_RATE_PER_SECOND": "1000000",
    }
    steps: list[dict[str, Any]] = []
    stop_reason = "cap"
    with roulette_server(env, cpus=server_cpu()) as server:
        processes = math.ceil(args.max / PER_PROCESS)
        fleet = Fleet(server.http_url, server.ws_url, processes=processes, cpus=client_cpus())
        try:
            while not steps or steps[-1]["connections"] < args.max:
                target = min(args.max, (steps[-1]["connections"] if steps else 0) + args.step)
                row = _step(
                    fleet,
                    server.process.pid,
                    target - (steps[-1]["connections"] if steps else 0),
                    args,
                )
                steps.append(row)
                if row["p99_ms"] >= BOUND_MS or row["probes_answered"] < row["probes_sent"]:
                    stop_reason = "latency"
                    break
                if row["connections"] < target:
                    stop_reason = "refused"
                    break
        finally:
            fleet.close()
    good = [s for s in steps if s["p99_ms"] < BOUND_MS and s["probes_answered"] == s["probes_sent"]]
    return {
        "max_connections_p99_under_100ms": good[-1]["connections"] if good else 0,
        "stopped_by": stop_reason,
        "per_process_cap": args.max,
        "steps": steps,
    }


def main() -> None:
    """Measure and print the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step", type=int, default=2000, help="sockets added per step")
    parser.add_argument("--max", type=int, default=19_000, help="the process's MAX_CONNECTIONS")
    parser.add_argument("--sample", type=int, default=500, help="sockets probed per step")
    parser.add_argument("--probe-seconds", type=float, default=5.0)
    args = parser.parse_args()
    report = {"benchmark": "capacity", "bound_p99_ms": BOUND_MS, **measure(args)}
    report["multi_worker"] = "pending: roulette cluster"
    report.update(machine())
    print(json.dumps(report))


if __name__ == "__main__":
    main()
