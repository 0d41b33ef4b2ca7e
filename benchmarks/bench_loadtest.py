"""The roulette-shaped load test against one ``roulette serve`` process, end to end.

Starts a server (sign-in rate limit lifted: every virtual user signs in from a few loopback
addresses) and runs the load generator (``roulette.loadtest``) against it: wallets sign in with
EIP-4361, queue, exchange SDP offer/answer, ICE candidates and chat, stay, skip or leave, and
repeat; a share of them only connect and idle. Prints the load generator's JSON summary.

Usage: ``python benchmarks/bench_loadtest.py [--users 2000] [--idle-fraction 0.5]
[--duration 60] [--plot benchmarks/results/loadtest.png]``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
from pathlib import Path

from _harness import machine, roulette_server

from roulette.loadtest import LoadtestOptions, run_loadtest

SERVER_ENV = {
    "AUTH_RATE_BURST": "1000000",
    "WS_HANDSHAKE_IP_BURST": "1000000",
    "AUTH_RATE_PER_SECOND": "1000000",
    "IDLE_TIMEOUT_SECONDS": "3600",
}


def main() -> None:
    """Run and print the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--idle-fraction", type=float, default=0.5)
    parser.add_argument("--ramp", type=float, default=20.0)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--plot", type=Path, default=None)
    args = parser.parse_args()
    with roulette_server(SERVER_ENV) as server:
        options = LoadtestOptions(
            url=server.http_url,
            users=args.users,
            ramp=args.ramp,
            duration=args.duration,
            processes=args.processes,
            source_addresses=2,
            idle_fraction=args.idle_fraction,
            output=args.output,
            plot=args.plot,
            live=False,
        ).validate()
        captured = io.StringIO()
        with contextlib.redirect_stdout(captured):
            exit_code = run_loadtest(options)
    report = json.loads(captured.getvalue().splitlines()[-1])
    report.update(benchmark="loadtest", exit_code=exit_code, **machine())
    print(json.dumps(report))


if __name__ == "__main__":
    main()
