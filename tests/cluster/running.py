"""Start a real ``python -m roulette.cluster`` on ports it binds itself (port 0, reported on
its banner line: no race on a probed free port), and talk to it while it runs."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

__all__ = [
    "BOOT_WAIT",
    "TOKEN",
    "RunningCluster",
    "cluster_env",
    "is_alive",
    "is_settled",
    "launch_cluster",
    "ready_pids",
    "running_cluster",
]

BOOT_WAIT = 120.0
"""Seconds to wait for workers to boot: ~1-3 s idle, past 15 s on a loaded 2-core machine."""

TOKEN = "test-management-token-0123456789"

Status = dict[str, Any]


@dataclass
class RunningCluster:
    """A live supervisor process and where to reach it."""

    process: subprocess.Popen[bytes]
    port: int
    ws_port: int
    management_port: int
    log_path: Path
    seen_pids: set[int] = field(default_factory=set)

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}/ws"

    @property
    def management_url(self) -> str:
        return f"http://127.0.0.1:{self.management_port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def status(self) -> Status:
        """``GET /cluster/status`` with the token."""
        response = httpx.get(f"{self.management_url}/cluster/status", headers=_auth(), timeout=10.0)
        response.raise_for_status()
        status: Status = response.json()
        self.seen_pids.update(w["pid"] for w in status["workers"])
        return status

    def set_count(self, count: object) -> httpx.Response:
        """``POST /cluster/workers {"count": count}`` with the token."""
        return httpx.post(
            f"{self.management_url}/cluster/workers",
            json={"count": count},
            headers=_auth(),
            timeout=10.0,
        )

    def health(self) -> int:
        """The status code of ``GET /health`` through the shared port (a new connection)."""
        return httpx.get(f"{self.http_url}/health", timeout=10.0).status_code

    def signal(self, sig: signal.Signals) -> None:
        self.process.send_signal(sig)

    def wait_for(
        self, predicate: Callable[[Status], bool], what: str, timeout: float = BOOT_WAIT
    ) -> Status:
        """Poll the status until ``predicate`` holds; fail with the log after ``timeout``."""
        deadline = time.monotonic() + timeout
        status: Status = {}
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"the supervisor exited while waiting for {what}:\n{self.log()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                status = self.status()
                if predicate(status):
                    return status
            time.sleep(0.05)
        raise AssertionError(f"no {what} after {timeout}s; last status {status}\n{self.log()}")

    def wait_ready(self, count: int, timeout: float = BOOT_WAIT) -> Status:
        """Wait until exactly ``count`` workers exist, all READY, nothing else running."""
        return self.wait_for(lambda s: is_settled(s, count), f"{count} ready workers", timeout)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then wait; returns the exit code (SIGKILL after ``timeout``)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def is_settled(status: Status, count: int) -> bool:
    """``count`` workers, all READY, in slots 1..count, and the desired count agrees."""
    workers = status["workers"]
    return (
        status["desired"] == count
        and len(workers) == count
        and all(w["state"] == "ready" for w in workers)
        and sorted(w["id"] for w in workers) == list(range(1, count + 1))
    )


def ready_pids(status: Status) -> dict[int, int]:
    """Slot → pid of the READY workers."""
    return {w["id"]: w["pid"] for w in status["workers"] if w["state"] == "ready"}


def is_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _is_worker(pid: int) -> bool:
    """An ``exec``'d worker, or one forked from the zygote (it keeps the zygote's command line)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"roulette\x00worker" in cmdline or b"roulette\x00zygote" in cmdline


def cluster_env(tmp_path: Path, extra: Mapping[str, str | None] | None) -> dict[str, str]:
    """A private data dir, port 0 everywhere, short drains, the test token, no inherited stores.

    A None in ``extra`` removes that variable.
    """
    skip = ("REDIS_", "DATABASE_", "PROMETHEUS_", "CLUSTER_", "MANAGEMENT_", "PYTHONDONTWRITE")
    env = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    env |= {
        "DATA_DIR": str(tmp_path / "data"),
        "PORT": "0",
        "WS_PORT": "0",
        "MANAGEMENT_PORT": "0",
        "MANAGEMENT_TOKEN": TOKEN,
        "SIWE_DOMAIN": "127.0.0.1:0",  # the supervisor names the bound port in it
        "STUN_SERVERS": "",
        "SHUTDOWN_TIMEOUT_SECONDS": "5",
        "LB_DRAIN_SECONDS": "0.5",  # a registered node answers "drain" this long first
        "LOG_LEVEL": "info",
        "PYTHONUNBUFFERED": "1",
        # One bytecode cache for the test session (outside the source tree): a replacement
        # worker then starts in ~1.6 s instead of ~5.8 s compiling every module again
        # (docs/performance.md, "Worker start"), which is most of a kill-and-replace repetition.
        "PYTHONPYCACHEPREFIX": str(tmp_path.parent / "pycache"),
    }
    for name, value in (extra or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


BANNER = re.compile(
    rb"roulette cluster \(pid \d+\): \d+ worker\(s\) on http://[^ ]+:(\d+) and "
    rb"ws://[^ ]+:(\d+)/ws; management API (?:http://[^ ]+:(\d+)|off)"
)
"""The line the supervisor prints once its ports are bound (0 when the API is off)."""


def launch_cluster(
    tmp_path: Path, env: Mapping[str, str], command: list[str], timeout: float = BOOT_WAIT
) -> RunningCluster:
    """Start ``command`` (a supervisor) and return it once its banner named its ports, or
    once it exited without one (a refused start: its ports are then 0)."""
    log_path = tmp_path / "cluster.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while (match := BANNER.search(log_path.read_bytes())) is None:
        if process.poll() is not None:
            return RunningCluster(process, 0, 0, 0, log_path)
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise AssertionError(f"no banner from the supervisor:\n{log_path.read_text()}")
        time.sleep(0.02)
    ports = int(match[1]), int(match[2]), int(match[3] or 0)
    return RunningCluster(process, *ports, log_path)


@contextlib.contextmanager
def running_cluster(
    tmp_path: Path,
    env: Mapping[str, str | None],
    *,
    args: tuple[str, ...] = (),
    ready: int | None = 2,
) -> Iterator[RunningCluster]:
    """A supervisor subprocess (``ready`` workers up on return), stopped and reaped on exit."""
    command = [sys.executable, "-m", "roulette.cluster", *args]
    cluster = launch_cluster(tmp_path, cluster_env(tmp_path, env), command)
    try:
        if ready is not None:
            cluster.wait_ready(ready)
        yield cluster
    finally:
        cluster.stop()
        for pid in cluster.seen_pids:
            if is_alive(pid) and _is_worker(
                pid
            ):  # a worker the supervisor failed to stop must not hold the ports
                os.kill(pid, signal.SIGKILL)


def _auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
