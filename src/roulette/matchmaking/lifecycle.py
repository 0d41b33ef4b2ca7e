"""The lifecycle of one user's socket, as a table (theory of operation below).

A socket starts AUTHENTICATING: its token passed the handshake but its family is still being
checked against revocations and bans. It then sits IDLE until it joins a queue (QUEUED), is
matched (PAIRED), and goes back to IDLE when the session ends — or straight back to QUEUED on
``next``. CLOSED is final. Every transition is listed in ``TRANSITIONS``; anything else is a
bug of ours (``InvalidState``). The table is applied by
:class:`~roulette.matchmaking.socket_machine.SocketMachine`, which checks a client's request
against the phase *before* any store operation runs and answers an out-of-order one with an
``error`` message, so a store never changes for a move the table would refuse.
"""

from __future__ import annotations

import enum
from typing import Final

from roulette.errors import InvalidState

__all__ = ["TRANSITIONS", "Event", "Phase", "next_phase"]


class Phase(enum.Enum):
    """Where a socket is in its life."""

    AUTHENTICATING = "authenticating"
    IDLE = "idle"
    QUEUED = "queued"
    PAIRED = "paired"
    CLOSED = "closed"


class Event(enum.Enum):
    """What moves a socket between phases."""

    AUTHENTICATED = "authenticated"
    QUEUED = "queued"
    LEFT_QUEUE = "left-queue"
    MATCHED = "matched"
    SESSION_ENDED = "session-ended"
    CLOSED = "closed"


_P, _E = Phase, Event

TRANSITIONS: Final[dict[Phase, dict[Event, Phase]]] = {
    _P.AUTHENTICATING: {_E.AUTHENTICATED: _P.IDLE, _E.CLOSED: _P.CLOSED},
    _P.IDLE: {
        _E.QUEUED: _P.QUEUED,
        _E.MATCHED: _P.PAIRED,
        _E.LEFT_QUEUE: _P.IDLE,
        _E.SESSION_ENDED: _P.IDLE,
        _E.CLOSED: _P.CLOSED,
    },
    _P.QUEUED: {
        _E.QUEUED: _P.QUEUED,
        _E.MATCHED: _P.PAIRED,
        _E.LEFT_QUEUE: _P.IDLE,
        _E.SESSION_ENDED: _P.QUEUED,
        _E.CLOSED: _P.CLOSED,
    },
    _P.PAIRED: {
        _E.SESSION_ENDED: _P.IDLE,
        _E.MATCHED: _P.PAIRED,
        _E.LEFT_QUEUE: _P.PAIRED,
        _E.CLOSED: _P.CLOSED,
    },
    _P.CLOSED: {_E.CLOSED: _P.CLOSED, _E.SESSION_ENDED: _P.CLOSED, _E.LEFT_QUEUE: _P.CLOSED},
}
"""Phase → event → next phase. ``PAIRED + MATCHED`` is a resume after a dropped socket;
``QUEUED + SESSION_ENDED`` is a late end of an older session while already queued again."""


def next_phase(phase: Phase, event: Event) -> Phase:
    """The phase after ``event``.

    Raises:
        InvalidState: the table has no such move.
    """
    try:
        return TRANSITIONS[phase][event]
    except KeyError:
        raise InvalidState(f"no transition from {phase.name} on {event.name}") from None
