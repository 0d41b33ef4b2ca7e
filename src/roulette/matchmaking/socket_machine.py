"""The protocol of one socket as a pure state machine (sans-I/O, as ``h11`` does HTTP).

A :class:`SocketMachine` takes events — a control message decoded, authentication ended, a
store operation answered, a notice about its session, a timer fired, the socket closed — and
returns the actions the gateway must carry out (:mod:`roulette.matchmaking.socket_actions`):
send a message, close with an error's code, run one store operation, start or cancel a timer.
It never awaits, reads no clock and touches no store, so every event in every phase is testable
with plain calls.

Store operations run one at a time per socket, in order. A client message becomes a store
operation only when it reaches the front of that line *and* its preconditions hold then
(:mod:`roulette.matchmaking.socket_rules`): anything sent while the socket is still
authenticating waits (at most ``MAX_PENDING``) and is dropped, unrun, if authentication fails.
So a store never sees a user it has not authenticated.

Two notices may overtake the socket's own operation, and are applied at once:

* ``matched`` while a join (or ``next``) is in flight — another user's join took this user's
  queue entry. The join is answered then, ``queue-joined`` followed by ``match-found`` (the
  order of :doc:`protocol`); its store answer, when it comes, is not sent again.
* ``ended`` for the current session while anything is in flight.

The relay fast path does not go through events (it would cost an allocation per message): the
gateway reads :meth:`SocketMachine.relay_peer` and sends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeAlias

from roulette.errors import GoingAway, PolicyViolation, RateLimited, RouletteError
from roulette.identity import Address, SessionId
from roulette.matchmaking.lifecycle import Event, Phase, next_phase
from roulette.matchmaking.records import Session
from roulette.matchmaking.socket_actions import (
    Action,
    Authenticate,
    CancelTimer,
    Close,
    ControlMessage,
    GraceExpired,
    Join,
    Leave,
    Next,
    Reconnect,
    Release,
    Send,
    SendError,
    SendMatch,
    StartTimer,
    Store,
    StoreOp,
    Timer,
)
from roulette.matchmaking.socket_rules import MAX_PENDING, SocketRules, Standing, admit
from roulette.protocol import messages as m
from roulette.relay.limits import Cooldown

__all__ = ["SocketMachine"]

_Held: TypeAlias = ControlMessage | GraceExpired | Release
"""What waits for its turn: a client's message, a grace expiry, the socket's release."""


@dataclass(slots=True)
class SocketMachine:
    """The life of one socket (phases in :mod:`roulette.matchmaking.lifecycle`)."""

    address: Address
    rules: SocketRules = field(default_factory=SocketRules)
    phase: Phase = Phase.AUTHENTICATING
    session: Session | None = None
    peer: Address | None = None
    peer_gone: bool = False
    last_join: m.JoinQueue | None = None
    authenticated_at: float | None = None
    in_flight: StoreOp | None = None
    join_answered: bool = False
    released: bool = False
    held: list[_Held] = field(default_factory=list)
    next_cooldown: Cooldown = field(init=False)

    def __post_init__(self) -> None:
        self.next_cooldown = Cooldown(self.rules.next_interval_seconds)

    # ------------------------------------------------------------ queries

    @property
    def busy(self) -> bool:
        """True while a store operation of this socket runs."""
        return self.in_flight is not None

    @property
    def session_id(self) -> SessionId | None:
        """The id of the live session, if any."""
        return self.session.id if self.session is not None else None

    def relay_peer(self, session_id: str) -> Address | None:
        """Where a relayed message for ``session_id`` goes: the peer, or None (refuse it)."""
        session = self.session
        if session is None or session.id != session_id:
            return None
        return self.peer

    # ------------------------------------------------------------ the socket

    def opened(self) -> list[Action]:
        """The handshake passed: check the token's family, start the idle clock."""
        self.in_flight = Authenticate()
        return [StartTimer(Timer.IDLE, self.rules.idle_timeout_seconds), Store(self.in_flight)]

    def authenticated(self, now: float) -> list[Action]:
        """The family is live and the wallet not banned; held messages may run now."""
        if self.phase is not Phase.AUTHENTICATING:
            return []  # closed meanwhile
        self._move(Event.AUTHENTICATED)
        self.authenticated_at = now
        return [Send(m.Connected(address=self.address))]

    def auth_failed(self, error: RouletteError) -> list[Action]:
        """Revoked, banned, or the check itself failed: close with the error's code.

        Messages held behind authentication are dropped: they never reach the store.
        """
        # A Release (the socket already closed) still runs: it unregisters the socket.
        self.held = [item for item in self.held if isinstance(item, Release)]
        if self.phase is Phase.CLOSED:
            return []
        self._move(Event.CLOSED)
        return [CancelTimer(Timer.IDLE), Close(error)]

    def closed(self) -> list[Action]:
        """The socket is gone: nothing held runs; its queue entry and session are freed."""
        if self.released:
            return []
        self.released = True
        authenticated = self.phase is not Phase.AUTHENTICATING and self.authenticated_at is not None
        release = Release(authenticated=authenticated, session_id=self.session_id)
        self.held = [release]
        self.session, self.peer, self.peer_gone = None, None, False
        if self.phase is not Phase.CLOSED:
            self._move(Event.CLOSED)
        actions: list[Action] = [CancelTimer(Timer.IDLE), CancelTimer(Timer.GRACE)]
        return actions + self._start_next()

    def timer(self, kind: str) -> list[Action]:
        """A timer started by :class:`StartTimer` fired."""
        if kind == Timer.IDLE:
            if self.phase in (Phase.AUTHENTICATING, Phase.IDLE) and self.session is None:
                return [Close(GoingAway("idle: never joined a queue"))]
            return []
        session = self.session
        if not self.peer_gone or session is None or self.phase is not Phase.PAIRED:
            return []
        return self._hold(GraceExpired(session.id, session.epoch))

    # ------------------------------------------------------------ client messages

    def message(self, msg: ControlMessage, now: float) -> list[Action]:
        """A control message from the client (relayed kinds take the fast path instead)."""
        if self.phase is Phase.CLOSED:
            return []
        if type(msg) is m.Next and not self.next_cooldown.allow(now):
            interval = f"{self.rules.next_interval_seconds:g}"
            return [SendError(RateLimited(f"next at most once per {interval} s"))]
        return self._hold(msg)

    def _hold(self, item: _Held) -> list[Action]:
        if len(self.held) >= MAX_PENDING:
            # Closed from here on: a late authentication answer must not revive the socket.
            return self.auth_failed(PolicyViolation("too many pending requests"))
        self.held.append(item)
        return self._start_next() if self.in_flight is None else []

    def _start_next(self) -> list[Action]:
        """Start the first held item the table allows now; refuse those it does not."""
        actions: list[Action] = []
        while self.in_flight is None and self.held:
            if self.phase is Phase.AUTHENTICATING:
                break  # held until authentication ends
            item = self.held.pop(0)
            op = self._admit(item, actions)
            if op is not None:
                self.in_flight = op
                self.join_answered = False
                actions.append(Store(op))
        return actions

    def _admit(self, item: _Held, refusals: list[Action]) -> StoreOp | None:
        """The store operation for ``item`` if its preconditions hold now, else None."""
        if isinstance(item, Release):
            return item
        if self.phase is Phase.CLOSED:
            return None
        if isinstance(item, GraceExpired):
            return item if self.session_id == item.session_id and self.peer_gone else None
        standing = Standing(self.phase, self.session, self.peer_gone, self.last_join)
        try:
            return admit(item, standing, self.rules)
        except RouletteError as exc:
            refusals.append(SendError(exc))
            return None

    # ------------------------------------------------------------ store answers

    def answered(self, op: StoreOp, outcome: object = None) -> list[Action]:
        """``op`` succeeded with ``outcome`` (see each op); the next held item may start.

        Join and Next: ``("queued", position)`` or ``("paired", session)``. Leave: whether the
        user was queued. Reconnect: the resumed session. GraceExpired: whether the store still
        had the session (False: it ended without us hearing; end it here). Others: None.
        """
        actions = self._on_answer(op, outcome) if op is self.in_flight else []
        return actions + self._finish(op)

    def failed(self, op: StoreOp, error: RouletteError, *, fatal: bool = False) -> list[Action]:
        """``op`` failed; the client hears why unless a notice answered it already.

        A failed authentication, or a ``fatal`` failure (banned while joining), closes the
        socket with the error's code; any other failure is an ``error`` message.
        """
        if op is not self.in_flight:
            return self._finish(op)
        if isinstance(op, Authenticate) or fatal:
            self.in_flight = None
            return self.auth_failed(error) + self._start_next()
        actions: list[Action] = []
        if self.phase is not Phase.CLOSED and not (
            isinstance(op, Join | Next) and self.join_answered
        ):
            actions.append(SendError(error))
        return actions + self._finish(op)

    def _finish(self, op: StoreOp) -> list[Action]:
        if op is self.in_flight:
            self.in_flight = None
        return self._start_next()

    def _on_answer(self, op: StoreOp, outcome: object) -> list[Action]:
        if self.phase is Phase.CLOSED:
            return []
        if isinstance(op, Join | Next):
            return self._on_join_answer(op.join, outcome)
        if isinstance(op, Leave):
            return self._on_left()
        if isinstance(op, Reconnect) and isinstance(outcome, Session):
            return self._take_over(outcome)
        if isinstance(op, GraceExpired) and outcome is False:
            session = self.session
            if session is not None and (session.id, session.epoch) == (op.session_id, op.epoch):
                return self.ended(session.id, "peer-timeout")
        return []

    def _on_left(self) -> list[Action]:
        if self.phase is Phase.PAIRED:
            return []  # a match came first: match-found answered the leave
        if self.phase is Phase.QUEUED:
            self._move(Event.LEFT_QUEUE)
        return [Send(m.QueueLeft())]

    def _on_join_answer(self, join: m.JoinQueue, outcome: object) -> list[Action]:
        if self.join_answered or self.phase is Phase.PAIRED:
            return []  # match-found (with its queue-joined) answered this join already
        kind, value = outcome if isinstance(outcome, tuple) else ("queued", 1)
        self.last_join = join
        self._move(Event.QUEUED)
        position = value if kind == "queued" and isinstance(value, int) else 1
        return [
            CancelTimer(Timer.IDLE),
            Send(m.QueueJoined(chain_id=join.chain_id, position=position)),
        ]

    def _take_over(self, session: Session) -> list[Action]:
        self._move(Event.MATCHED)
        self.session, self.peer, self.peer_gone = session, session.peer_of(self.address), False
        return [
            CancelTimer(Timer.IDLE),
            Send(m.SessionResumed(session_id=session.id, peer_id=self.peer)),
        ]

    # ------------------------------------------------------------ notices

    def matched(self, session: Session, peer_name: str | None = None) -> list[Action]:
        """A session with this user began (announced by whichever worker made it)."""
        if self.phase is Phase.CLOSED or self.phase is Phase.AUTHENTICATING:
            return []
        current = self.session
        if current is not None and current.id == session.id and current.epoch >= session.epoch:
            return []  # a repeated notice
        actions: list[Action] = []
        op = self.in_flight
        if isinstance(op, Join | Next) and not self.join_answered:
            # Another user's join took our queue entry while our own join was in flight:
            # answer that join now, in the documented order.
            self.join_answered = True
            self.last_join = op.join
            actions.append(Send(m.QueueJoined(chain_id=op.join.chain_id, position=1)))
        self._move(Event.MATCHED)
        self.session, self.peer, self.peer_gone = session, session.peer_of(self.address), False
        actions += [
            CancelTimer(Timer.IDLE),
            CancelTimer(Timer.GRACE),
            SendMatch(session, peer_name),
        ]
        return actions

    def ended(self, session_id: SessionId, reason: str) -> list[Action]:
        """The session ended (skip, end, time limit, ban, the peer never came back)."""
        if self.session_id != session_id:
            return []  # an older session, or one this socket never saw: nothing to say
        self.session, self.peer, self.peer_gone = None, None, False
        self._move(Event.SESSION_ENDED)
        return [
            CancelTimer(Timer.GRACE),
            Send(m.SessionEnded(session_id=session_id, reason=reason)),
        ]

    def peer_disconnected(self, session_id: SessionId, epoch: int) -> list[Action]:
        """The peer's socket closed: wait ``reconnect_grace_seconds`` for it to come back."""
        session = self.session
        if session is None or session.id != session_id or self.peer_gone or epoch < session.epoch:
            return []
        self.peer_gone = True
        return [
            Send(m.PeerDisconnected(session_id=session_id)),
            StartTimer(Timer.GRACE, self.rules.reconnect_grace_seconds),
        ]

    def peer_resumed(self, session: Session) -> list[Action]:
        """The peer came back (maybe on another worker): relay to where it is now."""
        current = self.session
        if current is None or current.id != session.id or session.epoch < current.epoch:
            return []
        self.session, self.peer_gone = session, False
        peer = session.peer_of(self.address)
        return [
            CancelTimer(Timer.GRACE),
            Send(m.SessionResumed(session_id=session.id, peer_id=peer)),
        ]

    def queue_lost(self) -> list[Action]:
        """The shared queue no longer holds this user: ask the client to join again."""
        if self.phase is not Phase.QUEUED:
            return []
        self._move(Event.LEFT_QUEUE)
        return [Send(m.QueueReset(reason="state-lost"))]

    def _move(self, event: Event) -> None:
        self.phase = next_phase(self.phase, event)
