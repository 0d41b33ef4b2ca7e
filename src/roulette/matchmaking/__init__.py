"""Matchmaking: who may pair with whom, queue order and the records it works on (pure)."""

from roulette.matchmaking.policy import (
    MatchPolicy,
    Pair,
    WaitingLine,
    shares_interest,
    sweep,
    waiting_order,
)
from roulette.matchmaking.records import Address, Lane, QueueEntry, Session, SessionId, WorkerId

__all__ = [
    "Address",
    "Lane",
    "MatchPolicy",
    "Pair",
    "QueueEntry",
    "Session",
    "SessionId",
    "WaitingLine",
    "WorkerId",
    "shares_interest",
    "sweep",
    "waiting_order",
]
