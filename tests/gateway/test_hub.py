"""The hub's receiving side under at-least-once delivery and concurrent resumes (issue 9,
defects 6 and 7): each control notice is applied once, a notice for a session that ended is
ignored, frames that overtake their match wait for it, and relays take the newest route.

The sockets are :class:`Socket` recorders exposing the hub's hook points on a connection
(the methods :class:`~roulette.gateway.connection.Connection` implements)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import msgspec

from roulette.gateway.bridge import Envelope, Kind
from roulette.gateway.hub import Hub
from roulette.identity import Address, SessionId, WorkerId
from roulette.matchmaking.lifecycle import Phase
from roulette.matchmaking.records import Session
from roulette.storage.memory_bus import MemoryBus

A, B = Address("0xA"), Address("0xB")
SESSION = Session(SessionId("s1"), 1, A, B, WorkerId("w1"), WorkerId("w2"), 0.0)


@dataclass
class Socket:
    """What the hub sees of a connection, recording what it is told."""

    address: Address
    session: Session | None = None
    phase: Phase = Phase.QUEUED
    busy: bool = False
    peer_gone: bool = False
    claimed_us: int = 0
    told: list[tuple[str, Any]] = field(default_factory=list)

    @property
    def session_id(self) -> SessionId | None:
        return self.session.id if self.session is not None else None

    @property
    def peer(self) -> Address | None:
        return self.session.peer_of(self.address) if self.session is not None else None

    def on_matched(self, session: Session, name: str | None = None) -> None:
        self.session, self.phase = session, Phase.PAIRED
        self.told.append(("matched", session.id))

    def on_peer_resumed(self, session: Session) -> None:
        if self.session_id == session.id:
            self.session = session
            self.told.append(("resumed", session.epoch))

    def on_session_ended(self, session_id: SessionId, reason: str) -> None:
        if self.session_id == session_id:
            self.session, self.phase = None, Phase.IDLE
        self.told.append(("ended", reason))

    def on_peer_disconnected(self, session_id: SessionId, epoch: int) -> None:
        self.told.append(("gone", epoch))

    def send_frame(self, frame: bytes) -> None:
        self.told.append(("frame", frame))

    def close(self, code: int, reason: str) -> None:
        self.told.append(("closed", code))


def hub_with(worker: str, *sockets: Socket) -> Hub:
    hub = Hub(worker, MemoryBus())
    for socket in sockets:
        hub.register(socket)  # type: ignore[arg-type]
    return hub


def matched(session: Session, to: Address) -> Envelope:
    return Envelope(Kind.MATCHED, to, session.id, msgspec.msgpack.encode(session))


def test_a_notice_delivered_twice_is_applied_once() -> None:
    b = Socket(B)
    hub = hub_with("w2", b)
    for _ in range(2):
        hub.deliver(matched(SESSION, B))
    ended = Envelope(Kind.ENDED, B, SESSION.id, text="peer-next", number=0)
    for _ in range(3):
        hub.deliver(ended)
    assert b.told == [("matched", "s1"), ("ended", "peer-next")]
    assert hub.duplicates == 3


def test_a_match_arriving_after_its_end_is_ignored() -> None:
    b = Socket(B)
    hub = hub_with("w2", b)
    hub.deliver(Envelope(Kind.ENDED, B, SESSION.id, text="peer-next", number=0))
    hub.deliver(matched(SESSION, B))
    assert b.session is None and ("matched", "s1") not in b.told


def test_frames_that_overtake_their_match_are_delivered_after_it() -> None:
    b = Socket(B)
    hub = hub_with("w2", b)
    hub.deliver(Envelope(Kind.RELAY, B, SESSION.id, b"offer", "w1", 0))
    assert b.told == []
    hub.deliver(matched(SESSION, B))
    assert b.told == [("matched", "s1"), ("frame", b"offer")]


def test_the_frames_of_one_envelope_are_delivered_in_order_or_held_in_order() -> None:
    b = Socket(B)
    hub = hub_with("w2", b)
    hub.deliver(Envelope(Kind.RELAY, B, SESSION.id, b"offer", "w1", 0, 0, [b"ice1", b"ice2"]))
    assert b.told == []  # before its match: all three wait
    hub.deliver(matched(SESSION, B))
    hub.deliver(Envelope(Kind.RELAY, B, SESSION.id, b"ice3", "w1", 0, 0, [b"ice4"]))
    assert b.told == [("matched", "s1")] + [
        ("frame", f) for f in (b"offer", b"ice1", b"ice2", b"ice3", b"ice4")
    ]


def test_a_late_frame_of_the_previous_session_does_not_push_out_the_new_ones() -> None:
    """The lab's node kill: frames of the new session wait for its match while a frame of the
    user's previous session (ended on its side, not heard here yet) arrives."""
    b = Socket(B)
    hub = hub_with("w2", b)
    old = replace(SESSION, id=SessionId("s0"))
    hub.deliver(Envelope(Kind.RELAY, B, SESSION.id, b"seq:1", "w1", 0))
    hub.deliver(Envelope(Kind.RELAY, B, old.id, b"late", "w1", 0))
    hub.deliver(matched(SESSION, B))
    assert b.told == [("matched", "s1"), ("frame", b"seq:1")]


def test_frames_that_arrive_between_a_wallets_two_sockets_reach_the_new_one() -> None:
    """A wallet signs in again: its old socket here is gone, the match its old queue entry
    made and the peer's first line race; the new socket gets the match, then the line."""
    hub = hub_with("w2")
    hub.deliver(Envelope(Kind.RELAY, B, SESSION.id, b"seq:1", "w1", 0))
    b = Socket(B, phase=Phase.IDLE)
    hub.register(b)  # type: ignore[arg-type]
    hub.deliver(matched(SESSION, B))
    hub.deliver(Envelope(Kind.RELAY, B, SESSION.id, b"seq:2", "w1", 0))
    assert b.told == [("matched", "s1"), ("frame", b"seq:1"), ("frame", b"seq:2")]


def test_held_frames_of_a_session_that_ended_are_let_go() -> None:
    b = Socket(B)
    hub = hub_with("w2", b)
    hub.deliver(Envelope(Kind.RELAY, B, SESSION.id, b"x" * 100, "w1", 0))
    assert hub._early.bytes == 100
    hub.deliver(Envelope(Kind.ENDED, B, SESSION.id, text="peer-next", number=0))
    assert hub._early.bytes == 0 and not hub._early
    hub.deliver(Envelope(Kind.RELAY, B, SESSION.id, b"late", "w1", 0))  # not held: it ended
    hub.deliver(matched(SESSION, B))  # too late: the session is over
    assert not hub._early and b.told == [("ended", "peer-next")]


def test_a_resume_notice_before_our_own_resume_still_routes_to_the_newest_worker() -> None:
    """Defect 7: A and B both resume; B's resume (epoch 2, B on w3) reaches A's new worker
    before A's own rebind answer (epoch 1, B still on its old worker w2) is applied."""
    a = Socket(A)
    hub = hub_with("w4", a)
    newest = replace(
        SESSION, epoch=2, initiator_worker=WorkerId("w4"), responder_worker=WorkerId("w3")
    )
    hub.deliver(Envelope(Kind.RESUMED, A, SESSION.id, msgspec.msgpack.encode(newest)))
    own = replace(SESSION, epoch=1, initiator_worker=WorkerId("w4"))  # B still on w2
    a.session, a.phase = own, Phase.PAIRED
    hub.resumed(own, A)
    relayed: list[tuple[str, str, int]] = []
    assert hub.bridge is not None
    hub.bridge.relay = lambda inbox, address, _s, epoch, _f, **_: relayed.append(  # type: ignore[method-assign]
        (inbox, address, epoch)
    )
    hub.relay(B, own, b"chat")
    # To w3, at epoch 2: the route travels with it (the envelope says it comes from w4).
    assert relayed == [("w3", B, 2)]


def test_a_relayed_frame_teaches_the_route_of_its_sender() -> None:
    b = Socket(B, session=SESSION, phase=Phase.PAIRED)
    hub = hub_with("w2", b)
    hub.learn_route(SESSION)
    hub.deliver(Envelope(Kind.RELAY, B, SESSION.id, b"ice", "w9", 3))  # A resumed on w9
    assert hub.route(SESSION).worker_of(A) == "w9"
    assert hub.route(SESSION).epoch == 3


def _sent_by(hub: Hub) -> list[tuple[str, Envelope]]:
    sent: list[tuple[str, Envelope]] = []
    assert hub.bridge is not None
    hub.bridge.send = lambda inbox, envelope: sent.append((inbox, envelope))  # type: ignore[method-assign]
    return sent


def test_hole3_a_newer_socket_elsewhere_closes_the_older_one_here_once() -> None:
    """Issue 10, hole 3: one live socket per wallet in the fleet; the peer hears the old
    socket is gone at the epoch it held (so a resume that overtook this notice wins)."""
    here = replace(SESSION, epoch=3, responder_worker=WorkerId("w1"))  # both on w1
    a = Socket(A, session=here, phase=Phase.PAIRED, claimed_us=1_000)
    b = Socket(B, session=here, phase=Phase.PAIRED)
    hub = hub_with("w1", a, b)
    for _ in range(2):  # at least once: a duplicate finds nothing left to close
        hub.deliver(Envelope(Kind.REPLACED, A, text="w9", number=2_000))
    assert a.told == [("closed", 4002)]
    assert hub.get(A) is None  # unregistered: its close frees nothing
    assert b.told == [("gone", 3)]


def test_hole3_an_older_socket_elsewhere_is_told_to_go_instead() -> None:
    a = Socket(A, claimed_us=5_000)
    hub = hub_with("w1", a)
    sent = _sent_by(hub)
    hub.deliver(Envelope(Kind.REPLACED, A, text="w9", number=4_000))  # clocks skewed, or late
    assert a.told == [] and hub.get(A) is a  # type: ignore[comparison-overlap]
    assert [(inbox, e.kind, e.number, e.text) for inbox, e in sent] == [
        ("w9", Kind.REPLACED, 5_000, "w1")
    ]


def test_hole3_same_stamp_the_larger_worker_id_wins_on_both_sides() -> None:
    left, right = Socket(A, claimed_us=7), Socket(A, claimed_us=7)
    on_w1, on_w2 = hub_with("w1", left), hub_with("w2", right)
    on_w1.deliver(Envelope(Kind.REPLACED, A, text="w2", number=7))
    on_w2.deliver(Envelope(Kind.REPLACED, A, text="w1", number=7))
    assert left.told == [("closed", 4002)] and right.told == []


def test_hole3_a_sign_in_tells_every_other_live_worker() -> None:
    a = Socket(A)
    hub = hub_with("w1", a)
    hub.workers = frozenset({"w1", "w2", "w3"})
    sent = _sent_by(hub)
    hub.claim(a, 42)  # type: ignore[arg-type]
    assert a.claimed_us == 42
    assert sorted((inbox, e.kind, e.number, e.text) for inbox, e in sent) == [
        ("w2", Kind.REPLACED, 42, "w1"),
        ("w3", Kind.REPLACED, 42, "w1"),
    ]


def test_hole3_a_worker_learned_late_hears_of_the_recent_sign_ins() -> None:
    """A worker that joined a moment ago was not among ``workers`` when a socket here signed
    in: once learned of, it is told of the recent claims only (an older socket there goes)."""
    recent, old = Socket(A, claimed_us=9_000), Socket(B, claimed_us=1_000)
    hub = hub_with("w1", recent, old)
    sent = _sent_by(hub)
    assert hub.announce(frozenset({"w1", "w7"}), since_us=5_000) == 1
    assert [(inbox, e.kind, e.number, e.text) for inbox, e in sent] == [
        ("w7", Kind.REPLACED, 9_000, "w1")
    ]
