"""Small builders shared by the contract suites: users, queue entries, session ids."""

from __future__ import annotations

from collections.abc import Iterable

from roulette.identity import Address, SessionId, WorkerId
from roulette.matchmaking.policy import MatchPolicy
from roulette.matchmaking.records import QueueEntry

__all__ = ["WAIT", "entry", "sid", "user"]

WAIT = MatchPolicy().interest_wait_seconds
"""The interest window of the policy every store under contract is built with."""


def user(name: str) -> Address:
    """An address for a named test user (stores treat addresses as opaque strings)."""
    return Address(f"0x{name}")


def sid(n: int | str) -> SessionId:
    """A session id."""
    return SessionId(f"s-{n}")


def entry(
    who: str,
    *,
    at: float = 0.0,
    chain: int = 1,
    interests: Iterable[str] = (),
    excluded: Iterable[str] = (),
    queue: str | None = None,
) -> QueueEntry:
    """A queue entry for user ``who`` joining at time ``at``, on a worker named after it."""
    return QueueEntry(
        address=user(who),
        chain_id=chain,
        interests=frozenset(interests),
        enqueued_at=at,
        worker=WorkerId(f"worker-{who}"),
        excluded=frozenset(user(x) for x in excluded),
        queue=queue,
    )
