"""The rules one socket is judged by: its settings, and what a client's message needs first.

A control message becomes a store operation only if its preconditions hold where the socket
stands when the message reaches the front of its line (phase, session, whether the peer is
gone, the last join); otherwise it is refused with a peer error and no store ever sees it.
The phases are in :mod:`roulette.matchmaking.lifecycle`; the machine that applies these rules,
one message at a time, is :class:`~roulette.matchmaking.socket_machine.SocketMachine`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from roulette.errors import BadRequest, Conflict
from roulette.identity import SessionId
from roulette.matchmaking.lifecycle import Phase
from roulette.matchmaking.records import Session
from roulette.matchmaking.socket_actions import (
    ControlMessage,
    End,
    Join,
    Leave,
    Next,
    Reconnect,
    StoreOp,
)
from roulette.protocol import messages as m

__all__ = ["MAX_PENDING", "SocketRules", "Standing", "admit"]

MAX_PENDING: Final = 16
"""Control messages waiting per socket; a client that outruns its own store calls is abusive."""


@dataclass(frozen=True, slots=True)
class SocketRules:
    """The settings the machine judges by (from :class:`~roulette.config.Config`)."""

    chain_ids: tuple[int, ...] = (1,)
    named_queues: bool = False
    idle_timeout_seconds: float = 300.0
    reconnect_grace_seconds: float = 30.0
    next_interval_seconds: float = 2.0


@dataclass(frozen=True, slots=True)
class Standing:
    """Where a socket stands when one of its messages reaches the front of its line."""

    phase: Phase
    session: Session | None
    peer_gone: bool
    last_join: m.JoinQueue | None

    @property
    def session_id(self) -> SessionId | None:
        """The id of the live session, if any."""
        return self.session.id if self.session is not None else None


def admit(msg: ControlMessage, standing: Standing, rules: SocketRules) -> StoreOp:
    """The store operation ``msg`` asks for; raises the peer error that refuses it instead."""
    if isinstance(msg, m.JoinQueue):
        return _admit_join(msg, standing, rules)
    if isinstance(msg, m.LeaveQueue):
        if standing.phase is Phase.PAIRED:
            raise Conflict("you are in a session, not in a queue", code="not_queued")
        return Leave()
    if isinstance(msg, m.Next):
        join = standing.last_join or m.JoinQueue(chain_id=rules.chain_ids[0])
        return Next(standing.session_id, join)
    if isinstance(msg, m.EndSession):
        if standing.session_id != msg.session_id:
            raise BadRequest(f"you are not in session {msg.session_id!r}", code="not_in_session")
        return End(SessionId(msg.session_id))
    if standing.phase is Phase.PAIRED:
        raise Conflict("already in a session", code="already_in_session")
    return Reconnect(msg)


def _admit_join(join: m.JoinQueue, standing: Standing, rules: SocketRules) -> Join:
    end_first = None
    if standing.phase is Phase.PAIRED:
        if not standing.peer_gone or standing.session is None:
            raise Conflict(
                "already in a session; send next or end-session", code="already_in_session"
            )
        end_first = standing.session.id  # the peer is gone: no need to wait for it
    if join.chain_id not in rules.chain_ids:
        raise BadRequest(f"chain {join.chain_id} is not served here", code="chain_not_allowed")
    if join.queue is not None and not rules.named_queues:
        raise BadRequest(f"no queue named {join.queue!r}", code="unknown_queue")
    return Join(join, end_first)
