"""In-process stores: the embedded default, and the reference the Redis stores must match.

Every method is an ``async def`` whose body never awaits, so each call is one atomic step on
the event loop, just as each Redis call will be one Lua script.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import replace

from roulette.errors import Conflict, InvalidState, Unavailable
from roulette.identity import Address, SessionId, WorkerId
from roulette.matchmaking.policy import (
    MatchPolicy,
    WaitingLine,
    queue_is_full,
    sweep,
    waiting_order,
)
from roulette.matchmaking.records import Lane, QueueEntry, Session
from roulette.storage.ports import LobbyStats, Paired, Queued

__all__ = ["MemoryLobby", "MemoryNonceStore"]


class MemoryLobby:
    """The queues and live sessions of one process (implements :class:`~ports.Lobby`).

    Decisions the port leaves open:

    * Joining again while queued replaces the entry, and the user goes to the back of the
      line: the new ``enqueued_at`` counts, as for a fresh join.
    * :meth:`exclude` and :meth:`include` change queued entries only; a user who is not
      queued brings its exclusions in its next :class:`QueueEntry` (from the durable blocks).
    * :meth:`rematch` returns exactly ``policy.pairs(queue, now)[:len(session_ids)]``; the
      user who waited longer is the initiator.
    * A join that would queue a user beyond ``max_queue`` fails; one that pairs never does.
    * :meth:`stats` leaves out chains with nobody queued.

    Args:
        policy: the matching rules.
        max_queue: the most users queued at once, over all lanes.
    """

    def __init__(self, policy: MatchPolicy, *, max_queue: int = 100_000) -> None:
        self._policy = policy
        self._max_queue = max_queue
        self._lines: dict[Lane, WaitingLine] = {}
        self._lane_of: dict[Address, Lane] = {}
        # Queued users whose exclusions were lifted: besides those whose interest window has
        # opened, the only ones who can have gained a partner since they joined (see rematch).
        self._unblocked: set[Address] = set()
        self._sessions: dict[SessionId, Session] = {}
        self._session_of: dict[Address, SessionId] = {}
        self._by_start: list[tuple[float, SessionId]] = []  # heap; ended sessions linger

    async def join(
        self, entry: QueueEntry, *, now: float, session_id: SessionId
    ) -> Queued | Paired:
        """Pair ``entry`` with the best waiting candidate, or queue it.

        Args:
            entry: the joining user; any earlier entry of that user is replaced.
            now: the current time; a new session starts then.
            session_id: the id of the session, if one is made.

        Returns:
            ``Paired`` (the waiting candidate is the initiator) or ``Queued`` with the position.

        Raises:
            Conflict: ``already_in_session``, the user is in a live session.
            Unavailable: ``queue_full``, too many users are queued.
            InvalidState: ``session_id`` names a live session.
        """
        if entry.address in self._session_of:
            raise Conflict("end the current session before joining", code="already_in_session")
        self._check_new_ids([session_id])
        self._dequeue(entry.address)
        line = self._lines.get(entry.lane)
        candidate = line.best_for(entry, now) if line is not None else None
        if candidate is None:
            # Checked last: a user who pairs at once shrinks a full queue. Nothing has changed
            # yet for a new user, and a re-joining one just freed its own place.
            if queue_is_full(len(self._lane_of), self._max_queue):
                raise Unavailable("the queue is full; try again later", code="queue_full")
            return Queued(position=self._enqueue(entry))
        self._dequeue(candidate.address)
        return Paired(self._start(session_id, candidate, entry, now))

    async def leave(self, address: Address) -> bool:
        """Remove the user's queue entry; False when not queued."""
        return self._dequeue(address) is not None

    async def end_session(self, session_id: SessionId, *, by: Address | None) -> Session | None:
        """End a live session if ``by`` is one of its users (or None, for the system)."""
        session = self._sessions.get(session_id)
        if session is None or (by is not None and not session.has(by)):
            return None
        self._end(session)
        return session

    async def session_of(self, address: Address) -> Session | None:
        """The live session of ``address``, if any."""
        session_id = self._session_of.get(address)
        return None if session_id is None else self._sessions[session_id]

    async def session(self, session_id: SessionId) -> Session | None:
        """A live session by id."""
        return self._sessions.get(session_id)

    async def rebind(
        self, session_id: SessionId, address: Address, worker: WorkerId
    ) -> Session | None:
        """Move ``address``'s end of a live session to ``worker``; the epoch grows by one."""
        session = self._sessions.get(session_id)
        if session is None or not session.has(address):
            return None
        moved = (
            replace(session, initiator_worker=worker, epoch=session.epoch + 1)
            if address == session.initiator
            else replace(session, responder_worker=worker, epoch=session.epoch + 1)
        )
        self._sessions[session_id] = moved
        return moved

    async def exclude(self, a: Address, b: Address) -> None:
        """Keep ``a`` and ``b`` apart; queued entries of either change at once."""
        self._update_exclusions(a, add=b)
        self._update_exclusions(b, add=a)

    async def include(self, a: Address, b: Address) -> None:
        """Undo :meth:`exclude` for queued entries; call it only when no block remains."""
        for user, other in ((a, b), (b, a)):
            if self._update_exclusions(user, remove=other):
                self._unblocked.add(user)

    async def rematch(self, *, now: float, session_ids: Sequence[SessionId]) -> list[Session]:
        """Pair waiting users whose interest window opened (or who were unblocked).

        Args:
            now: the current time; new sessions start then.
            session_ids: ids for the new sessions, used in order; at most this many are made.

        Returns:
            The new sessions, the user who waited longer being the initiator.

        Raises:
            InvalidState: an id is repeated or names a live session.
        """
        self._check_new_ids(session_ids)
        # Each queued pair was unacceptable when the later of the two joined. Only time (an
        # interest window opening, and the older one's opens first) or an unblock can change
        # that, so every user with an acceptable later partner is a starter, and sweeping from
        # the starters gives exactly ``policy.pairs`` of the whole queue.
        starters = sorted(self._rematch_starters(now), key=waiting_order)
        made = sweep(self._lines, starters, now, limit=len(session_ids))
        sessions = []
        for session_id, (older, younger) in zip(session_ids, made, strict=False):
            for user in (older, younger):
                del self._lane_of[user.address]
                self._unblocked.discard(user.address)
            sessions.append(self._start(session_id, older, younger, now))
        self._drop_empty_lines()
        return sessions

    async def expire(self, *, now: float, max_age: float) -> list[Session]:
        """End and return every session started ``max_age`` seconds or more before ``now``."""
        ended: list[Session] = []
        while self._by_start and now - self._by_start[0][0] >= max_age:
            started_at, session_id = heapq.heappop(self._by_start)
            session = self._sessions.get(session_id)
            if session is not None and session.started_at == started_at:
                self._end(session)
                ended.append(session)
        return ended

    async def position(self, address: Address) -> int | None:
        """1-based position of a queued user in its lane, None when not queued."""
        lane = self._lane_of.get(address)
        return None if lane is None else self._line(lane).position(address)

    async def stats(self) -> LobbyStats:
        """Queue lengths per chain (chains with nobody queued are left out), live sessions."""
        queued: dict[int, int] = {}
        for (chain_id, _), line in self._lines.items():
            queued[chain_id] = queued.get(chain_id, 0) + len(line)
        return LobbyStats(queued=queued, active_sessions=len(self._sessions))

    # ------------------------------------------------------------ queue bookkeeping

    def _line(self, lane: Lane) -> WaitingLine:
        return self._lines[lane]

    def _enqueue(self, entry: QueueEntry) -> int:
        line = self._lines.get(entry.lane)
        if line is None:
            line = self._lines[entry.lane] = WaitingLine(self._policy)
        line.add(entry)
        self._lane_of[entry.address] = entry.lane
        position = line.position(entry.address)
        assert position is not None, "a user just queued has a place"
        return position

    def _dequeue(self, address: Address) -> QueueEntry | None:
        lane = self._lane_of.pop(address, None)
        if lane is None:
            return None
        self._unblocked.discard(address)
        line = self._lines[lane]
        entry = line.discard(address)
        if not line:
            del self._lines[lane]  # named lanes come and go: keep memory bounded
        return entry

    def _drop_empty_lines(self) -> None:
        for lane in [lane for lane, line in self._lines.items() if not line]:
            del self._lines[lane]

    def _update_exclusions(
        self, user: Address, *, add: Address | None = None, remove: Address | None = None
    ) -> bool:
        lane = self._lane_of.get(user)
        if lane is None:
            return False
        line = self._line(lane)
        entry = line.get(user)
        assert entry is not None, "lane index out of step with the waiting line"
        excluded = entry.excluded | {add} if add is not None else entry.excluded - {remove}
        line.add(_with_excluded(entry, excluded))
        return True

    def _rematch_starters(self, now: float) -> Iterable[QueueEntry]:
        chosen: dict[Address, QueueEntry] = {}
        for line in self._lines.values():
            chosen.update((e.address, e) for e in line.waited_out(now))
        for address in self._unblocked:
            entry = self._line(self._lane_of[address]).get(address)
            assert entry is not None, "unblocked users are queued users"
            chosen[address] = entry
        return chosen.values()

    # ------------------------------------------------------------ sessions

    def _check_new_ids(self, session_ids: Sequence[SessionId]) -> None:
        if len(set(session_ids)) != len(session_ids) or any(
            session_id in self._sessions for session_id in session_ids
        ):
            raise InvalidState("session ids must be fresh and distinct", code="session_id_reused")

    def _start(
        self, session_id: SessionId, initiator: QueueEntry, responder: QueueEntry, now: float
    ) -> Session:
        session = Session(
            id=session_id,
            chain_id=initiator.chain_id,
            initiator=initiator.address,
            responder=responder.address,
            initiator_worker=initiator.worker,
            responder_worker=responder.worker,
            started_at=now,
        )
        self._sessions[session_id] = session
        self._session_of[initiator.address] = session_id
        self._session_of[responder.address] = session_id
        if len(self._by_start) > 2 * len(self._sessions) + 64:
            # Ended sessions linger in the heap; rebuild it so memory follows live sessions.
            self._by_start = [(s.started_at, s.id) for s in self._sessions.values()]
            heapq.heapify(self._by_start)
        else:
            heapq.heappush(self._by_start, (now, session_id))
        return session

    def _end(self, session: Session) -> None:
        del self._sessions[session.id]
        del self._session_of[session.initiator]
        del self._session_of[session.responder]


def _with_excluded(entry: QueueEntry, excluded: frozenset[Address]) -> QueueEntry:
    return QueueEntry(
        address=entry.address,
        chain_id=entry.chain_id,
        interests=entry.interests,
        enqueued_at=entry.enqueued_at,
        worker=entry.worker,
        excluded=excluded,
        queue=entry.queue,
    )


class MemoryNonceStore:
    """SIWE nonces of one process (implements :class:`~ports.NonceStore`).

    A nonce is valid while ``now < issued_at + ttl``. Expired nonces are purged lazily when
    new ones are issued, and at most ``max_nonces`` are held: beyond that the oldest go first.

    Args:
        max_nonces: the most nonces held at once.
    """

    def __init__(self, *, max_nonces: int = 1_000_000) -> None:
        self._max_nonces = max_nonces
        # Issue order; an OrderedDict pops its oldest item in O(1), a dict does not always.
        self._expires_at: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        """Nonces held, counting expired ones not purged yet."""
        return len(self._expires_at)

    async def issue(self, nonce: str, *, now: float, ttl: float) -> None:
        """Remember a fresh nonce until ``now + ttl`` (issuing it again restarts its TTL)."""
        self._expires_at.pop(nonce, None)
        self._purge_expired(now)
        while len(self._expires_at) >= self._max_nonces:
            self._expires_at.popitem(last=False)
        self._expires_at[nonce] = now + ttl

    async def consume(self, nonce: str, *, now: float) -> bool:
        """Take the nonce: True the first time, if it was issued and has not expired."""
        expires_at = self._expires_at.pop(nonce, None)
        return expires_at is not None and now < expires_at

    def _purge_expired(self, now: float) -> None:
        # Oldest first; a nonce issued with a longer TTL may shelter a few expired ones
        # behind it for a while, which the cap bounds.
        while self._expires_at:
            oldest = next(iter(self._expires_at))
            if now < self._expires_at[oldest]:
                return
            del self._expires_at[oldest]
