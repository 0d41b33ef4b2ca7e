"""Shared parts of the benchmarks: start our server or the Node ``ws`` reference, read /proc.

Servers are started pinned to one core (the affinity is set before ``exec``, so every thread
of the process inherits it) and stopped on exit. Our server runs with a data directory in
/dev/shm when it exists, so sign-ins are not bound by the disk of a shared machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.server import (  # noqa: E402
    RunningServer,
    _wait_healthy,
    bound_ports,
    server_env,
)

NODE_DIR = ROOT / "benchmarks" / "node"

# Runs `roulette serve` with extra keyword arguments for picows' ws_create_server (argv[1], as
# JSON, key "gateway"): the benchmark-only variants that measure what a gateway setting would
# change, e.g. {"read_buffer_init_size": 2048} (config has Limits.read_buffer_bytes = 4096) or
# {"use_aiofastnet": false} (picows uses aiofastnet's transports when it is installed). With key
# "tracemalloc" (a directory), every SIGUSR1 dumps a tracemalloc snapshot there (0.snap, …)
# and a census of the live objects the collector tracks, by type (0.json: count, bytes);
# tracing starts at the first one, so the boot runs at full speed and is not in the figures.
_GATEWAY_VARIANT = """
import collections, gc, itertools, json, os, signal, sys, tracemalloc
import roulette.gateway.server as gateway
options = json.loads(sys.argv.pop(1))
overrides = options.get("gateway") or {}
original = gateway.ws_create_server
async def varied(*args, **kwargs):
    kwargs.update(overrides)
    return await original(*args, **kwargs)
gateway.ws_create_server = varied
if options.get("tracemalloc"):
    numbers = itertools.count()
    def dump(*_):
        if not tracemalloc.is_tracing():
            tracemalloc.start()
        path = f"{options['tracemalloc']}/{next(numbers)}"
        census = collections.defaultdict(lambda: [0, 0])
        for obj in gc.get_objects():
            entry = census[repr(type(obj))]
            entry[0] += 1
            entry[1] += sys.getsizeof(obj)
        with open(path + ".json", "w") as out:
            json.dump(census, out)
        tracemalloc.take_snapshot().dump(path + ".part")
        os.rename(path + ".part", path + ".snap")  # whole once it has its name
    signal.signal(signal.SIGUSR1, dump)
from roulette.cli import main
sys.exit(main(sys.argv[1:]))
"""


def machine() -> dict[str, Any]:
    """Where a figure was measured: cores, CPU model, Python, load at the time."""
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all threads (/proc/<pid>/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    """Resident set size of a process (VmRSS in /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def pinned(cmd: list[str], cpus: set[int] | None) -> list[str]:
    """``cmd`` run under ``taskset`` on ``cpus`` (every thread it starts inherits them)."""
    if not cpus or shutil.which("taskset") is None:
        return cmd
    return ["taskset", "-c", ",".join(map(str, sorted(cpus))), *cmd]


def server_cpu() -> set[int] | None:
    """The core servers run on (core 0), when the machine has more than one."""
    return {0} if (os.cpu_count() or 1) > 1 else None


def client_cpus() -> set[int] | None:
    """The cores benchmark clients run on: all but the server's."""
    count = os.cpu_count() or 1
    return set(range(1, count)) if count > 1 else None


@contextlib.contextmanager
def roulette_server(
    env: Mapping[str, str],
    *,
    gateway: Mapping[str, Any] | None = None,
    cpus: set[int] | None = None,
    tracemalloc_dir: Path | None = None,
) -> Iterator[RunningServer]:
    """A ``roulette serve`` process on ports it binds (port 0, read from its "serving" line),
    healthy on return, stopped on exit.

    ``gateway``: keyword arguments forced onto picows' ``ws_create_server`` (a variant).
    ``tracemalloc_dir``: trace allocations; SIGUSR1 dumps a snapshot there.
    """
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else None) as tmp:
        data_dir = Path(tmp)
        cmd = [sys.executable, "-m", "roulette"]
        if gateway or tracemalloc_dir:
            options = {"gateway": gateway, "tracemalloc": tracemalloc_dir and str(tracemalloc_dir)}
            cmd = [sys.executable, "-c", _GATEWAY_VARIANT, json.dumps(options)]
        cmd += ["serve", "--host", "127.0.0.1", "--port", "0", "--ws-port", "0"]
        log_path = data_dir / "server.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                pinned(cmd, cpus),
                env=server_env(0, data_dir, {"LOG_LEVEL": "warning", **env}),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        server = RunningServer(process, 0, 0, data_dir, log_path)
        try:
            # minutes, not seconds, on a loaded shared machine
            server.port, server.ws_port = bound_ports(process, log_path, 300.0)
            _wait_healthy(server, 300.0)
            yield server
        finally:
            server.stop()


@dataclass
class NodeServer:
    """The Node ``ws`` reference relay (benchmarks/node/relay.js)."""

    process: subprocess.Popen[str]
    port: int

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"


def ensure_node_modules() -> None:
    """Install the locked ``ws`` package (``npm ci``) unless it is already there."""
    if (NODE_DIR / "node_modules" / "ws" / "package.json").exists():
        return
    if shutil.which("npm") is None:
        raise RuntimeError("the Node reference needs node and npm (apt install nodejs npm)")
    subprocess.run(
        ["npm", "ci", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund", "--silent"],
        check=True,
    )


@contextlib.contextmanager
def node_server(cpus: set[int] | None = None) -> Iterator[NodeServer]:
    """The Node reference relay on the port it binds (0: it prints "listening PORT")."""
    ensure_node_modules()
    process = subprocess.Popen(
        pinned(["node", str(NODE_DIR / "relay.js"), "0"], cpus),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("listening"):
            raise RuntimeError(f"node relay did not start: {line!r}")
        yield NodeServer(process, int(line.split()[1]))
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def spawn(args: list[str], cpus: set[int] | None) -> subprocess.Popen[str]:
    """A Python child process on ``cpus`` speaking JSON lines on stdin and stdout."""
    return subprocess.Popen(
        pinned([sys.executable, *args], cpus),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def exchange(
    children: list[subprocess.Popen[str]], commands: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Write one JSON command line to each child process; read one JSON reply line from each."""
    for child, command in zip(children, commands, strict=True):
        assert child.stdin is not None
        child.stdin.write(json.dumps(command) + "\n")
        child.stdin.flush()
    replies = []
    for child in children:
        assert child.stdout is not None
        line = child.stdout.readline()
        if not line:
            raise RuntimeError(f"benchmark client process {child.pid} died")
        replies.append(json.loads(line))
    return replies


def settle(seconds: float) -> None:
    """Give a server time to finish work in flight before a reading."""
    time.sleep(seconds)
