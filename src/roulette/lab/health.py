"""Is each part of the lab healthy? Blocking checks against the real processes."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable
from typing import Any

import httpx

from roulette.lab import redis_cluster
from roulette.lab.processes import is_alive
from roulette.lab.state import LabNode, LabState

__all__ = ["balancer_servers", "http_ok", "node_status", "part_health", "wait_until"]

TIMEOUT = 5.0


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.25) -> bool:
    """Poll ``check`` until it holds or ``timeout`` seconds pass; returns the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError, httpx.HTTPError, ValueError, KeyError):
            if check():
                return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


def http_ok(url: str, auth: tuple[str, str] | None = None) -> bool:
    """True when ``GET url`` answers 200."""
    try:
        return httpx.get(url, timeout=TIMEOUT, auth=auth).status_code == 200
    except httpx.HTTPError:
        return False


def node_status(state: LabState, node: LabNode) -> dict[str, Any]:
    """The node's ``GET /cluster/status`` (management API)."""
    headers = {"Authorization": f"Bearer {state.secrets['management']}"}
    url = f"http://{node.host}:{node.management_port}/cluster/status"
    response = httpx.get(url, headers=headers, timeout=TIMEOUT)
    response.raise_for_status()
    status: dict[str, Any] = response.json()
    return status


def node_ready(state: LabState, node: LabNode) -> bool:
    """Every worker of the node is READY and its HTTP port answers ``/health``."""
    try:
        status = node_status(state, node)
    except (httpx.HTTPError, ValueError):
        return False
    workers = status["workers"]
    ready = len(workers) == state.workers and all(w["state"] == "ready" for w in workers)
    return ready and http_ok(f"http://{node.host}:{node.port}/health")


def worker_pids(state: LabState, node: LabNode) -> list[int]:
    """The pids of the node's live workers."""
    return [int(w["pid"]) for w in node_status(state, node)["workers"]]


def balancer_servers(state: LabState) -> dict[str, str]:
    """``backend/server`` → status (UP, DOWN, MAINT…) from HAProxy's runtime API."""
    path = state.path / "lb" / "haproxy" / "admin.sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(TIMEOUT)
        sock.connect(str(path))
        sock.sendall(b"show stat\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    rows = b"".join(chunks).decode().splitlines()
    header = rows[0].lstrip("# ").split(",")
    found = {}
    for row in rows[1:]:
        fields = dict(zip(header, row.split(","), strict=False))
        if fields.get("svname") not in {None, "BACKEND", "FRONTEND"}:
            found[f"{fields['pxname']}/{fields['svname']}"] = fields["status"]
    return found


def balancer_ready(state: LabState, up: int) -> bool:
    """HAProxy has exactly ``up`` servers UP in each of its two backends and answers."""
    servers = balancer_servers(state)
    for backend in ("http", "ws"):
        mine = [s for name, s in servers.items() if name.startswith(f"{backend}/")]
        if sum(status.startswith("UP") for status in mine) != up:
            return False
    return http_ok(f"{state.app_url}/health")


def registered(state: LabState) -> int:
    """How many nodes the balancer's registry lists (live or not yet pruned)."""
    from redis.cluster import ClusterNode, RedisCluster  # noqa: PLC0415

    from roulette.storage.keys import LB_NODES  # noqa: PLC0415

    nodes = [ClusterNode("127.0.0.1", port) for port in state.redis_ports]  # type: ignore[no-untyped-call]
    with contextlib.closing(RedisCluster(startup_nodes=nodes, socket_timeout=TIMEOUT)) as client:
        return int(client.hlen(LB_NODES))


def part_health(state: LabState) -> list[tuple[str, str, bool]]:
    """One row per part: (name, detail, healthy)."""
    rows: list[tuple[str, str, bool]] = []
    for port in state.redis_ports:
        pid = state.pids.get(f"redis-{port}", 0)
        ok = is_alive(pid) and redis_cluster.is_healthy(port)
        rows.append((f"redis-{port}", f"pid {pid}", ok))
    rows.append(("postgres", f"{state.postgres.mode} :{state.postgres.port}", _pg(state)))
    for node in state.nodes:
        ok = is_alive(node.pid) and node_ready(state, node)
        cut = " (partitioned: `roulette lab chaos heal`)" if node.name in state.partitioned else ""
        detail = f"pid {node.pid} {node.host} http :{node.port} ws :{node.ws_port}{cut}"
        rows.append((node.name, detail, ok))
    lb_ok = is_alive(state.pids.get("lb", 0))
    with contextlib.suppress(OSError, IndexError):
        lb_ok = lb_ok and balancer_ready(state, len(state.nodes))
    rows.append(("lb", f"pid {state.pids.get('lb', 0)} :{state.lb_port}", lb_ok))
    for name, port in (
        ("prometheus", state.prometheus_port),
        ("alertmanager", state.alertmanager_port),
    ):
        if port:
            ok = is_alive(state.pids.get(name, 0)) and http_ok(f"http://127.0.0.1:{port}/-/ready")
            rows.append((name, f"pid {state.pids.get(name, 0)} :{port}", ok))
    return rows


def _pg(state: LabState) -> bool:
    address = ("127.0.0.1", state.postgres.port)
    with contextlib.suppress(OSError), socket.create_connection(address, timeout=TIMEOUT):
        return True
    return False
