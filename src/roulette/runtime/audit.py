"""The audit: a socket's phase against the shared lobby, repaired when they disagree for long.

Notices between workers can be lost (a failover before a stream entry replicated, a worker
gone before it sent), and Redis can come back empty. The sweeper therefore compares, every
few seconds, what each socket of this worker believes with what the lobby holds. A
disagreement seen on two audits in a row — never one, since a notice may simply be on its
way — is repaired, so a lost envelope never strands anyone (issue 9, item 4):

* queued here, but the lobby has neither an entry nor a session: ``queue-reset`` (join again);
* queued here, but the lobby paired the user: the ``match-found`` that was lost is sent now;
* paired here, but the lobby no longer has that session for this user: ``session-ended``
  with reason ``state-lost``, and the user may queue again (defect 8: a session Redis forgot).

:func:`judge` is the pure rule; :class:`Audit` is the thin loop over the hub.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from roulette.gateway.hub import Hub
from roulette.identity import Address, SessionId
from roulette.matchmaking.lifecycle import Phase
from roulette.matchmaking.records import Session
from roulette.storage.ports import Lobby

if TYPE_CHECKING:
    from roulette.gateway.connection import Connection

__all__ = ["STATE_LOST", "Audit", "Repair", "Suspicions", "judge"]

log = logging.getLogger(__name__)

STATE_LOST = "state-lost"
"""The reason of a ``session-ended`` or ``queue-reset`` the audit sends."""

PASSES_BEFORE_REPAIR = 2

CONCURRENT_LOOKUPS = 64
"""Lobby reads in flight at once during an audit (bounded, and far faster than one by one)."""


class Repair(enum.Enum):
    """What a disagreement calls for."""

    NONE = "none"
    REQUEUE = "requeue"
    """Queued here, unknown to the lobby: tell the user to join again."""
    ANNOUNCE = "announce"
    """Queued here, paired in the lobby: the match notice was lost."""
    END = "end"
    """Paired here, the lobby no longer holds that session for this user."""


def judge(
    phase: Phase,
    held: SessionId | None,
    queued_in_lobby: bool,
    lobby_session: Session | None,
) -> Repair:
    """The repair a socket needs if what it believes and what the lobby says stay apart.

    Args:
        phase: the socket's phase.
        held: the session the socket believes it is in.
        queued_in_lobby: the lobby has a queue entry for the user.
        lobby_session: the lobby's session for the user, if any.
    """
    if phase is Phase.QUEUED:
        if queued_in_lobby:
            return Repair.NONE
        return Repair.REQUEUE if lobby_session is None else Repair.ANNOUNCE
    paired = phase is Phase.PAIRED and held is not None
    if paired and (lobby_session is None or lobby_session.id != held):
        return Repair.END
    return Repair.NONE


@dataclass
class Suspicions:
    """Disagreements per address, by audit pass: repair only on the second one in a row."""

    seen: dict[tuple[Address, Repair, SessionId | None], int] = field(default_factory=dict)

    def confirm(
        self, found: dict[tuple[Address, Repair, SessionId | None], None]
    ) -> set[tuple[Address, Repair, SessionId | None]]:
        """Record this pass's findings; returns those seen on enough passes in a row."""
        self.seen = {key: self.seen.get(key, 0) + 1 for key in found}
        return {key for key, passes in self.seen.items() if passes >= PASSES_BEFORE_REPAIR}

    def done(self, key: tuple[Address, Repair, SessionId | None]) -> None:
        self.seen.pop(key, None)


class Audit:
    """Compares this worker's sockets with the lobby and repairs lasting disagreements."""

    def __init__(self, hub: Hub, lobby: Lobby) -> None:
        self.hub = hub
        self.lobby = lobby
        self.suspicions = Suspicions()
        self.repaired: dict[Repair, int] = dict.fromkeys(Repair, 0)

    async def pass_once(self) -> int:
        """One audit; returns how many sockets were repaired.

        Raises:
            Unavailable: the lobby cannot be read (nothing is repaired on this pass).
        """
        found: dict[tuple[Address, Repair, SessionId | None], None] = {}
        sessions: dict[Address, Session | None] = {}
        conns = [c for c in self.hub if not c.busy and c.phase in (Phase.QUEUED, Phase.PAIRED)]
        for start in range(0, len(conns), CONCURRENT_LOOKUPS):
            chunk = conns[start : start + CONCURRENT_LOOKUPS]
            views = await asyncio.gather(*(self._lobby_view(c) for c in chunk))
            for conn, (queued, session) in zip(chunk, views, strict=True):
                held = conn.session_id
                repair = judge(conn.phase, held, queued, session)
                if repair is not Repair.NONE:
                    found[(conn.address, repair, held)] = None
                    sessions[conn.address] = session
        repaired = 0
        for key in self.suspicions.confirm(found):
            if self._repair(*key, sessions.get(key[0])):
                repaired += 1
            self.suspicions.done(key)
        return repaired

    async def _lobby_view(self, conn: Connection) -> tuple[bool, Session | None]:
        """What the lobby holds for ``conn``: queued?, and the session to compare with."""
        held = conn.session_id
        if conn.phase is Phase.PAIRED and held is not None:
            session = await self.lobby.session(held)  # one HGET: the common, cheap case
            return False, session if session is not None and session.has(conn.address) else None
        if await self.lobby.position(conn.address) is not None:
            return True, None
        return False, await self.lobby.session_of(conn.address)

    def _repair(
        self, address: Address, repair: Repair, held: SessionId | None, session: Session | None
    ) -> bool:
        conn = self.hub.get(address)
        if conn is None or conn.busy or conn.session_id != held:
            return False  # it moved on since
        if repair is Repair.REQUEUE and conn.phase is Phase.QUEUED:
            conn.on_queue_lost()
        elif repair is Repair.ANNOUNCE and conn.phase is Phase.QUEUED and session is not None:
            self.hub.learn_route(session)
            conn.on_matched(session)
        elif repair is Repair.END and held is not None and conn.phase is Phase.PAIRED:
            conn.on_session_ended(held, STATE_LOST)
        else:
            return False
        self.repaired[repair] += 1
        log.warning("audit_repaired address=%s repair=%s session=%s", address, repair.value, held)
        return True
