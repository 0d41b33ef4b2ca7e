"""Real ``redis-server`` processes for the tests: a standalone server and a 6-node cluster.

Each server runs in its own temp directory with persistence off, on a port the tests pick (never
the machine's own 6379): redis-server cannot report the port of a port-0 bind, so the port is
probed, and a restarted server must come back on the same one. A cluster's bus port is its
port + 10000, so cluster blocks sit well below the ephemeral range: 7000-7005 when free, else
the next free block of ten above it.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis

from roulette.lab.ports import free_port, is_free

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"
NODE_TIMEOUT_MS = 2000
STARTUP_SECONDS = 10.0
FIRST_CLUSTER_PORT = 7000

__all__ = [
    "FIRST_CLUSTER_PORT",
    "RedisCluster",
    "RedisServer",
    "free_block",
    "free_port",
    "running_cluster",
    "running_sentinel",
    "running_server",
]


def free_block(start: int = FIRST_CLUSTER_PORT, size: int = 6, avoid: int | None = None) -> int:
    """The first port of ``size`` free ports (and their bus ports) at ``start`` or above.

    Args:
        start: where to look first; then every tenth port above it.
        size: how many consecutive ports.
        avoid: the first port of a block already taken by this test session.

    Returns:
        The first port of the block.
    """
    for first in range(start, 22_000, 10):
        ports = range(first, first + size)
        if first != avoid and all(is_free(p) and is_free(p + 10_000) for p in ports):
            return first
    raise RuntimeError("no free block of ports for a Redis cluster")


@dataclass
class RedisServer:
    """One ``redis-server`` process that can be stopped, killed and started again."""

    port: int
    directory: Path
    extra: tuple[str, ...] = ()
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """The server's ``redis://`` URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server and wait until it answers PING."""
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        args += ["--logfile", str(self.directory / "redis.log"), *self.extra]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + STARTUP_SECONDS
        while not self.answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on {self.port} did not start")
            time.sleep(0.02)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the server (SIGKILL: as if the machine died) and wait for it to exit."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=10)
        self.process = None

    def client(self) -> redis.Redis:
        """A synchronous control client (the caller closes it)."""
        return redis.Redis(port=self.port, socket_timeout=2, socket_connect_timeout=2)

    def answers(self) -> bool:
        """True when the server replies to PING."""
        with contextlib.closing(self.client()) as control:
            try:
                return bool(control.ping())
            except redis.RedisError:
                return False

    def cluster_info(self) -> str:
        """The text of ``CLUSTER INFO``."""
        with contextlib.closing(self.client()) as control:
            raw = control.execute_command("CLUSTER", "INFO")  # type: ignore[no-untyped-call]
        return raw.decode() if isinstance(raw, bytes) else str(raw)

    def replication(self) -> dict[str, object]:
        """``INFO replication``, parsed."""
        with contextlib.closing(self.client()) as control:
            return dict(control.info("replication"))


@contextlib.contextmanager
def running_server(directory: Path, port: int | None = None) -> Iterator[RedisServer]:
    """A standalone server on a free port, stopped at the end."""
    server = RedisServer(port or free_port(), directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class RedisCluster:
    """Six nodes: three masters, each with one replica."""

    nodes: list[RedisServer]

    @property
    def addresses(self) -> tuple[tuple[str, int], ...]:
        """Every node as ``(host, port)``: the startup nodes of a client."""
        return tuple(("127.0.0.1", node.port) for node in self.nodes)

    def client_env(self) -> dict[str, str]:
        """The environment that points a ``roulette`` process at this cluster."""
        nodes = ",".join(f"{host}:{port}" for host, port in self.addresses)
        return {"REDIS_CLUSTER_ENABLED": "true", "REDIS_CLUSTER_NODES": nodes}

    def node(self, port: int) -> RedisServer:
        """The node listening on ``port``."""
        return next(node for node in self.nodes if node.port == port)

    def wait_healthy(self, timeout: float = 20.0) -> None:
        """Wait until every running node reports ``cluster_state:ok`` and has 3 masters, and
        every replica has synced with its master (a replica that never synced cannot be
        promoted, so a failover test must not start before)."""
        deadline = time.monotonic() + timeout
        while not all(_is_healthy(node) for node in self.nodes if node.process is not None):
            if time.monotonic() > deadline:
                raise RuntimeError("the Redis cluster did not become healthy")
            time.sleep(0.05)


def _is_healthy(node: RedisServer) -> bool:
    try:
        cluster = node.cluster_info()
        replication = node.replication()
    except redis.RedisError:
        return False
    synced = replication.get("role") == "master" or replication.get("master_link_status") == "up"
    return "cluster_state:ok" in cluster and "cluster_size:3" in cluster and synced


@contextlib.contextmanager
def running_cluster(directory: Path, first_port: int) -> Iterator[RedisCluster]:
    """A fresh 6-node cluster on ``first_port``..``first_port + 5``, stopped at the end."""
    extra: tuple[str, ...] = (
        "--cluster-enabled",
        "yes",
        "--cluster-node-timeout",
        str(NODE_TIMEOUT_MS),
    )
    # Replicas sync at once rather than after the default 5 s wait for more of them.
    extra += ("--repl-diskless-sync-delay", "0")
    nodes = [
        RedisServer(port, directory / str(port), (*extra, "--cluster-config-file", "nodes.conf"))
        for port in range(first_port, first_port + 6)
    ]
    cluster = RedisCluster(nodes)
    try:
        for node in nodes:
            node.start()
        create = [REDIS_CLI, "--cluster", "create"]
        create += [f"127.0.0.1:{node.port}" for node in nodes]
        create += ["--cluster-replicas", "1", "--cluster-yes"]
        subprocess.run(create, check=True, capture_output=True, timeout=30)
        cluster.wait_healthy()
        yield cluster
    finally:
        for node in nodes:
            node.stop()


@contextlib.contextmanager
def running_sentinel(directory: Path, master: RedisServer, name: str) -> Iterator[int]:
    """A Sentinel watching ``master`` under ``name``; yields its port."""
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = directory / "sentinel.conf"
    config.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {directory}\n"
        f"sentinel monitor {name} 127.0.0.1 {master.port} 1\n"
        f"sentinel down-after-milliseconds {name} {NODE_TIMEOUT_MS}\n"
    )
    process = subprocess.Popen(
        [REDIS_SERVER, str(config), "--sentinel", "--logfile", str(directory / "sentinel.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    sentinel = RedisServer(port, directory)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not sentinel.answers():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis-sentinel did not start")
            time.sleep(0.02)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
