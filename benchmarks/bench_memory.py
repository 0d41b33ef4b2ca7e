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

Usage: ``python benchmarks/bench_memory.py [--connections 10000] [--variant JSON …]``.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
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
    args = parser.parse_args()
    ours = measure_ours(args.connections)
    node = measure_node(args.connections)
    report: dict[str, Any] = {"benchmark": "memory", "roulette": ours, "node_ws": node}
    report["roulette_variants"] = [measure_ours(args.connections, v) for v in args.variant]
    report["ratio_ours_to_node"] = round(
        ours["bytes_per_connection"] / max(node["bytes_per_connection"], 1), 2
    )
    report.update(machine())
    print(json.dumps(report))


if __name__ == "__main__":
    main()
