"""Three real ``roulette serve`` nodes on one real Redis, and a real ``roulette lb run``."""

from __future__ import annotations

import contextlib
import json
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from support.server import RunningServer, running_server

__all__ = [
    "Balancer",
    "ask",
    "node_env",
    "running_balancer",
    "running_fleet",
    "runtime",
    "stable_port",
]

ACCESS_SECRET = "lb-test-access-secret-0123456789"
REFRESH_SECRET = "lb-test-refresh-secret-0123456789"
CHECK_MS = 300
"""Check interval of the test balancer: a dead node is down within fall x this (+ timeout)."""


@dataclass
class Balancer:
    """A live ``roulette lb run`` and where to reach it."""

    process: subprocess.Popen[bytes]
    port: int
    stats_port: int
    run_dir: Path
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def command(self, line: str) -> str:
        """One runtime-API command on HAProxy's stats socket."""
        return runtime(self.run_dir / "admin.sock", line)

    def servers(self, backend: str = "http") -> dict[str, str]:
        """Server name -> status (UP, DOWN, MAINT, DRAIN, …) of one backend."""
        rows = self.command("show stat").splitlines()
        header = rows[0].lstrip("# ").split(",")
        found = {}
        for row in rows[1:]:
            fields = dict(zip(header, row.split(","), strict=False))
            if fields.get("pxname") == backend and fields["svname"] not in {"BACKEND", "FRONTEND"}:
                found[fields["svname"]] = fields["status"]
        return found

    def wait_servers(self, expected: Mapping[str, str], timeout: float = 30.0) -> None:
        """Until both backends show exactly ``expected`` (name -> status prefix)."""
        deadline = time.monotonic() + timeout
        seen: dict[str, str] = {}
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                seen = self.servers("http")
                ws = self.servers("ws")
                if _matches(seen, expected) and _matches(ws, expected):
                    return
            time.sleep(0.05)
        raise AssertionError(f"servers {seen} never became {dict(expected)}:\n{self.log()}")


def _matches(seen: Mapping[str, str], expected: Mapping[str, str]) -> bool:
    return seen.keys() == expected.keys() and all(
        seen[name].startswith(status) for name, status in expected.items()
    )


def stable_port() -> int:
    """A free port above the kernel's ephemeral range (32768-60999 on Linux by default).

    The balancer's public port is chosen once per module and reused by every balancer: a
    port from the ephemeral range could meanwhile become the local end of some outgoing
    connection (there are thousands in these tests), and HAProxy could not bind it. Probed, not
    0: HAProxy cannot report a port-0 bind, and the nodes' SIWE domain names the port first.
    """
    for port in random.sample(range(61_000, 65_000), 200):
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port above the ephemeral range")


def runtime(path: Path, line: str) -> str:
    """Send one command to an HAProxy stats socket and read the whole reply."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(5.0)
        sock.connect(str(path))
        sock.sendall(line.encode() + b"\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode()


def node_env(redis_url: str, lb_port: int, database_url: str, **extra: str) -> dict[str, str]:
    """A node behind the test balancer: shared Redis, database and JWT keys."""
    domain = f"127.0.0.1:{lb_port}"
    return {
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
        "JWT_ACCESS_SECRET": ACCESS_SECRET,
        "JWT_REFRESH_SECRET": REFRESH_SECRET,
        "SIWE_DOMAIN": domain,
        "ALLOWED_ORIGINS": f"http://{domain}",
        "LB_NODE_TTL_SECONDS": "3",
        "LB_DRAIN_SECONDS": "1",
        "SHUTDOWN_TIMEOUT_SECONDS": "2",
        "INTEREST_WAIT_SECONDS": "0",
        **extra,
    }


def worker_of(server: RunningServer) -> str:
    """A node's worker id, from its own ``/health/ready``."""
    body = httpx.get(f"{server.http_url}/health/ready", timeout=5.0).json()
    return str(body["node"])


@contextlib.contextmanager
def running_fleet(root: Path, envs: list[dict[str, str]]) -> Iterator[dict[str, RunningServer]]:
    """One node per environment, started in order (migrations once), stopped on exit."""
    with contextlib.ExitStack() as stack:
        nodes: dict[str, RunningServer] = {}
        for index, env in enumerate(envs):
            started = running_server(root / f"node{index}", env, startup_timeout=90)
            server = stack.enter_context(started)
            nodes[f"n-{worker_of(server)}"] = server
        yield nodes


@contextlib.contextmanager
def running_balancer(
    root: Path, redis_url: str, port: int, env: Mapping[str, str] | None = None
) -> Iterator[Balancer]:
    """``roulette lb run`` on ``port``; stopped with SIGTERM on exit."""
    root.mkdir(parents=True, exist_ok=True)
    stats_port = stable_port()
    full_env = {
        "PATH": "/usr/sbin:/usr/bin:/bin",
        "PYTHONUNBUFFERED": "1",
        "REDIS_URL": redis_url,
        "DATA_DIR": str(root),
        "LB_RUN_DIR": str(root / "haproxy"),
        "LB_HOST": "127.0.0.1",
        "LB_PORT": str(port),
        "LB_STATS_PORT": str(stats_port),
        "LB_STATS_PASSWORD": "stats-password-0123",
        "LB_CHECK_INTERVAL_MS": str(CHECK_MS),
        "LB_CHECK_RISE": "1",
        "LB_SYNC_SECONDS": "0.2",
        "LB_CONN_PER_IP": "100000",
        "LB_CONN_RATE_PER_IP": "100000",
        "LB_HTTP_RATE_PER_IP": "100000",
        "LOG_LEVEL": "info",
        **(env or {}),
    }
    log_path = root / "lb.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "roulette", "lb", "run"],
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    balancer = Balancer(process, port, stats_port, root / "haproxy", log_path)
    try:
        deadline = time.monotonic() + 20.0
        while not (balancer.run_dir / "admin.sock").exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"balancer did not start:\n{balancer.log()}")
            time.sleep(0.05)
        yield balancer
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def ask(port: int, source: str = "127.0.0.1", path: str = "/health/ready") -> tuple[int, str]:
    """One ``GET`` on a new TCP connection from ``source``: (status, the answering node's
    server name, or the body when it names none)."""
    with socket.create_connection(
        ("127.0.0.1", port), timeout=5.0, source_address=(source, 0)
    ) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: lb\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    with contextlib.suppress(ValueError, KeyError, TypeError):
        return status, "n-" + str(json.loads(body)["node"])
    return status, body.decode(errors="replace")
