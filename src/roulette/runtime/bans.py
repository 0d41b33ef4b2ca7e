"""Bans take effect everywhere within a second, whoever made them (admin API, CLI, moderator).

A ban is three things, and SQL is the one place every node and the CLI share:

1. the ban row: sign-in, handshakes and joins refuse the wallet from then on;
2. every token family of the wallet revoked (:func:`ban_wallet`): refresh fails and every
   access token dies at once, so HTTP calls (reports, blocks) are refused;
3. the wallet's live sockets closed (1008): each node runs a :class:`BanWatch` that reads the
   bans made since its last look every ``BAN_POLL_SECONDS`` (0.5 s by default) and closes the
   banned wallets' sockets it holds. The admin API also kicks at once over the cluster bus;
   the poll is what reaches a node when the ban came from the CLI or from no bus at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from picows import WSCloseCode

from roulette.gateway.hub import Hub
from roulette.matchmaking.records import Address
from roulette.storage.ports import BanRecord, Lobby, Moderation, TokenFamilies

__all__ = ["BanCursor", "BanWatch", "ban_wallet"]

log = logging.getLogger(__name__)

OVERLAP_SECONDS = 30.0
"""Each poll re-reads this much of the past: a ban written by a process whose clock is a
little behind ours (the CLI on another machine) is still seen."""


async def ban_wallet(
    moderation: Moderation,
    families: TokenFamilies,
    address: Address,
    *,
    reason: str,
    by: str,
    now: float,
) -> int:
    """Ban ``address`` and revoke all its token families; returns how many were revoked.

    The caller's live sockets are closed by every node's :class:`BanWatch` (and, for the admin
    API, by an immediate kick).
    """
    await moderation.ban(address=address, reason=reason, by=by, now=now)
    return await families.revoke_wallet(address, now=now)


@dataclass
class BanCursor:
    """Which bans a node has acted on: pure, time passed in.

    Attributes:
        since: ``banned_at`` of the newest ban seen (the next poll reads from a bit before).
    """

    since: float
    _seen: dict[Address, float] = field(default_factory=dict)

    @property
    def read_from(self) -> float:
        """The ``banned_at`` the next poll reads from."""
        return self.since - OVERLAP_SECONDS

    def take(self, records: list[BanRecord]) -> list[Address]:
        """The wallets among ``records`` not acted on yet (a renewed ban counts as new)."""
        fresh = []
        for record in records:
            if self._seen.get(record.address) != record.banned_at:
                self._seen[record.address] = record.banned_at
                fresh.append(record.address)
            self.since = max(self.since, record.banned_at)
        horizon = self.read_from
        for address in [a for a, at in self._seen.items() if at < horizon]:
            del self._seen[address]  # out of the window: it cannot come back from a poll
        return fresh


class BanWatch:
    """Polls SQL for new bans and closes the banned wallets' sockets on this worker."""

    def __init__(
        self,
        moderation: Moderation,
        hub: Hub,
        lobby: Lobby,
        *,
        interval: float,
        wall: Callable[[], float],
    ) -> None:
        self._moderation = moderation
        self._hub = hub
        self._lobby = lobby
        self._interval = interval
        self._cursor = BanCursor(since=wall())
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
        """Act on the bans made since the last poll; returns the wallets banned anew."""
        fresh = self._cursor.take(await self._moderation.bans_since(self._cursor.read_from))
        for address in fresh:
            conn = self._hub.get(address)
            if conn is not None:
                log.info("banned_socket_closed address=%s", address)
                conn.close(WSCloseCode.POLICY_VIOLATION, "banned")
            await self._lobby.leave(address)
        return fresh

    def stop(self) -> None:
        """End :meth:`run` after the current poll."""
        self._stop.set()
