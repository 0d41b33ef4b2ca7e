"""The ports: one ``typing.Protocol`` per store. ``memory.py`` and ``redis.py`` implement the
shared-state ones; ``sql/`` implements the durable ones.

Every method of a shared-state port is one atomic step (in Redis: one Lua script or one
command), so that two workers racing on the same users can never both win.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from roulette.identity import Address, SessionId, WorkerId
from roulette.matchmaking.records import QueueEntry, Session

__all__ = [
    "AuditEntry",
    "AuditLog",
    "BanRecord",
    "BlockRecord",
    "BudgetDebts",
    "Bus",
    "Debts",
    "EndedSession",
    "Lobby",
    "LobbyStats",
    "Moderation",
    "NonceStore",
    "Paired",
    "Queued",
    "RevokedFamily",
    "SessionHistory",
    "TokenFamilies",
    "WorkerInfo",
    "WorkerRegistry",
]


# ---------------------------------------------------------------- shared, fast state


@dataclass(frozen=True, slots=True)
class Queued:
    """The user waits; ``position`` is 1-based within the entry's lane."""

    position: int


@dataclass(frozen=True, slots=True)
class Paired:
    """The user was matched at once with a waiting candidate."""

    session: Session


@dataclass(frozen=True, slots=True)
class LobbyStats:
    """What ``/api/webrtc/stats`` and ``/metrics`` show."""

    queued: dict[int, int]
    active_sessions: int


class Lobby(Protocol):
    """The queues and live sessions. A user is in at most one queue entry or session."""

    async def join(
        self, entry: QueueEntry, *, now: float, session_id: SessionId
    ) -> Queued | Paired:
        """Pair ``entry`` with the best waiting candidate, or enqueue it.

        The candidate (already waiting) becomes the initiator; ``session_id`` names the new
        session if one is made. Joining again while queued replaces the old entry.

        Raises:
            Conflict: the user is in a live session (end it first).
        """
        ...

    async def leave(self, address: Address) -> bool:
        """Remove the user's queue entry; False when not queued."""
        ...

    async def end_session(self, session_id: SessionId, *, by: Address | None) -> Session | None:
        """End a live session. ``by`` must be one of the pair (None: the system ends it).

        Returns the ended session, or None when it does not exist (any more) or ``by`` is not
        one of its users.
        """
        ...

    async def session_of(self, address: Address) -> Session | None:
        """The live session of ``address``, if any."""
        ...

    async def rebind(
        self, session_id: SessionId, address: Address, worker: WorkerId
    ) -> Session | None:
        """Move ``address``'s end of a live session to ``worker`` (a resume after a drop).

        The session's ``epoch`` grows by one. Returns the updated session, or None when the
        session is over or ``address`` is not one of its users.
        """
        ...

    async def session(self, session_id: SessionId) -> Session | None:
        """A live session by id."""
        ...

    async def exclude(self, a: Address, b: Address) -> None:
        """From now on ``a`` and ``b`` never meet (a block); applies to queued entries at once."""
        ...

    async def include(self, a: Address, b: Address) -> None:
        """Undo :meth:`exclude` for queued entries (an unblock)."""
        ...

    async def rematch(self, *, now: float, session_ids: Sequence[SessionId]) -> list[Session]:
        """Pair waiting users whose interest window has opened; at most ``len(session_ids)``."""
        ...

    async def expire(self, *, now: float, max_age: float) -> list[Session]:
        """End and return every session that started ``max_age`` seconds or more before now."""
        ...

    async def position(self, address: Address) -> int | None:
        """1-based position of a queued user in its lane, None when not queued."""
        ...

    async def stats(self) -> LobbyStats:
        """Queue lengths per chain and the number of live sessions."""
        ...


class NonceStore(Protocol):
    """SIWE nonces (EIP-4361 §"nonce"): issued by us, consumed exactly once, with a TTL."""

    async def issue(self, nonce: str, *, now: float, ttl: float) -> None:
        """Remember a fresh nonce until ``now + ttl``."""
        ...

    async def consume(self, nonce: str, *, now: float) -> bool:
        """Atomically take the nonce: True the first time, if it was issued and not expired."""
        ...


class Bus(Protocol):
    """Cross-worker delivery: each worker reads its own inbox (Redis: sharded pub/sub).

    Delivery is in order per (sender, inbox) and at most once; a worker that is down misses
    what was sent to it (its users' sessions are then failed over by the reaper).
    """

    async def publish(self, inbox: str, payloads: Sequence[bytes]) -> None:
        """Send ``payloads`` in order to worker ``inbox`` (batched: one round trip)."""
        ...

    def subscribe(self, inbox: str) -> AsyncIterator[bytes]:
        """Every payload published to ``inbox`` from now on, in order, until cancelled."""
        ...


class ControlLog(Protocol):
    """Cross-worker control notices (matched, ended, resumed, kicked): at least once.

    Unlike the :class:`Bus`, what is appended for a worker waits for it (Redis: a stream per
    worker, capped and expiring), so a reader that lost its connection — a failover, a
    resubscribe — reads on from where it was. A notice may arrive twice (an append retried
    after its reply was lost); receivers apply each one once.
    """

    async def append(self, inbox: str, payloads: Sequence[bytes]) -> None:
        """Append ``payloads`` in order to worker ``inbox``'s log (one round trip)."""
        ...

    def read(self, inbox: str) -> AsyncIterator[bytes]:
        """Every payload appended to ``inbox`` from now on, in order, surviving failures."""
        ...


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """What a worker says about itself in each heartbeat."""

    worker_id: str
    host: str
    pid: int
    connections: int
    started_at: float


class WorkerRegistry(Protocol):
    """Worker membership with a TTL: a worker that stops beating is dead for everyone."""

    async def beat(self, info: WorkerInfo, *, ttl: float) -> None:
        """Announce ``info`` as alive for ``ttl`` seconds."""
        ...

    async def leave(self, worker_id: str) -> None:
        """Remove the worker at once (graceful shutdown)."""
        ...

    async def alive(self) -> list[WorkerInfo]:
        """Every worker whose last beat has not expired."""
        ...

    async def boot(self, candidate: str) -> str:
        """The store's boot id: ``candidate`` if the store had none (it was empty).

        A worker remembers the id it first saw; a different one later means the store lost
        its data (Redis restarted empty), and every worker's membership with it.
        """
        ...


@dataclass(frozen=True, slots=True)
class Debts:
    """How far a wallet's budgets are spent, in seconds until each is whole again."""

    messages: float = 0.0
    """The message budget (``WS_RATE_BURST`` / ``WS_RATE_PER_SECOND``)."""
    skips: float = 0.0
    """The skip budget (``SKIPS_PER_MINUTE``)."""

    @property
    def longest(self) -> float:
        """The larger of the two: how long the debt is worth remembering."""
        return max(self.messages, self.skips)


class BudgetDebts(Protocol):
    """What a wallet owes its budgets, carried from one socket to its next, on any worker
    (issue 10, hole 3): a reconnect or a second socket does not refill a spent budget."""

    async def carry(self, address: Address, debts: Debts, *, now: float) -> None:
        """Remember ``debts`` as of ``now`` until the longest is paid off (then forget)."""
        ...

    async def owed(self, address: Address, *, now: float) -> Debts:
        """What ``address`` still owes at ``now`` (zeros when nothing is remembered)."""
        ...


# ---------------------------------------------------------------- durable facts (SQL)


@dataclass(frozen=True, slots=True)
class BlockRecord:
    """One block, as ``GET /blocks`` lists it."""

    address: Address
    reason: str | None
    blocked_at: float


@dataclass(frozen=True, slots=True)
class BanRecord:
    """One ban of an address."""

    address: Address
    reason: str
    banned_at: float
    banned_by: str
    expires_at: float | None = None
    """None: until lifted."""


class Moderation(Protocol):
    """Reports, blocks and bans: durable, the source of truth the lobby's cache re-checks."""

    async def add_report(
        self,
        *,
        reporter: Address,
        target: Address,
        reason: str,
        session_id: str | None,
        notes: str | None,
        now: float,
    ) -> int:
        """Store a report and return its id."""
        ...

    async def add_block(
        self, *, blocker: Address, target: Address, reason: str | None, now: float
    ) -> bool:
        """Store a block; False when it already existed (nothing changes)."""
        ...

    async def remove_block(self, *, blocker: Address, target: Address) -> bool:
        """Delete a block; False when there was none."""
        ...

    async def blocks_of(self, blocker: Address) -> list[BlockRecord]:
        """The blocks ``blocker`` made, newest first."""
        ...

    async def exclusions(self, address: Address) -> frozenset[Address]:
        """Everyone ``address`` blocked or was blocked by."""
        ...

    async def ban(
        self,
        *,
        address: Address,
        reason: str,
        by: str,
        now: float,
        expires_at: float | None = None,
    ) -> None:
        """Ban an address until ``expires_at`` (None: until lifted); a second ban replaces it."""
        ...

    async def unban(self, address: Address) -> bool:
        """Lift a ban; False when there was none."""
        ...

    async def is_banned(self, address: Address, *, now: float | None = None) -> bool:
        """True when the address is banned and the ban has not expired by ``now``."""
        ...

    async def bans(self) -> list[BanRecord]:
        """Every ban, newest first."""
        ...

    async def bans_since(self, since: float) -> list[BanRecord]:
        """The bans made (or renewed) at ``banned_at >= since``, oldest first."""
        ...


@dataclass(frozen=True, slots=True)
class RevokedFamily:
    """A sign-in (token family) that was revoked: logout, a ban, a reused refresh token."""

    family_id: str
    address: Address
    revoked_at: float


class TokenFamilies(Protocol):
    """Refresh-token families: rotation, reuse detection and revocation (durable).

    A family starts at sign-in. Each refresh replaces its current token id; presenting a
    rotated (older) token id revokes the whole family, since it means the token was stolen
    (RFC 6819 §5.2.2.3, OAuth 2.0 Security BCP §4.14).
    """

    async def create(
        self, *, family_id: str, address: Address, jti: str, now: float, expires_at: float
    ) -> None:
        """Start a family whose current refresh token id is ``jti``."""
        ...

    async def rotate(self, *, family_id: str, old_jti: str, new_jti: str, now: float) -> bool:
        """Swap ``old_jti`` for ``new_jti`` atomically.

        Returns True on success. When ``old_jti`` is not the current one (a reused, rotated
        token) the family is revoked and False is returned; an unknown, expired or revoked
        family also gives False.
        """
        ...

    async def start_unless_banned(
        self, *, family_id: str, address: Address, jti: str, now: float, expires_at: float
    ) -> bool:
        """Start a family as :meth:`create` does unless a ban of ``address`` is in force at
        ``now``, in one step (the sign-in path); False, writing nothing, when banned."""
        ...

    async def rotate_unless_banned(
        self, *, family_id: str, old_jti: str, new_jti: str, now: float
    ) -> bool:
        """Swap ``old_jti`` for ``new_jti`` when it is the current id of a live family whose
        wallet is not banned, in one step (the refresh path). False changes nothing."""
        ...

    async def revoke(self, family_id: str, *, now: float) -> None:
        """Revoke the family: its access and refresh tokens are refused from now on."""
        ...

    async def is_active(self, family_id: str, *, now: float) -> bool:
        """True when the family exists, is not revoked and has not expired."""
        ...

    async def revoke_wallet(self, address: Address, *, now: float) -> int:
        """Revoke every live family of ``address`` (a ban); returns how many were revoked."""
        ...

    async def revoked_since(self, since: float) -> list[RevokedFamily]:
        """The families revoked at ``revoked_at >= since``, oldest first."""
        ...


@dataclass(frozen=True, slots=True)
class EndedSession:
    """A session from history: who met, when, and why it ended."""

    session: Session
    ended_at: float
    reason: str


class SessionHistory(Protocol):
    """Every session, durable: for moderation (reports name a session) and tips after the end."""

    async def record_end(self, session: Session, *, ended_at: float, reason: str) -> None:
        """Write the finished session (idempotent: a second call keeps the first record)."""
        ...

    async def ended(self, session_id: SessionId) -> EndedSession | None:
        """The finished session with this id, if it is in the history."""
        ...


# ---------------------------------------------------------------- the audit log (durable)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One management action: who did what to whom, when and why."""

    id: int
    at: float
    actor: str
    action: str
    target: str | None
    reason: str | None
    details: Mapping[str, object]


class AuditLog(Protocol):
    """An append-only record of every management action (moderation, scaling, drains).

    Nothing is ever updated or deleted (the SQL table refuses both with a trigger).
    """

    async def append(
        self,
        *,
        actor: str,
        action: str,
        target: str | None,
        reason: str | None,
        now: float,
        details: Mapping[str, object] | None = None,
    ) -> int:
        """Record one action and return its id (ids grow with time).

        Args:
            actor: who: ``admin-api:<name>``, ``cli:<name>``, ``system``, ``autoscaler``, …
            action: what, as a snake_case verb: ``ban``, ``unban``, ``resolve_report``, …
            target: whom or what (an address, a worker id), if anyone.
            reason: why, in the actor's words.
            now: when (Unix seconds).
            details: anything else worth keeping, JSON-serialisable.
        """
        ...

    async def entries(
        self, *, target: str | None = None, limit: int = 100, before_id: int | None = None
    ) -> list[AuditEntry]:
        """The newest entries first (about ``target`` only, if given), older than ``before_id``."""
        ...
