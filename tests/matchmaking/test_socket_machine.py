"""The socket's protocol without sockets: every event in every phase, and sequences that matter.

Random sequences are in ``test_socket_life.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from roulette.errors import Conflict, Unauthenticated, Unavailable, close_code, closing_code
from roulette.identity import SessionId
from roulette.matchmaking.lifecycle import Phase
from roulette.matchmaking.socket_actions import (
    Action,
    Authenticate,
    CancelTimer,
    Close,
    GraceExpired,
    Join,
    Send,
    SendError,
    SendMatch,
    StartTimer,
    Store,
    Timer,
)
from roulette.matchmaking.socket_machine import SocketMachine
from roulette.matchmaking.socket_rules import MAX_PENDING
from roulette.protocol import messages as m

from .socket_builders import ME, OTHER, RULES, session

PHASES = (Phase.AUTHENTICATING, Phase.IDLE, Phase.QUEUED, Phase.PAIRED, Phase.CLOSED)


def store_op(actions: list[Action]) -> object:
    ops = [a.op for a in actions if isinstance(a, Store)]
    assert len(ops) <= 1, actions
    return ops[0] if ops else None


def in_phase(phase: Phase) -> SocketMachine:
    """A machine brought to ``phase`` by the events a real socket sees, all answered."""
    machine = SocketMachine(ME, RULES)
    auth = store_op(machine.opened())
    if phase is Phase.AUTHENTICATING:
        return machine
    assert isinstance(auth, Authenticate)
    machine.authenticated(50.0)
    machine.answered(auth)
    if phase is Phase.QUEUED:
        join = store_op(machine.message(m.JoinQueue(chain_id=1), now=60.0))
        assert isinstance(join, Join)
        machine.answered(join, ("queued", 3))
    elif phase is Phase.PAIRED:
        machine.matched(session())
    elif phase is Phase.CLOSED:
        release = store_op(machine.closed())
        assert release is not None
        machine.answered(release)  # type: ignore[arg-type]
    assert machine.phase is phase
    return machine


def summary(actions: list[Action]) -> list[str]:
    """Actions as short words, so the table below reads as the protocol does."""
    words = []
    for action in actions:
        if isinstance(action, Send):
            words.append(f"send:{type(action.message).__name__}")
        elif isinstance(action, SendMatch):
            words.append("send:MatchFound")
        elif isinstance(action, SendError):
            words.append(f"error:{action.error.code}")
        elif isinstance(action, Close):
            words.append(f"close:{closing_code(action.error)}")
        elif isinstance(action, Store):
            words.append(f"store:{type(action.op).__name__}")
        elif isinstance(action, StartTimer):
            words.append(f"start:{action.kind}")
        elif isinstance(action, CancelTimer):
            words.append(f"cancel:{action.kind}")
    return words


EVENTS: dict[str, Callable[[SocketMachine], list[Action]]] = {
    "join": lambda s: s.message(m.JoinQueue(chain_id=1), now=70.0),
    "join-bad-chain": lambda s: s.message(m.JoinQueue(chain_id=9), now=70.0),
    "join-named": lambda s: s.message(m.JoinQueue(chain_id=1, queue="vip"), now=70.0),
    "leave": lambda s: s.message(m.LeaveQueue(), now=70.0),
    "next": lambda s: s.message(m.Next(), now=70.0),
    "end": lambda s: s.message(m.EndSession(session_id="s1"), now=70.0),
    "end-other": lambda s: s.message(m.EndSession(session_id="s9"), now=70.0),
    "reconnect": lambda s: s.message(m.Reconnect(session_id="s1", resume_token="t"), now=70.0),
    "authenticated": lambda s: s.authenticated(80.0),
    "auth-failed": lambda s: s.auth_failed(Unauthenticated("token revoked")),
    "auth-unavailable": lambda s: s.auth_failed(Unavailable("database down")),
    "matched": lambda s: s.matched(session("s2", peer=OTHER)),
    "matched-again": lambda s: s.matched(session()),
    "ended": lambda s: s.ended(SessionId("s1"), "peer-next"),
    "ended-other": lambda s: s.ended(SessionId("s9"), "peer-next"),
    "peer-gone": lambda s: s.peer_disconnected(SessionId("s1"), 0),
    "peer-back": lambda s: s.peer_resumed(session(epoch=1)),
    "queue-lost": lambda s: s.queue_lost(),
    "idle-timer": lambda s: s.timer(Timer.IDLE),
    "grace-timer": lambda s: s.timer(Timer.GRACE),
    "closed": lambda s: s.closed(),
}

A, I, Q, P, C = Phase.AUTHENTICATING, Phase.IDLE, Phase.QUEUED, Phase.PAIRED, Phase.CLOSED  # noqa: E741 - the table reads as phases

# (phase, event) -> (phase after, actions). Generated once from the machine, then read line by
# line against docs/protocol.md; a change here is a change of the protocol.
TABLE: dict[tuple[Phase, str], tuple[Phase, tuple[str, ...]]] = {
    (A, "join"): (A, ()),
    (A, "join-bad-chain"): (A, ()),
    (A, "join-named"): (A, ()),
    (A, "leave"): (A, ()),
    (A, "next"): (A, ()),
    (A, "end"): (A, ()),
    (A, "end-other"): (A, ()),
    (A, "reconnect"): (A, ()),
    (A, "authenticated"): (I, ("send:Connected",)),
    (A, "auth-failed"): (C, ("cancel:idle", "close:4001")),
    (A, "auth-unavailable"): (C, ("cancel:idle", "close:1013")),
    (A, "matched"): (A, ()),
    (A, "matched-again"): (A, ()),
    (A, "ended"): (A, ()),
    (A, "ended-other"): (A, ()),
    (A, "peer-gone"): (A, ()),
    (A, "peer-back"): (A, ()),
    (A, "queue-lost"): (A, ()),
    (A, "idle-timer"): (A, ("close:1001",)),
    (A, "grace-timer"): (A, ()),
    (A, "closed"): (C, ("cancel:idle", "cancel:grace")),
    (I, "join"): (I, ("store:Join",)),
    (I, "join-bad-chain"): (I, ("error:chain_not_allowed",)),
    (I, "join-named"): (I, ("error:unknown_queue",)),
    (I, "leave"): (I, ("store:Leave",)),
    (I, "next"): (I, ("store:Next",)),
    (I, "end"): (I, ("error:not_in_session",)),
    (I, "end-other"): (I, ("error:not_in_session",)),
    (I, "reconnect"): (I, ("store:Reconnect",)),
    (I, "authenticated"): (I, ()),
    (I, "auth-failed"): (C, ("cancel:idle", "close:4001")),
    (I, "auth-unavailable"): (C, ("cancel:idle", "close:1013")),
    (I, "matched"): (P, ("cancel:idle", "cancel:grace", "send:MatchFound")),
    (I, "matched-again"): (P, ("cancel:idle", "cancel:grace", "send:MatchFound")),
    (I, "ended"): (I, ()),
    (I, "ended-other"): (I, ()),
    (I, "peer-gone"): (I, ()),
    (I, "peer-back"): (I, ()),
    (I, "queue-lost"): (I, ()),
    (I, "idle-timer"): (I, ("close:1001",)),
    (I, "grace-timer"): (I, ()),
    (I, "closed"): (C, ("cancel:idle", "cancel:grace", "store:Release")),
    (Q, "join"): (Q, ("store:Join",)),
    (Q, "join-bad-chain"): (Q, ("error:chain_not_allowed",)),
    (Q, "join-named"): (Q, ("error:unknown_queue",)),
    (Q, "leave"): (Q, ("store:Leave",)),
    (Q, "next"): (Q, ("store:Next",)),
    (Q, "end"): (Q, ("error:not_in_session",)),
    (Q, "end-other"): (Q, ("error:not_in_session",)),
    (Q, "reconnect"): (Q, ("store:Reconnect",)),
    (Q, "authenticated"): (Q, ()),
    (Q, "auth-failed"): (C, ("cancel:idle", "close:4001")),
    (Q, "auth-unavailable"): (C, ("cancel:idle", "close:1013")),
    (Q, "matched"): (P, ("cancel:idle", "cancel:grace", "send:MatchFound")),
    (Q, "matched-again"): (P, ("cancel:idle", "cancel:grace", "send:MatchFound")),
    (Q, "ended"): (Q, ()),
    (Q, "ended-other"): (Q, ()),
    (Q, "peer-gone"): (Q, ()),
    (Q, "peer-back"): (Q, ()),
    (Q, "queue-lost"): (I, ("send:QueueReset",)),
    (Q, "idle-timer"): (Q, ()),
    (Q, "grace-timer"): (Q, ()),
    (Q, "closed"): (C, ("cancel:idle", "cancel:grace", "store:Release")),
    (P, "join"): (P, ("error:already_in_session",)),
    (P, "join-bad-chain"): (P, ("error:already_in_session",)),
    (P, "join-named"): (P, ("error:already_in_session",)),
    (P, "leave"): (P, ("error:not_queued",)),
    (P, "next"): (P, ("store:Next",)),
    (P, "end"): (P, ("store:End",)),
    (P, "end-other"): (P, ("error:not_in_session",)),
    (P, "reconnect"): (P, ("error:already_in_session",)),
    (P, "authenticated"): (P, ()),
    (P, "auth-failed"): (C, ("cancel:idle", "close:4001")),
    (P, "auth-unavailable"): (C, ("cancel:idle", "close:1013")),
    (P, "matched"): (P, ("cancel:idle", "cancel:grace", "send:MatchFound")),
    (P, "matched-again"): (P, ()),
    (P, "ended"): (I, ("cancel:grace", "send:SessionEnded")),
    (P, "ended-other"): (P, ()),
    (P, "peer-gone"): (P, ("send:PeerDisconnected", "start:grace")),
    (P, "peer-back"): (P, ("cancel:grace", "send:SessionResumed")),
    (P, "queue-lost"): (P, ()),
    (P, "idle-timer"): (P, ()),
    (P, "grace-timer"): (P, ()),
    (P, "closed"): (C, ("cancel:idle", "cancel:grace", "store:Release")),
    (C, "join"): (C, ()),
    (C, "join-bad-chain"): (C, ()),
    (C, "join-named"): (C, ()),
    (C, "leave"): (C, ()),
    (C, "next"): (C, ()),
    (C, "end"): (C, ()),
    (C, "end-other"): (C, ()),
    (C, "reconnect"): (C, ()),
    (C, "authenticated"): (C, ()),
    (C, "auth-failed"): (C, ()),
    (C, "auth-unavailable"): (C, ()),
    (C, "matched"): (C, ()),
    (C, "matched-again"): (C, ()),
    (C, "ended"): (C, ()),
    (C, "ended-other"): (C, ()),
    (C, "peer-gone"): (C, ()),
    (C, "peer-back"): (C, ()),
    (C, "queue-lost"): (C, ()),
    (C, "idle-timer"): (C, ()),
    (C, "grace-timer"): (C, ()),
    (C, "closed"): (C, ()),
}


def test_the_table_covers_every_event_in_every_phase() -> None:
    assert set(TABLE) == {(phase, event) for phase in PHASES for event in EVENTS}


@pytest.mark.parametrize(("phase", "event"), list(TABLE), ids=lambda x: getattr(x, "name", x))
def test_every_event_in_every_phase(phase: Phase, event: str) -> None:
    machine = in_phase(phase)
    actions = EVENTS[event](machine)
    assert (machine.phase, tuple(summary(actions))) == TABLE[phase, event]


# ---------------------------------------------------------------- sequences that matter


def authenticating_with(*messages: m.JoinQueue | m.Next) -> tuple[SocketMachine, Authenticate]:
    machine = SocketMachine(ME, RULES)
    auth = store_op(machine.opened())
    assert isinstance(auth, Authenticate)
    for msg in messages:
        assert machine.message(msg, now=1.0) == []  # held: nothing reaches the store
    return machine, auth


def test_messages_sent_while_authenticating_wait_and_run_after_it() -> None:
    machine, auth = authenticating_with(m.JoinQueue(chain_id=1))
    machine.authenticated(2.0)
    assert summary(machine.answered(auth)) == ["store:Join"]


def test_messages_sent_while_authenticating_never_run_when_it_fails() -> None:
    machine, auth = authenticating_with(m.JoinQueue(chain_id=1), m.JoinQueue(chain_id=1))
    assert summary(machine.failed(auth, Unauthenticated("token revoked"))) == [
        "cancel:idle",
        "close:4001",
    ]
    release = store_op(machine.closed())
    assert release is not None and not getattr(release, "authenticated", True)


def test_an_error_while_authenticating_closes_with_its_code() -> None:
    machine, auth = authenticating_with()
    assert "close:1013" in summary(machine.failed(auth, Unavailable("sql down")))
    machine, auth = authenticating_with()
    assert "close:1011" in summary(machine.failed(auth, close_error := Conflict("x")))
    assert close_code(close_error) is None  # a peer error while authenticating: still 1011


def test_too_many_held_messages_close_the_socket() -> None:
    machine, _ = authenticating_with(*[m.JoinQueue(chain_id=1)] * MAX_PENDING)
    assert summary(machine.message(m.JoinQueue(chain_id=1), now=1.0)) == [
        "cancel:idle",
        "close:1008",
    ]
    assert machine.phase is Phase.CLOSED
    assert machine.authenticated(2.0) == []  # the check's late answer changes nothing


def test_next_twice_within_the_interval_is_refused_with_the_configured_interval() -> None:
    machine = in_phase(Phase.PAIRED)
    machine.message(m.Next(), now=10.0)
    (refusal,) = machine.message(m.Next(), now=11.0)
    assert isinstance(refusal, SendError)
    assert refusal.error.message == "next at most once per 2 s"


def test_a_match_that_overtakes_our_join_answers_it_once_in_order() -> None:
    """Defect 4: another user's join pairs us while our own join is in flight."""
    machine = in_phase(Phase.QUEUED)
    join = store_op(machine.message(m.JoinQueue(chain_id=5), now=70.0))
    assert isinstance(join, Join)
    assert summary(machine.matched(session("s2", peer=OTHER))) == [
        "send:QueueJoined",
        "cancel:idle",
        "cancel:grace",
        "send:MatchFound",
    ]
    assert machine.answered(join, ("queued", 4)) == []
    assert machine.phase is Phase.PAIRED
    machine2 = in_phase(Phase.QUEUED)
    join2 = store_op(machine2.message(m.JoinQueue(chain_id=1), now=70.0))
    machine2.matched(session("s2", peer=OTHER))
    conflict = Conflict("end the current session first", code="already_in_session")
    assert machine2.failed(join2, conflict) == []  # type: ignore[arg-type]


def test_a_grace_period_the_store_already_ended_ends_the_session_here() -> None:
    """Defect 2's family: the peer of an ended session never stays PAIRED."""
    machine = in_phase(Phase.PAIRED)
    machine.peer_disconnected(SessionId("s1"), 0)
    expired = store_op(machine.timer(Timer.GRACE))
    assert isinstance(expired, GraceExpired)
    assert summary(machine.answered(expired, False)) == ["cancel:grace", "send:SessionEnded"]
    assert machine.phase is Phase.IDLE


def test_a_resumed_session_is_not_ended_by_the_old_grace_timer() -> None:
    machine = in_phase(Phase.PAIRED)
    machine.peer_disconnected(SessionId("s1"), 0)
    expired = store_op(machine.timer(Timer.GRACE))
    machine.peer_resumed(session(epoch=1))
    assert machine.answered(expired, False) == []  # type: ignore[arg-type]
    assert machine.phase is Phase.PAIRED


def test_a_socket_closed_while_its_check_fails_is_still_unregistered() -> None:
    machine, auth = authenticating_with(m.JoinQueue(chain_id=1))
    assert summary(machine.closed()) == ["cancel:idle", "cancel:grace"]  # Release waits
    assert "store:Release" in summary(machine.failed(auth, Unavailable("sql down")))
