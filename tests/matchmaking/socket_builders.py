"""The wallets, rules and sessions the socket machine's tests build on."""

from __future__ import annotations

from roulette.identity import Address, SessionId, WorkerId
from roulette.matchmaking.records import Session
from roulette.matchmaking.socket_rules import SocketRules

__all__ = ["ME", "OTHER", "PEER", "RULES", "session"]

ME = Address("0x" + "a" * 40)
PEER = Address("0x" + "b" * 40)
OTHER = Address("0x" + "c" * 40)
RULES = SocketRules(chain_ids=(1, 5), reconnect_grace_seconds=30.0, next_interval_seconds=2.0)


def session(sid: str = "s1", epoch: int = 0, peer: Address = PEER) -> Session:
    """A live session of ``ME`` with ``peer`` (the initiator)."""
    return Session(
        id=SessionId(sid),
        chain_id=1,
        initiator=peer,
        responder=ME,
        initiator_worker=WorkerId("w1"),
        responder_worker=WorkerId("w1"),
        started_at=100.0,
        epoch=epoch,
    )
