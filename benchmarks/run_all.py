"""Run every benchmark, one after the other, and write ``benchmarks/results/latest.json``.

Each benchmark prints one JSON object; this collects them with the exact command, its wall
time and the machine (cores, CPU model, Python, load average before each run: a shared machine
makes figures noisy, and the load says how much). Benchmarks run one at a time so they do not
compete for the cores. Any ``bench_*.py`` not listed below runs too, with no arguments.

Usage: ``python benchmarks/run_all.py [--only relay memory …] [--quick]``; with ``--only`` the
other entries of an existing results file are kept (each entry has its own load average).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _harness import ROOT, machine

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
PLANNED: dict[str, list[str]] = {
    "siwe": [],
    "signin": ["--profile", "benchmarks/results/signin-profile.txt"],
    "relay": [
        "--profile",
        "benchmarks/results/relay-profile.txt",
        "--variant",
        '{"use_aiofastnet": true}',
    ],
    "memory": [
        "--connections",
        "10000",
        "--variant",
        '{"use_aiofastnet": true}',
        "--variant",
        '{"read_buffer_init_size": 4096}',
    ],
    "capacity": [],
    "capacity_cluster": ["--workers", "2"],
    # Issue 15's 100,000 sockets: six workers, the cheap sign-in client, past the bound
    # (the report keeps the last step under it), each step's p99 from 1,000 probes.
    "capacity_100k": [
        "--workers",
        "6",
        "--target",
        "100000",
        "--step",
        "3000",
        "--signers",
        "2",
        "--sample",
        "1000",
        "--past-bound",
        "--node-reference",
        "10000",
    ],
    "signin_app": ["--users", "1000"],
    "signin_storm": [],
    "cross_worker": [],
    "lobby": [],
    "loadtest": ["--ramp", "30", "--plot", "benchmarks/results/loadtest.png"],
    "lb_path": [],
    "boot": ["--runs", "5"],
}
QUICK: dict[str, list[str]] = {
    "signin": ["--users", "300"],
    "signin_app": ["--users", "200"],
    "signin_storm": ["--sockets", "500", "--rate", "100", "--seconds", "3", "--sample", "200"],
    "relay": ["--seconds", "3", "--pairs", "20"],
    "memory": ["--connections", "1000", "--variant", '{"use_aiofastnet": true}'],
    "capacity": ["--step", "500", "--max", "1000", "--sample", "100", "--probe-seconds", "1"],
    "capacity_cluster": ["--workers", "2", "--step", "500", "--max", "1000", "--sample", "100"],
    "lobby": ["--users", "1000"],
    "loadtest": ["--users", "100", "--duration", "10", "--ramp", "2"],
    "lb_path": ["--pairs", "5", "--seconds", "2", "--sockets", "200"],
    "boot": ["--runs", "2"],
}
SCRIPTS = {"capacity_cluster": "capacity", "capacity_100k": "capacity"}
"""Entries that run another entry's script with other arguments."""
TIMEOUT_SECONDS = 3600


def _names(only: list[str] | None) -> list[str]:
    found = sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    names = [n for n in PLANNED if SCRIPTS.get(n, n) in found]
    names += [n for n in found if n not in PLANNED]
    return [n for n in names if not only or n in only]


def run_one(name: str, quick: bool) -> dict[str, Any]:
    """Run ``bench_<name>.py`` (or its SCRIPTS stand-in): its JSON, command, time, exit code."""
    args = (QUICK if quick else PLANNED).get(name, PLANNED.get(name, []))
    command = [sys.executable, f"benchmarks/bench_{SCRIPTS.get(name, name)}.py", *args]
    load = round(os.getloadavg()[0], 2)
    started = time.monotonic()
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False
    )
    entry: dict[str, Any] = {
        "command": shlex.join(["python", *command[1:]]),
        "seconds": round(time.monotonic() - started, 1),
        "exit_code": done.returncode,
        "load_average_before": load,
        "commit": _commit(),  # others may commit while a long run goes on
    }
    lines = done.stdout.strip().splitlines()
    try:
        entry["result"] = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        entry["error"] = (done.stderr or done.stdout)[-2000:]
    return entry


def _commit() -> str:
    rev = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    dirty = subprocess.run(
        ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return rev.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def main() -> None:
    """Run the benchmarks and write the results file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="benchmark names (relay, memory, …)")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    results: dict[str, Any] = {}
    if args.only and args.output.exists():  # a partial run updates the other entries' file
        results = json.loads(args.output.read_text()).get("benchmarks", {})
    for name in _names(args.only):
        print(f"run_all: {name} …", file=sys.stderr, flush=True)
        results[name] = run_one(name, args.quick)
        print(f"run_all: {name} done in {results[name]['seconds']} s", file=sys.stderr)
    report = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _commit(),
        "quick": args.quick,
        "machine": machine(),
        "benchmarks": results,
    }
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({name: entry.get("exit_code") for name, entry in results.items()}))


if __name__ == "__main__":
    main()
