"""The records matchmaking works on: queue entries and live sessions (plain values)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from roulette.identity import Address, SessionId, WorkerId

__all__ = ["Lane", "QueueEntry", "Session"]

Lane: TypeAlias = tuple[int, str | None]
"""One queue: ``(chain_id, queue name or None)``. Users meet only within one lane."""


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """One user waiting to be matched.

    Attributes:
        address: who waits.
        chain_id: only users of the same chain meet.
        interests: shared interests order candidates; empty means "anyone, at once".
        enqueued_at: when the user joined (seconds, the caller's clock).
        worker: the worker holding the user's socket.
        excluded: addresses this user must never meet (blocks in either direction).
        queue: a named (token-gated) queue, or None for the chain's public queue.
    """

    address: Address
    chain_id: int
    interests: frozenset[str]
    enqueued_at: float
    worker: WorkerId
    excluded: frozenset[Address] = frozenset()
    queue: str | None = None

    @property
    def lane(self) -> Lane:
        """The queue this entry waits in: users meet only within one lane."""
        return (self.chain_id, self.queue)


@dataclass(frozen=True, slots=True)
class Session:
    """A live 1:1 session. The initiator sends the WebRTC offer.

    ``epoch`` grows every time one of the two resumes after a dropped socket, so that
    messages routed for an older incarnation can be told apart.
    """

    id: SessionId
    chain_id: int
    initiator: Address
    responder: Address
    initiator_worker: WorkerId
    responder_worker: WorkerId
    started_at: float
    epoch: int = 0

    def has(self, address: Address) -> bool:
        """True when ``address`` is one of the pair."""
        return address in (self.initiator, self.responder)

    def peer_of(self, address: Address) -> Address:
        """The other user of the pair (``address`` must be one of them)."""
        return self.responder if address == self.initiator else self.initiator

    def worker_of(self, address: Address) -> WorkerId:
        """The worker holding ``address``'s socket."""
        return self.initiator_worker if address == self.initiator else self.responder_worker
