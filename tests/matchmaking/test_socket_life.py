"""The socket's machine under random sequences: a random client, store and notices (Hypothesis).

Invariants: one store operation at a time, none for a user nobody authenticated, ``queue-joined``
before ``match-found``, and the peer of an ended session never stays PAIRED.
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from roulette.errors import Unauthenticated, Unavailable
from roulette.matchmaking.lifecycle import Phase
from roulette.matchmaking.socket_actions import (
    Action,
    Authenticate,
    ControlMessage,
    GraceExpired,
    Join,
    Leave,
    Next,
    Reconnect,
    Release,
    Send,
    SendMatch,
    Store,
    Timer,
)
from roulette.matchmaking.socket_machine import SocketMachine
from roulette.matchmaking.socket_rules import MAX_PENDING
from roulette.protocol import messages as m

from .socket_builders import ME, OTHER, RULES, session


class SocketLife(RuleBasedStateMachine):
    """A socket driven by a random client, a random store and random notices."""

    def __init__(self) -> None:
        super().__init__()
        self.machine = SocketMachine(ME, RULES)
        self.in_flight: object = None
        self.auth_ok = False
        self.sessions = 0
        self.now = 0.0
        self.apply(self.machine.opened())

    def apply(self, actions: list[Action]) -> list[Action]:
        for action in actions:
            if isinstance(action, Store):
                # One operation at a time, and none for a user nobody authenticated.
                assert self.in_flight is None, (self.in_flight, action)
                op = action.op
                if not self.auth_ok:
                    assert isinstance(op, Authenticate | Release), op
                    assert not isinstance(op, Release) or not op.authenticated
                self.in_flight = op
        sent = [type(a.message) for a in actions if isinstance(a, Send)]
        if m.QueueJoined in sent and any(isinstance(a, SendMatch) for a in actions):
            first_match = next(i for i, a in enumerate(actions) if isinstance(a, SendMatch))
            first_joined = next(
                i
                for i, a in enumerate(actions)
                if isinstance(a, Send) and isinstance(a.message, m.QueueJoined)
            )
            assert first_joined < first_match  # queue-joined before match-found
        return actions

    @rule(
        msg=st.sampled_from(
            [
                m.JoinQueue(chain_id=1),
                m.JoinQueue(chain_id=7),
                m.LeaveQueue(),
                m.Next(),
                m.EndSession(session_id="s1"),
                m.EndSession(session_id="s2"),
                m.Reconnect(session_id="s1", resume_token="t"),
            ]
        ),
        dt=st.floats(0, 3),
    )
    def client_sends(self, msg: ControlMessage, dt: float) -> None:
        self.now += dt
        self.apply(self.machine.message(msg, self.now))

    @rule(ok=st.booleans())
    def authentication_ends(self, ok: bool) -> None:
        if not isinstance(self.in_flight, Authenticate):
            return
        op, self.in_flight = self.in_flight, None
        if ok:
            self.auth_ok = self.machine.phase is Phase.AUTHENTICATING
            self.apply(self.machine.authenticated(self.now) + self.machine.answered(op))
        else:
            self.apply(self.machine.failed(op, Unauthenticated("token revoked")))
            assert self.machine.phase is Phase.CLOSED

    @rule(position=st.integers(1, 5), fail=st.booleans(), left=st.booleans())
    def store_answers(self, position: int, fail: bool, left: bool) -> None:
        op, self.in_flight = self.in_flight, None
        if op is None or isinstance(op, Authenticate):
            self.in_flight = op
            return
        if fail:
            self.apply(self.machine.failed(op, Unavailable("down")))  # type: ignore[arg-type]
            return
        outcome: object = None
        if isinstance(op, Join | Next):
            outcome = ("queued", position)
        elif isinstance(op, Leave | GraceExpired):
            outcome = left
        elif isinstance(op, Reconnect):
            outcome = session("s1", epoch=position)
        self.apply(self.machine.answered(op, outcome))  # type: ignore[arg-type]

    @rule()
    def matched(self) -> None:
        self.sessions += 1
        self.apply(self.machine.matched(session(f"m{self.sessions}", peer=OTHER)))

    @rule()
    def current_session_ends(self) -> None:
        current = self.machine.session_id
        if current is not None:
            self.apply(self.machine.ended(current, "peer-next"))
            assert self.machine.phase is not Phase.PAIRED  # the peer never stays PAIRED

    @rule()
    def peer_drops(self) -> None:
        current = self.machine.session
        if current is not None:
            self.apply(self.machine.peer_disconnected(current.id, current.epoch))

    @rule(kind=st.sampled_from([Timer.IDLE, Timer.GRACE]))
    def timer_fires(self, kind: str) -> None:
        self.apply(self.machine.timer(kind))

    @rule()
    def socket_closes(self) -> None:
        self.apply(self.machine.closed())
        assert self.machine.phase is Phase.CLOSED

    @rule()
    def queue_lost(self) -> None:
        self.apply(self.machine.queue_lost())

    @invariant()
    def phase_agrees_with_session(self) -> None:
        machine = self.machine
        assert (machine.phase is Phase.PAIRED) == (machine.session is not None)
        assert len(machine.held) <= MAX_PENDING
        assert machine.busy == (self.in_flight is not None)

    @invariant()
    def nothing_runs_for_an_unauthenticated_socket(self) -> None:
        if not self.auth_ok:
            assert self.machine.phase in (Phase.AUTHENTICATING, Phase.CLOSED)


TestSocketLife = SocketLife.TestCase
TestSocketLife.settings = settings(max_examples=300, stateful_step_count=40, deadline=None)
