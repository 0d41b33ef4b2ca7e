"""Idle memory per authenticated WebSocket at 10,000 connections: ours vs Node.js ``ws``.

For our gateway: start ``roulette serve``, sign in N real wallets (EIP-4361 over HTTP) from a
fleet of client processes, read the server's RSS, open the N authenticated sockets, wait until
each got ``connected``, let the server settle, read the RSS again: (after − before) / N. The
sign-ins happen before the first reading, so the figure is what a live socket costs.
The same for the Node ``ws`` reference (benchmarks/node/relay.js) with N sockets (it needs
no sign-in). Each ``--variant JSON`` adds a run of our server with those keyword arguments
forced onto picows' ``ws_create_server`` (a benchmark-only patch), e.g.
``'{"read_buffer_init_size": 2048}'`` (config has ``Limits.read_buffer_bytes`` = 4096) or
``'{"use_aiofastnet": false}'`` (picows uses aiofastnet's transports when it is installed).
``--tracemalloc`` adds a run of our server under tracemalloc: a snapshot before and after the
sockets open, and the allocation sites that grew, in bytes per socket (Python objects and
``PyMem`` buffers; the tracing itself inflates the RSS, so that run gives no RSS figure).

Usage: ``python benchmarks/bench_memory.py [--connections 10000] [--variant JSON …]
[--tracemalloc]``.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from _fleet import Fleet
from _harness import machine, node_server, roulette_server, rss_bytes, settle

PER_PROCESS = 5000
"""Client sockets per fleet process (well under the 20,000 open files a process may have)."""
SERVER_ENV = {
    "IDLE_TIMEOUT_SECONDS": "3600",  # idle sockets are the point here
    "AUTH_RATE_BURST": "1000000",  # every wallet signs in from a handful of addresses
    "WS_HANDSHAKE_IP_BURST": "1000000",
    "AUTH_RATE_PER_SECOND": "1000000",
    # The node's load shedding reads the machine's CPU: on a shared machine, other people's
    # work would make it refuse our sign-ins and handshakes (503). Not what is measured here.
    "AUTO_RECOVERY_ENABLED": "false",
}


def _fleet_size(connections: int) -> int:
    return max(1, math.ceil(connections / PER_PROCESS))


def measure_ours(connections: int, variant: dict[str, Any] | None = None) -> dict[str, Any]:
    """RSS per authenticated idle socket of one ``roulette serve`` process."""
    with roulette_server(SERVER_ENV, gateway=variant) as server:
        fleet = Fleet(server.http_url, server.ws_url, processes=_fleet_size(connections))
        try:
            tokens, login_errors = fleet.login(connections)
            settle(2.0)
            before = rss_bytes(server.process.pid)
            opened, errors = fleet.connect()
            settle(3.0)
            after = rss_bytes(server.process.pid)
        finally:
            fleet.close()
    return _figure(before, after, opened) | {
        "implementation": "roulette (picows gateway)",
        "gateway_variant": variant or {},
        "signed_in": tokens,
        "errors": {**login_errors, **errors},
    }


def profile_ours(connections: int, top: int = 15) -> dict[str, Any]:
    """What one idle authenticated socket allocates, by allocation site (tracemalloc)."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        roulette_server(SERVER_ENV, tracemalloc_dir=Path(tmp)) as server,
    ):
        fleet = Fleet(server.http_url, server.ws_url, processes=_fleet_size(connections))
        try:
            fleet.login(connections)
            settle(2.0)
            before = _snapshot(server.process.pid, Path(tmp) / "0.snap")
            opened, _ = fleet.connect()
            settle(3.0)
            after = _snapshot(server.process.pid, Path(tmp) / "1.snap")
        finally:
            fleet.close()
        census = [json.loads((Path(tmp) / f"{n}.json").read_text()) for n in (0, 1)]
    grown = after.compare_to(before, "lineno")
    per = max(opened, 1)
    return {
        "connections": opened,
        "traced_bytes_per_connection": round(sum(d.size_diff for d in grown) / per),
        "top_sites": [
            {"site": str(d.traceback), "bytes_per_connection": round(d.size_diff / per, 1)}
            for d in grown[:top]
        ],
        "objects_per_connection": _census_growth(*census, per, top),
    }


def _census_growth(
    before: dict[str, list[int]], after: dict[str, list[int]], per: int, top: int
) -> list[dict[str, Any]]:
    """The object types the collector tracks that grew, per socket (``sys.getsizeof`` bytes:
    the object itself, not what it points to or buffers it allocated)."""
    rows = []
    for name, (count, size) in after.items():
        count0, size0 = before.get(name, (0, 0))
        if count > count0:
            rows.append(
                {
                    "type": name,
                    "count": round((count - count0) / per, 2),
                    "bytes": round((size - size0) / per, 1),
                }
            )
    return sorted(rows, key=lambda row: -row["bytes"])[:top]


def _snapshot(pid: int, path: Path) -> tracemalloc.Snapshot:
    """Ask the server for a snapshot (SIGUSR1) and load it once written."""
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + 600  # a census of every object, on a loaded machine
    while time.monotonic() < deadline:
        if path.exists():  # renamed into place once written
            return tracemalloc.Snapshot.load(str(path))
        time.sleep(0.5)
    raise RuntimeError(f"no snapshot at {path}")


def measure_node(connections: int) -> dict[str, Any]:
    """RSS per idle socket of the Node ``ws`` reference server."""
    with node_server() as server:
        fleet = Fleet("http://127.0.0.1:1", server.ws_url, processes=_fleet_size(connections))
        try:
            settle(1.0)
            before = rss_bytes(server.process.pid)
            opened, errors = fleet.connect(connections)
            settle(3.0)
            after = rss_bytes(server.process.pid)
        finally:
            fleet.close()
    return _figure(before, after, opened) | {"implementation": "node ws", "errors": errors}


def _figure(before: int, after: int, opened: int) -> dict[str, Any]:
    return {
        "connections": opened,
        "rss_before_mib": round(before / 2**20, 1),
        "rss_after_mib": round(after / 2**20, 1),
        "bytes_per_connection": round((after - before) / max(opened, 1)),
        "kib_per_connection": round((after - before) / max(opened, 1) / 1024, 2),
    }


def main() -> None:
    """Measure and print the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument(
        "--variant", action="append", type=json.loads, default=[], help="ws_create_server kwargs"
    )
    parser.add_argument("--tracemalloc", action="store_true", help="allocation sites per socket")
    args = parser.parse_args()
    ours = measure_ours(args.connections)
    node = measure_node(args.connections)
    report: dict[str, Any] = {"benchmark": "memory", "roulette": ours, "node_ws": node}
    report["roulette_variants"] = [measure_ours(args.connections, v) for v in args.variant]
    if args.tracemalloc:
        report["roulette_allocations"] = profile_ours(args.connections)
    report["ratio_ours_to_node"] = round(
        ours["bytes_per_connection"] / max(node["bytes_per_connection"], 1), 2
    )
    report.update(machine())
    print(json.dumps(report))


if __name__ == "__main__":
    main()
