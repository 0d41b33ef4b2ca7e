"""Periodic lobby work: pair users whose interest window opened; end sessions at the time limit;
every few passes, audit this worker's sockets against the lobby (:mod:`~roulette.runtime.audit`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from roulette.errors import ServiceError
from roulette.gateway.control import Controller, new_session_id
from roulette.runtime.audit import Audit
from roulette.storage.ports import Lobby

__all__ = ["Sweeper"]

log = logging.getLogger(__name__)

PAIRS_PER_PASS = 256
"""Bounded work per pass; the next pass (a second later) takes the rest."""

AUDIT_EVERY = 3
"""Passes between two audits of this worker's queued users against the shared queue."""


class Sweeper:
    """Runs :meth:`pass_once` every ``interval`` seconds until :meth:`stop`."""

    def __init__(
        self,
        lobby: Lobby,
        controller: Controller,
        *,
        session_max_seconds: float,
        interval: float = 1.0,
        wall: Callable[[], float],
        every_pass: Callable[[], None] = lambda: None,
        audit: Audit | None = None,
    ) -> None:
        self.lobby = lobby
        self.controller = controller
        self.session_max_seconds = session_max_seconds
        self.interval = interval
        self.wall = wall
        self.every_pass = every_pass
        self.audit = audit
        self._stop = asyncio.Event()
        self._passes = 0

    def stop(self) -> None:
        """Finish after the current pass."""
        self._stop.set()

    async def run(self) -> None:
        """Sweep until stopped; a pass the store refuses is logged and retried next time.

        Anything else escapes to :func:`~roulette.runtime.supervised.supervised`.
        """
        while not self._stop.is_set():
            try:
                await self.pass_once()
            except ServiceError as exc:
                log.warning("sweep_failed error=%s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self.interval)

    async def pass_once(self) -> None:
        """One sweep: rematch, then expire (and the per-second chores, e.g. metrics)."""
        self.every_pass()
        now = self.wall()
        ids = [new_session_id() for _ in range(PAIRS_PER_PASS)]
        for session in await self.lobby.rematch(now=now, session_ids=ids):
            await self.controller.announce(session)
        for session in await self.lobby.expire(now=now, max_age=self.session_max_seconds):
            reasons = {session.initiator: "time-limit", session.responder: "time-limit"}
            await self.controller.finish(session, reasons)
        self._passes += 1
        if self._passes % AUDIT_EVERY == 0 and self.audit is not None:
            await self.audit.pass_once()
