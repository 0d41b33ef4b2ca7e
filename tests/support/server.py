"""Start a real ``roulette serve`` process on ports it binds itself and stop it with SIGTERM."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = ["RunningServer", "bound_ports", "free_port", "running_server"]


def free_port() -> int:
    """A TCP port nobody listens on right now.

    Only for a process that cannot bind port 0 and report the port it got (redis-server,
    HAProxy, anvil, prometheus, aiosmtpd) or for a port where nobody must listen; our own
    servers bind port 0 and print their ports (:func:`running_server`, ``cluster.running``).
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RunningServer:
    """A live server process and where to reach it."""

    process: subprocess.Popen[bytes]
    port: int
    ws_port: int
    data_dir: Path
    log_path: Path

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}/ws"

    @property
    def origin(self) -> str:
        return self.http_url

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, then wait; returns the exit code (SIGKILL after ``timeout``)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def server_env(port: int, data_dir: Path, extra: Mapping[str, str] | None) -> dict[str, str]:
    """The environment of a test server: embedded defaults, a private data dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "DATABASE_"))}
    env.update(
        {
            "DATA_DIR": str(data_dir),
            "SIWE_DOMAIN": f"127.0.0.1:{port}",
            "STUN_SERVERS": "",
            "LOG_LEVEL": "info",
            "PYTHONUNBUFFERED": "1",
            # Hundreds of test users sign in from 127.0.0.1 within a second.
            "AUTH_RATE_BURST": "100000",
            "WS_HANDSHAKE_IP_BURST": "100000",
        }
    )
    env.update(extra or {})
    return env


SERVING = re.compile(rb"roulette serving http://[^ ]+:(\d+) and ws://[^ ]+:(\d+)/ws")
"""The line ``roulette serve`` prints once both listeners are bound and serving."""


@contextlib.contextmanager
def running_server(
    data_dir: Path, env: Mapping[str, str] | None = None, *, startup_timeout: float = 60.0
) -> Iterator[RunningServer]:
    """A ``roulette serve`` subprocess, healthy on return, stopped on exit.

    It binds port 0 for both listeners and reports the ports it got (no race on a probed free
    port); its SIWE domain ``127.0.0.1:0`` becomes ``127.0.0.1:<bound port>``.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "server.log"
    cmd = [sys.executable, "-m", "roulette", "serve", "--host", "127.0.0.1"]
    cmd += ["--port", "0", "--ws-port", "0"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            cmd, env=server_env(0, data_dir, env), stdout=log, stderr=subprocess.STDOUT
        )
    try:
        port, ws_port = bound_ports(process, log_path, startup_timeout)
        server = RunningServer(process, port, ws_port, data_dir, log_path)
    except BaseException:
        process.kill()
        process.wait()
        raise
    try:
        _wait_healthy(server, startup_timeout)
        yield server
    finally:
        server.stop()


def bound_ports(
    process: subprocess.Popen[bytes], log_path: Path, timeout: float
) -> tuple[int, int]:
    """The (HTTP, WebSocket) ports from the server's "serving" line."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = SERVING.search(log_path.read_bytes())
        if match is not None:
            return int(match[1]), int(match[2])
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log_path.read_text(errors='replace')}")
        time.sleep(0.05)
    raise RuntimeError(f"no serving line after {timeout}s:\n{log_path.read_text(errors='replace')}")


def _wait_healthy(server: RunningServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{server.log()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{server.http_url}/health", timeout=1.0).status_code == 200:
                return
        time.sleep(0.05)
    raise RuntimeError(f"server not healthy after {timeout}s:\n{server.log()}")
