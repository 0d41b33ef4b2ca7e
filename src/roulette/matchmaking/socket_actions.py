"""What a socket's machine and the gateway say to each other: store operations and actions.

:class:`~roulette.matchmaking.socket_machine.SocketMachine` returns a list of actions (send a
message, close with an error's code, run one store operation, start or cancel a timer); the
gateway carries them out and reports each store operation back by the very object it was given
(``answered(op, ...)`` / ``failed(op, ...)``). All are frozen values, so tests compare them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, TypeAlias

from roulette.errors import RouletteError
from roulette.identity import SessionId
from roulette.matchmaking.records import Session
from roulette.protocol import messages as m

__all__ = [
    "Action",
    "Authenticate",
    "CancelTimer",
    "Close",
    "ControlMessage",
    "End",
    "GraceExpired",
    "Join",
    "Leave",
    "Next",
    "Reconnect",
    "Release",
    "Send",
    "SendError",
    "SendMatch",
    "StartTimer",
    "Store",
    "StoreOp",
    "Timer",
]


class Timer:
    """Timer kinds (plain strings: they are compared by identity in hot code)."""

    IDLE: Final = "idle"
    GRACE: Final = "grace"


# ---------------------------------------------------------------- store operations


@dataclass(frozen=True, slots=True)
class Authenticate:
    """Check the token's family and the ban list; then register the socket."""


@dataclass(frozen=True, slots=True)
class Join:
    """Queue the user or pair them; ``end_first``: a session whose peer is gone, ended first."""

    join: m.JoinQueue
    end_first: SessionId | None = None


@dataclass(frozen=True, slots=True)
class Leave:
    """Remove the user's queue entry."""


@dataclass(frozen=True, slots=True)
class Next:
    """End ``session_id`` (if any) and join again with ``join``."""

    session_id: SessionId | None
    join: m.JoinQueue


@dataclass(frozen=True, slots=True)
class End:
    """End the user's session."""

    session_id: SessionId


@dataclass(frozen=True, slots=True)
class Reconnect:
    """Take over this wallet's session from a dropped socket."""

    request: m.Reconnect


@dataclass(frozen=True, slots=True)
class GraceExpired:
    """The peer did not come back in time: end the session if it is still at ``epoch``."""

    session_id: SessionId
    epoch: int


@dataclass(frozen=True, slots=True)
class Release:
    """The socket is gone: free its queue entry and session (only if it was authenticated)."""

    authenticated: bool
    session_id: SessionId | None


StoreOp: TypeAlias = Authenticate | Join | Leave | Next | End | Reconnect | GraceExpired | Release
ControlMessage: TypeAlias = m.JoinQueue | m.LeaveQueue | m.Next | m.EndSession | m.Reconnect

# ---------------------------------------------------------------- actions


@dataclass(frozen=True, slots=True)
class Send:
    """Send ``message`` to this socket's client."""

    message: m.ServerMessage


@dataclass(frozen=True, slots=True)
class SendMatch:
    """Send ``match-found`` for ``session`` (the gateway adds ICE servers and a resume token)."""

    session: Session
    peer_name: str | None


@dataclass(frozen=True, slots=True)
class SendError:
    """Send an ``error`` message; the socket stays open."""

    error: RouletteError


@dataclass(frozen=True, slots=True)
class Close:
    """Close the socket with ``errors.close_code(error)``."""

    error: RouletteError


@dataclass(frozen=True, slots=True)
class Store:
    """Run ``op`` against the stores, then report with ``answered`` or ``failed``."""

    op: StoreOp


@dataclass(frozen=True, slots=True)
class StartTimer:
    """Fire ``timer(kind)`` after ``seconds`` (replacing a running timer of that kind)."""

    kind: str
    seconds: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    """Stop the timer of ``kind`` if it runs."""

    kind: str


Action: TypeAlias = Send | SendMatch | SendError | Close | Store | StartTimer | CancelTimer
