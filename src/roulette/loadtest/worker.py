"""One client process of a load test: its share of the users on one event loop.

Started by :mod:`roulette.loadtest.runner` (multiprocessing, spawn). It reports a
:class:`~roulette.loadtest.stats.Snapshot` at every whole second of the run and a final one
when its last user has stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import random
import time
from dataclasses import dataclass
from multiprocessing.queues import Queue
from typing import Final

import httpx

from roulette.loadtest import scenario as sc
from roulette.loadtest.client import UserError, discover
from roulette.loadtest.options import LoadtestOptions
from roulette.loadtest.stats import Recorder, Snapshot
from roulette.loadtest.user import ActiveUser, IdleUser, UserContext
from roulette.loadtest.wallet import Wallet

__all__ = ["WorkerSpec", "worker_main"]

HTTP_CONNECTIONS: Final = 32
"""Pooled HTTP connections per source address and process (sign-ins are short requests)."""
KEEPALIVE_SECONDS: Final = 2.0
"""Below uvicorn's 5 s keep-alive: reusing a connection the server is closing fails the request."""
HTTP_TIMEOUT: Final = 30.0
"""A sign-in slower than this under load is an error (``http_ReadTimeout``)."""


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    """What one client process runs.

    Attributes:
        number: the process's number, 0-based.
        options: the run's options.
        started_at: the run's start (Unix seconds); the first user starts then.
    """

    number: int
    options: LoadtestOptions
    started_at: float


def worker_main(spec: WorkerSpec, out: Queue[Snapshot]) -> None:
    """Process entry point: run this process's users, reporting snapshots to ``out``.

    Args:
        spec: which users, and the run's options and start.
        out: the parent's snapshot queue.
    """
    logging.getLogger("picows").setLevel(logging.CRITICAL)  # failures are counted, not logged
    try:
        import uvloop  # noqa: PLC0415 - optional speed-up

        uvloop.run(_run(spec, out))
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        asyncio.run(_run(spec, out))


async def _run(spec: WorkerSpec, out: Queue[Snapshot]) -> None:
    options = spec.options
    recorder = Recorder()
    sources = sorted({sc.source_address(i, options.source_count) for i in _indices(spec)})
    clients = {source: _http_client(source) for source in sources}
    try:
        try:
            info = await discover(clients[sources[0]], options.url)
        except UserError as exc:
            recorder.error(exc.kind)
            out.put(recorder.take(spec.number, time.time() - spec.started_at, final=True))
            return
        ctx = UserContext(
            info=info,
            recorder=recorder,
            scenario=sc.Scenario(think_min=options.think_min, think_max=options.think_max),
            deadline=spec.started_at + options.duration,
            heartbeat_interval=options.heartbeat_interval,
        )
        await _run_users(spec, ctx, clients, out)
    finally:
        for client in clients.values():
            await client.aclose()


def _indices(spec: WorkerSpec) -> range:
    options = spec.options
    return sc.users_of_process(spec.number, options.process_count, options.users)


def _http_client(source: str) -> httpx.AsyncClient:
    limits = httpx.Limits(
        max_connections=HTTP_CONNECTIONS,
        max_keepalive_connections=HTTP_CONNECTIONS,
        keepalive_expiry=KEEPALIVE_SECONDS,
    )
    transport = httpx.AsyncHTTPTransport(local_address=source, limits=limits)
    return httpx.AsyncClient(transport=transport, timeout=HTTP_TIMEOUT)


async def _run_users(
    spec: WorkerSpec, ctx: UserContext, clients: dict[str, httpx.AsyncClient], out: Queue[Snapshot]
) -> None:
    options = spec.options
    done = asyncio.Event()
    async with asyncio.TaskGroup() as group:
        group.create_task(_report(spec, ctx.recorder, out, done))
        async with asyncio.TaskGroup() as crowd:
            for index in _indices(spec):
                # Per-user seeds: the same --seed gives the same wallets and choices.
                rng = random.Random(options.seed * 1_000_003 + index)
                wallet = Wallet.generate(rng)
                source = sc.source_address(index, options.source_count)
                kind = IdleUser if sc.is_idle(index, options.idle_fraction) else ActiveUser
                user = kind(ctx, wallet, clients[source], source, rng.getrandbits(64))
                start = sc.start_offset(index, options.users, options.ramp)
                crowd.create_task(user.run(spec.started_at + start))
        done.set()


async def _report(
    spec: WorkerSpec, recorder: Recorder, out: Queue[Snapshot], done: asyncio.Event
) -> None:
    """A snapshot at every whole second of the run, and a final one when ``done`` is set.

    A snapshot is stamped with the second it was due, not when a busy loop got to it, so each
    process fills each second of the timeline once; a lag over a second folds into one.
    """
    second = 1
    while not done.is_set():
        wait = spec.started_at + second - time.time()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, wait)):
                await done.wait()
        if done.is_set():
            break
        second = max(second, int(time.time() - spec.started_at))
        _put(out, recorder.take(spec.number, float(second)))
        second += 1
    out.put(recorder.take(spec.number, time.time() - spec.started_at, final=True))


def _put(out: Queue[Snapshot], snapshot: Snapshot) -> None:
    with contextlib.suppress(queue.Full):  # the parent is far behind: it loses this second
        out.put_nowait(snapshot)
