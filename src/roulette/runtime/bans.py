"""Bans and sign-outs take effect everywhere within a second, whoever made them.

A ban (admin API, CLI, a future moderator) is three things, and SQL is the one place every
node and the CLI share:

1. the ban row: sign-in, handshakes and joins refuse the wallet from then on;
2. every token family of the wallet revoked (:meth:`ModerationDesk.ban`):
   refresh fails and every access token dies at once, so HTTP calls (reports, blocks) are
   refused;
3. the wallet's live sockets closed (1008): each node runs a :class:`BanWatch` that reads the
   bans made since its last look every ``BAN_POLL_SECONDS`` (0.5 s by default) and closes the
   banned wallets' sockets it holds. The admin API also kicks at once over the cluster bus;
   the poll is what reaches a node when the ban came from the CLI or from no bus at all.

The same poll reads the token families revoked since its last look (a logout on another
node, a reused refresh token) and closes the sockets opened with them (4001).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from roulette.errors import Forbidden, Unauthenticated
from roulette.gateway.hub import Hub
from roulette.identity import Address
from roulette.storage.ports import Lobby, Moderation, TokenFamilies

__all__ = ["BanWatch", "RevocationCursor"]

log = logging.getLogger(__name__)

OVERLAP_SECONDS = 30.0
"""Each poll re-reads this much of the past: a ban written by a process whose clock is a
little behind ours (the CLI on another machine) is still seen."""


@dataclass
class RevocationCursor:
    """Which revocations (bans, revoked families) a node has acted on: pure, time passed in.

    Attributes:
        since: the time of the newest revocation seen (the next poll reads from a bit before).
    """

    since: float
    _seen: dict[str, float] = field(default_factory=dict)

    @property
    def read_from(self) -> float:
        """The time the next poll reads from."""
        return self.since - OVERLAP_SECONDS

    def take(self, entries: list[tuple[str, float]]) -> list[str]:
        """The keys among ``(key, at)`` not acted on yet (a renewed ban counts as new)."""
        fresh = []
        for key, at in entries:
            if self._seen.get(key) != at:
                self._seen[key] = at
                fresh.append(key)
            self.since = max(self.since, at)
        horizon = self.read_from
        for key in [k for k, at in self._seen.items() if at < horizon]:
            del self._seen[key]  # out of the window: it cannot come back from a poll
        return fresh


class BanWatch:
    """Polls SQL for new bans and closes the banned wallets' sockets on this worker."""

    def __init__(
        self,
        moderation: Moderation,
        families: TokenFamilies,
        hub: Hub,
        lobby: Lobby,
        *,
        interval: float,
        wall: Callable[[], float],
    ) -> None:
        self._moderation = moderation
        self._families = families
        self._hub = hub
        self._lobby = lobby
        self._interval = interval
        self._bans = RevocationCursor(since=wall())
        self._revoked = RevocationCursor(since=wall())
        self._stop = asyncio.Event()

    async def run(self) -> None:
        """Poll until :meth:`stop`; a failing database is logged and retried, never fatal."""
        while not self._stop.is_set():
            try:
                await self.poll()
            except Exception as exc:  # the database may be down; the next poll retries
                log.warning("ban_poll_failed error=%s", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._interval)

    async def poll(self) -> list[Address]:
        """Act on the bans and revocations since the last poll; returns the wallets banned anew."""
        bans = await self._moderation.bans_since(self._bans.read_from)
        banned = [Address(a) for a in self._bans.take([(b.address, b.banned_at) for b in bans])]
        for address in banned:
            conn = self._hub.get(address)
            if conn is not None:
                log.info("banned_socket_closed address=%s", address)
                conn.close_for(Forbidden("banned"))
            await self._lobby.leave(address)
        revoked = await self._families.revoked_since(self._revoked.read_from)
        fresh = set(self._revoked.take([(f.family_id, f.revoked_at) for f in revoked]))
        for family in revoked:
            conn = self._hub.get(family.address)
            if family.family_id in fresh and conn and conn.claims.family_id == family.family_id:
                conn.close_for(Unauthenticated("signed out"))  # no-op after a ban's close
        return banned

    def stop(self) -> None:
        """End :meth:`run` after the current poll."""
        self._stop.set()
