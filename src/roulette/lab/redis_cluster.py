"""The lab's 6-node Redis Cluster (3 masters, 3 replicas) as real ``redis-server`` processes.

Persistence is off (the lab's durable data lives in SQL); each node keeps its ``nodes.conf``
in its own directory, so a node started again rejoins the cluster it belonged to.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

import redis

from roulette.lab.processes import spawn

__all__ = [
    "NODE_TIMEOUT_MS",
    "create_cluster",
    "is_healthy",
    "masters",
    "start_node",
    "wait_healthy",
]

NODE_TIMEOUT_MS = 2000
"""``cluster-node-timeout``: a dead master's replica is promoted a few seconds after this."""
STARTUP_SECONDS = 30.0


def _binary(name: str) -> str:
    return shutil.which(name) or f"/usr/bin/{name}"


def node_dir(root: Path, port: int) -> Path:
    """Where node ``port`` keeps its log and ``nodes.conf``."""
    return root / "redis" / str(port)


def start_node(root: Path, port: int, env: Mapping[str, str], announce: str = "") -> int:
    """Start (or start again) the cluster node on ``port``; waits for PING. Returns its pid.

    ``announce``: the lab bridge's address (``--netns``): the node listens there too and
    announces it to the cluster, so redirections point where namespaced nodes can connect.

    Raises:
        RuntimeError: it did not answer within the start-up allowance.
    """
    directory = node_dir(root, port)
    directory.mkdir(parents=True, exist_ok=True)
    argv = [_binary("redis-server"), "--port", str(port), "--bind", "127.0.0.1"]
    if announce:
        argv.append(announce)  # `--bind` takes several addresses
        argv += ["--cluster-announce-ip", announce]
        # Protected mode accepts loopback clients only; the bridge is private to this machine
        # (no route leaves it), so the lab's namespaced nodes may connect without a password.
        argv += ["--protected-mode", "no"]
    argv += ["--save", "", "--appendonly", "no", "--dir", str(directory)]
    argv += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
    argv += ["--cluster-node-timeout", str(NODE_TIMEOUT_MS), "--repl-diskless-sync-delay", "0"]
    argv += ["--daemonize", "no", "--logfile", ""]
    pid = spawn(argv, env, directory / "redis.log")
    deadline = time.monotonic() + STARTUP_SECONDS
    while not _answers(port):
        if time.monotonic() > deadline:
            raise RuntimeError(f"redis-server on {port} did not start (see {directory})")
        time.sleep(0.05)
    return pid


def _client(port: int) -> redis.Redis:
    return redis.Redis(port=port, socket_timeout=2, socket_connect_timeout=2)


def _answers(port: int) -> bool:
    with contextlib.closing(_client(port)) as control:
        try:
            return bool(control.ping())
        except redis.RedisError:
            return False


def create_cluster(ports: list[int], host: str = "127.0.0.1") -> None:
    """Join the fresh nodes on ``ports`` into one cluster, one replica per master.

    Raises:
        RuntimeError: ``redis-cli --cluster create`` failed.
    """
    argv = [_binary("redis-cli"), "--cluster", "create"]
    argv += [f"{host}:{port}" for port in ports]
    argv += ["--cluster-replicas", "1", "--cluster-yes"]
    done = subprocess.run(argv, capture_output=True, timeout=60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"redis-cli --cluster create failed: {done.stdout!r} {done.stderr!r}")


def is_healthy(port: int) -> bool:
    """The node answers, sees ``cluster_state:ok`` with 3 masters, and a replica is synced."""
    with contextlib.closing(_client(port)) as control:
        try:
            raw = control.execute_command("CLUSTER", "INFO")  # type: ignore[no-untyped-call]
            info = raw.decode() if isinstance(raw, bytes) else str(raw)
            replication = control.info("replication")
        except redis.RedisError:
            return False
    synced = replication.get("role") == "master" or replication.get("master_link_status") == "up"
    return "cluster_state:ok" in info and "cluster_size:3" in info and synced


def wait_healthy(ports: list[int], timeout: float) -> bool:
    """Wait until every node on ``ports`` is healthy; returns whether they got there."""
    deadline = time.monotonic() + timeout
    while not all(is_healthy(port) for port in ports):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def masters(ports: list[int]) -> list[int]:
    """The ports of the nodes that are masters with slots, as the first answering node sees it."""
    for port in ports:
        with contextlib.closing(_client(port)) as control:
            try:
                raw = control.execute_command("CLUSTER", "NODES")  # type: ignore[no-untyped-call]
            except redis.RedisError:
                continue
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        found = []
        for line in text.splitlines():
            fields = line.split()
            if "master" in fields[2] and "fail" not in fields[2] and len(fields) > 8:
                found.append(int(fields[1].split("@")[0].rsplit(":", 1)[1]))
        return sorted(found)
    return []
