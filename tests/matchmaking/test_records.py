"""The matchmaking records: queue entries and sessions as plain values."""

from __future__ import annotations

from roulette.identity import Address, SessionId, WorkerId
from roulette.matchmaking.records import QueueEntry, Session

A, B = Address("0xA"), Address("0xB")
SESSION = Session(
    id=SessionId("s"),
    chain_id=1,
    initiator=A,
    responder=B,
    initiator_worker=WorkerId("w1"),
    responder_worker=WorkerId("w2"),
    started_at=0.0,
)


def test_a_lane_is_the_chain_and_the_named_queue() -> None:
    entry = QueueEntry(A, 137, frozenset(), 0.0, WorkerId("w"), queue="holders")
    assert entry.lane == (137, "holders")


def test_a_session_knows_its_pair_their_peers_and_their_workers() -> None:
    assert SESSION.has(A)
    assert SESSION.has(B)
    assert not SESSION.has(Address("0xC"))
    assert (SESSION.peer_of(A), SESSION.peer_of(B)) == (B, A)
    assert (SESSION.worker_of(A), SESSION.worker_of(B)) == ("w1", "w2")
