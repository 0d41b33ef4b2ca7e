"""A sign-in storm against one ``roulette serve`` node holding idle authenticated sockets.

After a deploy or a failover users come back all at once, and a node's sign-ins share its
process with the sockets it holds. This starts a server pinned to core 0, opens ``--sockets``
authenticated WebSockets from a fleet of client processes (their wallets signed in by the
cheap client of ``_signin_client.py``), then measures heartbeat → heartbeat-ack round trips
of a sample of them spread over ``--seconds``: first alone (the reference, same run), then
while ``--rate`` sign-ins a second are offered (open loop) for the same time. Reports the
heartbeat percentiles before and during, what the storm got (completed, refused, latency)
and the server's CPU share.

Usage: ``python benchmarks/bench_signin_storm.py [--sockets 10000] [--rate 1000]
[--seconds 10] [--sample 2000] [--clients 2] [--shed-lag-ms 0] [--shed-signin-lag-ms 0]``.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from typing import Any

from _fleet import Fleet, percentile
from _harness import client_cpus, cpu_seconds, machine, roulette_server, server_cpu
from _signin_client import SignInClients, merged_errors

from roulette.balancing.settings import LbSettings

SETUP_ROUNDS = 5
PER_FLEET_PROCESS = 5_000
"""Sockets per fleet process (a process may open 20,000 files; CPU is the tighter bound)."""


def _probe_and_storm(
    fleet: Fleet, clients: SignInClients | None, args: argparse.Namespace
) -> tuple[list[float], list[dict[str, Any]]]:
    """Heartbeat probes, with the storm running at the same time when ``clients`` is given."""
    share, extra = divmod(args.sample, len(fleet.children))
    for n, child in enumerate(fleet.children):
        assert child.stdin is not None
        probe = {"op": "probe", "sockets": share + (n < extra), "seconds": args.seconds}
        child.stdin.write(json.dumps(probe) + "\n")
        child.stdin.flush()
    storm: list[dict[str, Any]] = []
    if clients is not None:
        storm = clients.all({"op": "storm", "rate": args.rate, "seconds": args.seconds}, "rate")
    rtts: list[float] = []
    for child in fleet.children:
        assert child.stdout is not None
        rtts.extend(json.loads(child.stdout.readline())["rtts"])
    return rtts, storm


def _heartbeats(rtts: list[float], sent: int, cpu: float, wall: float) -> dict[str, Any]:
    return {
        "answered": len(rtts),
        "sent": sent,
        "p50_ms": round(1000 * percentile(rtts, 50), 2),
        "p99_ms": round(1000 * percentile(rtts, 99), 2),
        "max_ms": round(1000 * max(rtts, default=0.0), 2),
        "server_cpu_share": round(cpu / wall, 3),
    }


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Open the sockets, probe alone, probe during the storm."""
    env = {
        "IDLE_TIMEOUT_SECONDS": "3600",
        "MAX_CONNECTIONS": str(args.sockets + 1000),
        "AUTH_RATE_BURST": "1000000",
        "AUTH_RATE_PER_SECOND": "1000000",
        "WS_HANDSHAKE_IP_BURST": "1000000",
    }
    if args.shed_lag_ms:
        env["SHED_LAG_MS"] = str(args.shed_lag_ms)
    # Production's sign-in threshold unless told: the test harness's server environment,
    # which this one starts from, raises it for tests that sign users in by the dozen.
    signin_lag_ms = args.shed_signin_lag_ms or LbSettings().shed_sign_in_lag_ms
    env["SHED_SIGNIN_LAG_MS"] = str(signin_lag_ms)
    storm_wallets = math.ceil(args.rate * args.seconds * 1.1)
    with roulette_server(env, cpus=server_cpu()) as server:
        pid = server.process.pid
        clients = SignInClients(
            server.http_url,
            processes=args.clients,
            wallets=2 * args.sockets + storm_wallets,  # setup retries use fresh wallets
            cpus=client_cpus(),
        )
        fleet = Fleet(
            server.http_url,
            server.ws_url,
            processes=max(1, math.ceil(args.sockets / PER_FLEET_PROCESS)),
            cpus=client_cpus(),
        )
        try:
            started = time.monotonic()
            tokens: list[str] = []
            for _ in range(SETUP_ROUNDS):  # a loaded node sheds some (503): sign in again
                missing = args.sockets - len(tokens)
                if missing <= 0:
                    break
                # Few at once: sign-ins are shed from SHED_SIGNIN_LAG_MS (50 ms) of lag on.
                clients.all({"op": "signin", "count": missing, "concurrency": 8}, "count")
                tokens += [t for reply in clients.all({"op": "tokens"}) for t in reply["tokens"]]
            fleet.adopt(tokens)
            opened, open_errors = fleet.connect()
            setup_seconds = time.monotonic() - started
            rows = {}
            for phase, storm_clients in (("alone", None), ("during_storm", clients)):
                cpu0, begun = cpu_seconds(pid), time.monotonic()
                rtts, storm = _probe_and_storm(fleet, storm_clients, args)
                wall, cpu = time.monotonic() - begun, cpu_seconds(pid) - cpu0
                rows[phase] = _heartbeats(rtts, args.sample, cpu, wall)
                if storm:
                    rows["storm"] = _storm_row(storm, args)
        finally:
            fleet.close()
            clients.close()
    return {
        "sockets_open": opened,
        "open_errors": open_errors,
        "setup_seconds": round(setup_seconds, 1),
        **rows,
    }


def _storm_row(replies: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    latencies = [ms for reply in replies for ms in reply["latencies_ms"]]
    completed = sum(reply["completed"] for reply in replies)
    return {
        "offered": sum(reply["offered"] for reply in replies),
        "offered_per_s": args.rate,
        "completed": completed,
        "completed_per_s": round(completed / args.seconds, 1),
        "dropped_by_client": sum(reply["dropped"] for reply in replies),
        "latency_p50_ms": round(percentile(latencies, 50), 1),
        "latency_p99_ms": round(percentile(latencies, 99), 1),
        "errors": merged_errors(replies),
    }


def main() -> None:
    """Measure and print the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=1000.0, help="sign-ins offered per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--sample", type=int, default=2000, help="heartbeats per phase")
    parser.add_argument("--clients", type=int, default=2, help="sign-in client processes")
    parser.add_argument(
        "--shed-lag-ms", type=int, default=0, help="the node's SHED_LAG_MS (0: its default)"
    )
    parser.add_argument(
        "--shed-signin-lag-ms",
        type=int,
        default=0,
        help="the node's SHED_SIGNIN_LAG_MS (0: its default)",
    )
    args = parser.parse_args()
    report = {"benchmark": "signin_storm", **vars(args), **measure(args)}
    report.update(machine())
    print(json.dumps(report))


if __name__ == "__main__":
    main()
