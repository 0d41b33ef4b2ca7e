"""Worker membership: beat every second; notice dead workers and fail their sessions over.

A worker that stops beating (SIGKILL, a hung loop, a lost machine) drops out of the registry
after ``ttl`` seconds. Every other worker then tells its users whose peer lived there
(``peer-disconnected``), and the usual grace period lets those peers resume elsewhere.

A store that comes back empty (Redis restarted without its data) forgets every worker at
once; the first to beat again must not take the others for dead (issue 9, defect 8). Each
beat therefore first reads the store's boot id: a worker that sees a different one than it
knew re-registers and reaps nobody for :data:`RESET_HOLD_SECONDS`, time for every live
worker to notice and beat again. Sessions the store forgot are ended by the audit
(:mod:`~roulette.runtime.audit`), with ``session-ended``, not a false ``peer-disconnected``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable

from roulette.errors import ServiceError
from roulette.gateway.hub import Hub
from roulette.storage.ports import WorkerInfo, WorkerRegistry

__all__ = ["BEAT_SECONDS", "TTL_SECONDS", "Membership"]

log = logging.getLogger(__name__)

BEAT_SECONDS = 1.0
TTL_SECONDS = 3.0
"""A worker silent this long drops out of the registry."""

CONFIRM_SECONDS = TTL_SECONDS
"""A worker must stay out of the registry this long before its users' peers are told: peers
hear of a dead worker within ~7 s. A live worker whose beats fail for a few seconds while a
Redis Cluster fails over lets its key lapse although its sockets are fine (seen once in 34
master kills); it beats again well inside this window, so nobody is told a false
``peer-disconnected`` (issue 9, defect 8)."""

NOTICE_SECONDS = 60.0
"""A worker seen alive this recently still hears of sign-ins (``Hub.workers``): one that missed
a beat or two under load must still close an older socket; telling a dead one costs nothing
(its control stream expires)."""

ANNOUNCE_SECONDS = 10.0
"""How far back the claims sent to a newly seen worker go: it joined at most a few beats ago."""

RESET_HOLD_SECONDS = TTL_SECONDS + 2 * BEAT_SECONDS
"""No reaping this long after start-up or after the store was found reset: every live worker
reads the boot id on each beat, so by then each has noticed and registered again."""


class Membership:
    """Keeps this worker in the registry and reaps sessions whose peer's worker died."""

    def __init__(
        self,
        registry: WorkerRegistry,
        hub: Hub,
        *,
        started_at: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.registry = registry
        self.hub = hub
        self.started_at = started_at
        self.clock = clock
        self.resets = 0
        self._boot_id: str | None = None
        self._seen: dict[str, float] = {}
        self._hold_until = 0.0
        self._outage = False
        self._missing_since: dict[str, float] = {}
        self._stop = asyncio.Event()

    def stop(self) -> None:
        """Finish the loop (the worker leaves the registry)."""
        self._stop.set()

    async def run(self) -> None:
        """Beat and reap once per second until stopped; failures are logged, not fatal."""
        while not self._stop.is_set():
            try:
                await self.beat_once()
            except ServiceError as exc:  # Redis down: keep serving local sessions
                self._outage = True
                log.warning("membership_failed error=%s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), BEAT_SECONDS)
        with contextlib.suppress(Exception):
            await self.registry.leave(self.hub.worker_id)

    async def join(self) -> None:
        """Beat once and learn the live workers before the node takes sockets.

        A socket that signs in the moment the node serves must already know which workers may
        hold its wallet's older socket (``Hub.workers``), or that one is never replaced. A store
        that does not answer does not stop the start: the loop keeps trying.
        """
        try:
            await self.beat_once()
        except ServiceError as exc:
            self._outage = True
            log.warning("membership_failed error=%s", exc)

    async def beat_once(self) -> int:
        """Check the store's boot id, beat, and reap unless on hold; returns how many told."""
        await self.check_boot()
        await self.beat()
        if self._outage:
            # Our beats failed a while: others' may have too, and their keys expired on a
            # promoted replica. Let every worker beat again before judging anyone dead.
            self._outage = False
            self._hold_until = self.clock() + RESET_HOLD_SECONDS
        alive = {w.worker_id for w in await self.registry.alive()}
        self._remember(alive)
        if self.clock() < self._hold_until:
            return 0
        return self.reap(alive)

    def _remember(self, alive: set[str]) -> None:
        """Tell the hub where a signing-in socket's notice goes: every worker seen lately.

        A worker seen for the first time also hears of the claims made here while we did not
        know it yet (up to :data:`ANNOUNCE_SECONDS` back).
        """
        now = self.clock()
        new = frozenset(alive - self._seen.keys())
        self._seen.update(dict.fromkeys(alive, now))
        self._seen = {w: at for w, at in self._seen.items() if now - at <= NOTICE_SECONDS}
        self.hub.workers = frozenset(self._seen)
        if new:
            self.hub.announce(new, int((time.time() - ANNOUNCE_SECONDS) * 1_000_000))

    async def check_boot(self) -> bool:
        """True when the store was found reset since the last beat (then reaping waits)."""
        seen = await self.registry.boot(uuid.uuid4().hex)
        known, self._boot_id = self._boot_id, seen
        if known == seen:
            return False
        self._hold_until = self.clock() + RESET_HOLD_SECONDS
        if known is None:
            return False
        self.resets += 1
        log.warning("store_reset_detected worker=%s boot=%s", self.hub.worker_id, seen)
        return True

    async def beat(self) -> None:
        """Say this worker is alive for another ``TTL_SECONDS``."""
        info = WorkerInfo(
            worker_id=self.hub.worker_id,
            host=socket.gethostname(),
            pid=os.getpid(),
            connections=len(self.hub),
            started_at=self.started_at,
        )
        await self.registry.beat(info, ttl=TTL_SECONDS)

    def reap(self, alive: set[str]) -> int:
        """Tell local users whose peer's worker is gone for good; returns how many were told.

        A worker counts as gone once it has been missing from ``alive`` for
        :data:`CONFIRM_SECONDS` in a row; the record of when each went missing holds only
        workers our own users' peers live on, so it stays as small as the hub.
        """
        dead = self._confirmed_dead(alive)
        told = 0
        for conn in self.hub:
            session, peer = conn.session, conn.peer
            if session is None or peer is None or conn.peer_gone:
                continue
            session = self.hub.route(session)  # the newest route: the peer may have resumed
            if session.worker_of(peer) in dead:
                conn.on_peer_disconnected(session.id, session.epoch)
                told += 1
        if told:
            log.info("reaped_sessions count=%d at=%.0f", told, time.time())
        return told

    def _confirmed_dead(self, alive: set[str]) -> set[str]:
        """The peers' workers missing from ``alive`` for at least :data:`CONFIRM_SECONDS`."""
        now = self.clock()
        missing: dict[str, float] = {}
        for conn in self.hub:
            session, peer = conn.session, conn.peer
            if session is None or peer is None or conn.peer_gone:
                continue
            worker = self.hub.route(session).worker_of(peer)
            if worker != self.hub.worker_id and worker not in alive:
                missing[worker] = self._missing_since.get(worker, now)
        self._missing_since = missing
        return {w for w, since in missing.items() if now - since >= CONFIRM_SECONDS}
