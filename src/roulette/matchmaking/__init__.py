"""Matchmaking: who may pair with whom, queue order and the records it works on (pure)."""

from roulette.matchmaking.policy import (
    MatchPolicy,
    Pair,
    WaitingLine,
    shares_interest,
    sweep,
    waiting_order,
)
from roulette.matchmaking.records import Lane, QueueEntry, Session

__all__ = [
    "Lane",
    "MatchPolicy",
    "Pair",
    "QueueEntry",
    "Session",
    "WaitingLine",
    "shares_interest",
    "sweep",
    "waiting_order",
]
