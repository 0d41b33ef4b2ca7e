"""Each worker's own listening sockets (``SO_REUSEPORT``): the kernel spreads connections evenly.

Linux picks a listener of a ``SO_REUSEPORT`` group by a keyed hash of the connection's 4-tuple
(``inet_ehashfn`` with a per-boot secret, then ``reciprocal_scale``), so with distinct source
ports each connection lands on one of the k listeners independently and uniformly: a worker's
count is Binomial(n, 1/k).

The bound: with n = :data:`CONNECTIONS` = 1,500 connections over k = 3 workers, the fair share
is 500 and the bound 1.2 × 500 = 600. P(Binomial(1500, 1/3) > 600) = 2.9e-8 (the exact sum;
z = 5.5), so by the union bound over the 3 workers a round fails falsely with probability at
most 8.6e-8, and the cluster test, two rounds, at most 1.7e-7 per run. With a few hundred
connections the same bound would fail falsely about once in 50 runs (300: 2e-2), hence 1,500.
Three workers, not more: each boots in 3-20 s on a loaded 2-core machine, and the test pays
their boots and a replacement's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from cluster.running import RunningCluster, is_settled, ready_pids, running_cluster
from roulette.cluster.process import PER_WORKER_SOCKETS, Listeners

CONNECTIONS = 1500
FAIR_SHARE_BOUND = 1.2
WORKERS = 3
SOURCES = ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5")
CONCURRENCY = 32
REQUEST_TIMEOUT = 30.0
BOOT_WAIT = 240.0
"""Seconds three workers may take to boot: ~5 s on an idle machine, over 60 s at load 20."""

needs_reuseport = pytest.mark.skipif(not PER_WORKER_SOCKETS, reason="Linux SO_REUSEPORT")


@contextlib.contextmanager
def bound(per_worker: bool) -> Iterator[Listeners]:
    listeners = Listeners.bind("127.0.0.1", 0, 0, per_worker=per_worker)
    try:
        yield listeners
    finally:
        listeners.close()


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5.0)


@needs_reuseport
def test_the_parents_sockets_hold_the_ports_but_take_no_connection() -> None:
    with bound(per_worker=True) as listeners:
        http_port, ws_port = listeners.ports
        for port in (http_port, ws_port):
            with pytest.raises(ConnectionRefusedError):
                connect(port)


@needs_reuseport
def test_a_workers_sockets_join_the_ports_while_open_and_leave_when_closed() -> None:
    with bound(per_worker=True) as listeners:
        with listeners.for_worker() as (http, ws):
            assert (http.getsockname()[1], ws.getsockname()[1]) == listeners.ports
            assert (http.fileno(), ws.fileno()) != (listeners.http.fileno(), listeners.ws.fileno())
            ws.listen()  # what the worker's event loop does once it serves
            with contextlib.closing(connect(listeners.ports[1])):
                accepted, _ = ws.accept()
                accepted.close()
        # Closed here and in no child: the group is back to the parent's non-listening socket.
        with pytest.raises(ConnectionRefusedError):
            connect(listeners.ports[1])


def test_without_reuseport_every_worker_shares_the_parents_listening_sockets() -> None:
    with bound(per_worker=False) as listeners, listeners.for_worker() as (http, ws):
        assert (http, ws) == (listeners.http, listeners.ws)
        with contextlib.closing(connect(listeners.ports[0])):
            accepted, _ = http.accept()
            accepted.close()


async def _worker_of_one_connection(port: int, source: str) -> str:
    """``GET /health`` on a new connection from ``source``: which worker answered."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    try:
        writer.write(b"GET /health HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        response = await reader.read()
    finally:
        writer.close()
    # 503 ("degraded": a dependency's probe was slow on a loaded machine) names the worker too.
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith((b"HTTP/1.1 200", b"HTTP/1.1 503")), response[:200]
    worker: str = json.loads(body)["worker"]
    return worker


async def _spread(port: int, count: int) -> Counter[str]:
    """Connections per answering worker, over ``count`` new connections."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(n: int) -> str:
        async with gate:
            return await _worker_of_one_connection(port, SOURCES[n % len(SOURCES)])

    async with asyncio.timeout(REQUEST_TIMEOUT * count / CONCURRENCY):
        return Counter(await asyncio.gather(*(one(n) for n in range(count))))


def assert_even(spread: Counter[str], workers: set[str]) -> None:
    assert set(spread) == workers, f"answered by {spread}, workers {workers}"
    fair = sum(spread.values()) / len(workers)
    busiest = max(spread.values())
    assert busiest <= FAIR_SHARE_BOUND * fair, f"{busiest} > {FAIR_SHARE_BOUND} x {fair}: {spread}"


def worker_ids(cluster: RunningCluster) -> set[str]:
    return {w["workerId"] for w in cluster.status()["workers"]}


@pytest.fixture
def three_workers(tmp_path: Path, shared_env: dict[str, str]) -> Iterator[RunningCluster]:
    env = shared_env | {"CLUSTER_WORKERS": str(WORKERS), "LOG_LEVEL": "warning"}
    args = ("--boot-timeout", str(BOOT_WAIT))
    with running_cluster(tmp_path, env, args=args, ready=None) as cluster:
        cluster.wait_ready(WORKERS, timeout=BOOT_WAIT)
        yield cluster


@pytest.mark.redis
@pytest.mark.timeout(600)  # 100-300 s at load 15-25, mostly four boots (BOOT_WAIT)
@needs_reuseport
def test_connections_spread_evenly_and_a_replaced_worker_takes_its_share(
    three_workers: RunningCluster,
) -> None:
    cluster = three_workers
    assert_even(asyncio.run(_spread(cluster.port, CONNECTIONS)), worker_ids(cluster))
    # A SIGKILLed worker's sockets close with it; its replacement binds and listens on its own.
    victim = ready_pids(cluster.status())[1]
    os.kill(victim, signal.SIGKILL)
    status = cluster.wait_for(
        lambda s: is_settled(s, WORKERS) and victim not in ready_pids(s).values(),
        "the killed worker replaced",
        timeout=BOOT_WAIT,
    )
    workers = {w["workerId"] for w in status["workers"]}
    assert_even(asyncio.run(_spread(cluster.port, CONNECTIONS)), workers)
