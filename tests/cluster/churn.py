"""A user who joins, gets matched and skips (``next``) in a loop, recording everything it is told.

Used by the fault tests: it keeps going through errors the service may answer during a fault
(``state_unavailable``: try again shortly), rejoins after ``queue-reset`` and after its peer
left, and keeps the facts the assertions need: every message, the sessions it saw begin, and
what it believes its session is now.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass, field
from typing import Any

from support.users import User

__all__ = ["ALLOWED_ERRORS", "Churner", "one_sided"]

NEXT_EVERY = 2.1
"""``next`` is allowed once per 2 s per socket."""

RETRY_AFTER = 0.4
"""Pause before asking again after one of :data:`RETRIED`."""

RETRIED = {"state_unavailable", "rate_limited"}
"""Answers that mean "not now": the user asks again (a refused join would strand it)."""

ALLOWED_ERRORS = {"state_unavailable", "already_in_session", "not_in_session", "rate_limited"}
"""Answers a user racing its own peer, or a failover, may fairly get; never internal_error."""


@dataclass
class Churner:
    """One user's loop and its record."""

    user: User
    rng: random.Random
    churning: bool = True
    messages: list[dict[str, Any]] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    ends_of_unseen: list[dict[str, Any]] = field(default_factory=list)
    current: str | None = None
    peer: str | None = None
    matches: int = 0
    _next_at: float | None = None
    _last_next: float = 0.0
    _retry_at: float | None = None

    @property
    def address(self) -> str:
        return self.user.address

    def errors(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == "error"]

    async def run(self, done: asyncio.Event) -> None:
        """Churn until ``done``; after :attr:`churning` is cleared, only rejoin when needed."""
        await self._join()
        while not done.is_set():
            with contextlib.suppress(TimeoutError):
                self._on(await self.user.recv(timeout=0.1))
            await self._act(time.monotonic())

    def _on(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
        kind, now = message["type"], time.monotonic()
        if kind == "match-found":
            self.current, self.peer = message["sessionId"], message["peerId"]
            self.seen.add(message["sessionId"])
            self.matches += 1
            self._next_at = now + self.rng.uniform(0.2, 1.2)
        elif kind == "session-ended":
            if message["sessionId"] not in self.seen:
                self.ends_of_unseen.append(message)
            if message["sessionId"] == self.current:
                self.current = self.peer = None
            if message["reason"] != "next":  # after our own next the server requeues us
                self._retry_at = now
        elif kind == "queue-reset":
            self._retry_at = now
        elif kind == "error" and message.get("code") in RETRIED:
            self._retry_at = now + RETRY_AFTER

    async def _act(self, now: float) -> None:
        if self._retry_at is not None and now >= self._retry_at:
            self._retry_at = None
            if self.current is None:
                await self._join()
            elif self.churning:
                self._next_at = now
        can_skip = self.churning and self.current is not None and self._next_at is not None
        if can_skip and now >= self._next_at and now - self._last_next >= NEXT_EVERY:  # type: ignore[operator]
            self._next_at, self._last_next = None, now
            await self.user.send({"type": "next"})

    async def _join(self) -> None:
        await self.user.send({"type": "join-queue", "chainId": 1})


def one_sided(churners: list[Churner]) -> list[tuple[str, str | None, str | None]]:
    """Users who believe they are in a session their peer does not believe in."""
    by_address = {c.address: c for c in churners}
    found: list[tuple[str, str | None, str | None]] = []
    for churner in churners:
        if churner.current is None or churner.peer is None:
            continue
        peer = by_address.get(churner.peer)
        if peer is None or peer.current != churner.current:
            found.append((churner.address, churner.current, peer.current if peer else None))
    return found
