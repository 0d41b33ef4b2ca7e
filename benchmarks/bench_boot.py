"""How long a server takes from ``exec`` until ``/health`` answers: wall and CPU seconds.

Run: ``.venv/bin/python benchmarks/bench_boot.py [--runs 5]``. Prints one JSON object with,
for ``roulette serve`` on the embedded defaults (SQLite in a fresh data directory, in-memory
store), the median wall time and the median CPU time (user + system of the process, read from
/proc at the moment /health first answers 200). CPU time is the robust figure on a loaded
machine: the wall time there mostly measures the other processes. The floor, in the same run:
``python -c pass`` and ``python -c "import fastapi, sqlalchemy"`` (the two frameworks a
server cannot start without). A crashed cluster worker is replaced by the same start path
(``roulette worker`` imports what ``serve`` imports), so this is also its replacement time.

Each row is measured twice. ``cached``: with a bytecode cache (``PYTHONPYCACHEPREFIX`` in a
private directory, filled by one unmeasured start), as in the container image, which installs
with ``UV_COMPILE_BYTECODE=1``. ``uncached``: an empty cache and ``PYTHONDONTWRITEBYTECODE=1``,
so every module is compiled from source on every start — what a checkout run from an
environment with that variable set pays (about two thirds of the start, measured).

``cluster_worker_replaced``: ``roulette cluster`` with two workers on a redis-server the
benchmark starts, run with the installed bytecode (``scripts/bootstrap`` compiles it). Each run
SIGKILLs one worker (slots alternate) and times until ``GET /cluster/status`` shows a READY
replacement (polled every 10 ms): ``replaced_s``. That includes the slot's restart backoff
(0.1 s, then 1.5× per quick repeat: ``backoff_s``); ``boot_s`` is the supervisor's own figure
(``worker_ready … boot_seconds``: spawn → first heartbeat) and ``cpu_s`` the replacement's CPU
when it was seen READY. Measured with the zygote (``CLUSTER_FORK_SERVER=true``, the default on
Linux) and without it (every worker ``exec``'d), in the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _harness import ROOT, cpu_seconds, machine

from cluster.running import is_settled, ready_pids, running_cluster
from storage.redis_fixtures import RedisServer
from support.server import free_port, server_env

TIMEOUT_SECONDS = 60.0
POLL_SECONDS = 0.005
FLOOR = "import fastapi, sqlalchemy"


def _healthy(port: int) -> bool:
    """One raw ``GET /health`` (no client library: the poller must cost next to nothing)."""
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        return s.recv(64).startswith(b"HTTP/1.1 200")
    return False


def _python_env(cache: Path | None) -> dict[str, str]:
    """The child's environment: ``cache`` as its bytecode cache, or none at all."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if cache is None:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="bench-boot-nocache-")
    else:
        env["PYTHONPYCACHEPREFIX"] = str(cache)
    return env


def _serve_once(cache: Path | None) -> dict[str, float]:
    # A probed port, not 0: the clock runs from the spawn to the first /health answer, which
    # the poller can only ask for at a port it knows before the server has printed anything.
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-boot-") as data:
        env = server_env(port, Path(data), {"LOG_LEVEL": "warning", **_python_env(cache)})
        listen = ["--host", "127.0.0.1", "--port", str(port), "--ws-port", str(free_port())]
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-m", "roulette", "serve", *listen],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while not _healthy(port):
                if process.poll() is not None or time.monotonic() - started > TIMEOUT_SECONDS:
                    raise RuntimeError("roulette serve did not become healthy")
                time.sleep(POLL_SECONDS)
            wall = time.monotonic() - started
            cpu = cpu_seconds(process.pid)
        finally:
            process.terminate()
            process.wait(15)
    return {"wall_s": wall, "cpu_s": cpu}


def _python_once(code: str, cache: Path | None) -> dict[str, float]:
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=_python_env(cache))
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"python -c {code!r} failed")
    return {"wall_s": time.monotonic() - started, "cpu_s": usage.ru_utime + usage.ru_stime}


def _median(samples: list[dict[str, float]]) -> dict[str, Any]:
    return {
        "wall_s": round(statistics.median(s["wall_s"] for s in samples), 3),
        "cpu_s": round(statistics.median(s["cpu_s"] for s in samples), 3),
        "runs": len(samples),
    }


def _replacements(redis_url: str, fork_server: bool, runs: int) -> dict[str, Any]:
    """Kill a worker ``runs`` times (alternating slots); the medians of its replacement."""
    env = {
        "CLUSTER_WORKERS": "2",
        "REDIS_URL": redis_url,
        "CLUSTER_FORK_SERVER": str(fork_server).lower(),
        "LOG_LEVEL": "info",  # the supervisor's worker_ready lines carry boot_seconds
        "PYTHONPYCACHEPREFIX": None,  # the installed bytecode, as deployed
    }
    samples: list[dict[str, float]] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-boot-cluster-") as tmp,
        running_cluster(Path(tmp), env) as cluster,
    ):
        for run in range(runs):
            slot = 1 + run % 2
            victim = ready_pids(cluster.wait_ready(2))[slot]
            started = time.monotonic()
            os.kill(victim, signal.SIGKILL)
            while True:
                status = cluster.status()
                pids = ready_pids(status)
                if is_settled(status, 2) and pids[slot] != victim:
                    break
                if time.monotonic() - started > TIMEOUT_SECONDS:
                    raise RuntimeError(f"no replacement after {TIMEOUT_SECONDS} s")
                time.sleep(0.01)
            replaced = time.monotonic() - started
            worker = next(w for w in status["workers"] if w["id"] == slot)
            boot = re.search(
                rf"worker_ready slot={slot} pid={pids[slot]} boot_seconds=([\d.]+)", cluster.log()
            )
            samples.append(
                {
                    "replaced_s": replaced,
                    "backoff_s": worker["backoff"],
                    "boot_s": float(boot[1]) if boot else float("nan"),
                    "cpu_s": cpu_seconds(pids[slot]),
                }
            )
        via = "via=zygote" if fork_server else "via=exec"
        assert cluster.log().count(via) >= runs + 2, "workers not started the way measured"
    return {
        key: round(statistics.median(s[key] for s in samples), 3)
        for key in ("replaced_s", "backoff_s", "boot_s", "cpu_s")
    } | {"runs": runs}


def _cluster_rows(runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-boot-redis-") as tmp:
        redis = RedisServer(port=free_port(), directory=Path(tmp))
        redis.start()
        try:
            return {
                "zygote": _replacements(redis.url, fork_server=True, runs=runs),
                "exec": _replacements(redis.url, fork_server=False, runs=runs),
            }
        finally:
            redis.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="starts per row (median reported)")
    parser.add_argument(
        "--only-cluster", action="store_true", help="only the cluster_worker_replaced row"
    )
    args = parser.parse_args()
    runs = args.runs
    rows: dict[str, Any] = {}
    if args.only_cluster:
        rows["cluster_worker_replaced"] = _cluster_rows(runs)
        print(json.dumps({"benchmark": "boot", "machine": machine(), "rows": rows}))
        return
    with tempfile.TemporaryDirectory(prefix="bench-boot-pycache-") as tmp:
        for label, cache in (("cached", Path(tmp)), ("uncached", None)):
            if cache is not None:  # fill the cache: this start is not measured
                _serve_once(cache)
            rows[label] = {
                "python_pass": _median([_python_once("pass", cache) for _ in range(runs)]),
                "import_fastapi_sqlalchemy": _median(
                    [_python_once(FLOOR, cache) for _ in range(runs)]
                ),
                "import_roulette_cli": _median(
                    [_python_once("import roulette.cli", cache) for _ in range(runs)]
                ),
                "serve_to_health": _median([_serve_once(cache) for _ in range(runs)]),
            }
    rows["cluster_worker_replaced"] = _cluster_rows(runs)
    print(json.dumps({"benchmark": "boot", "machine": machine(), "rows": rows}))


if __name__ == "__main__":
    main()
