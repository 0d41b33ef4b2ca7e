"""The queues and live sessions in Redis: the :class:`~roulette.storage.ports.Lobby` port.

Every method is one Lua operation (or one command), so each is one atomic step on the master
holding the ``{lobby}`` hash tag, exactly as each ``MemoryLobby`` method is one step on the
event loop. The operations callers submit in one loop turn travel together, as one call of the
batch script (:mod:`roulette.storage.redis.batch`), and run there in submission order. The
scripts implement ``MatchPolicy`` and ``WaitingLine`` over sorted sets; the key layout and the
one-shard trade-off are described in :mod:`roulette.storage.keys`. Every script declares every
key it touches (``LOBBY.fixed``): the lane indexes are ranges of one key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from roulette.errors import Conflict, InvalidState, Unavailable
from roulette.identity import Address, SessionId, WorkerId
from roulette.matchmaking.policy import MatchPolicy
from roulette.matchmaking.records import QueueEntry, Session
from roulette.storage.keys import LOBBY, lane_id, order_key
from roulette.storage.ports import LobbyStats, Paired, Queued
from roulette.storage.redis.batch import Arg, ScriptBatch
from roulette.storage.redis.client import RedisClient, unavailable_on_failure
from roulette.storage.redis.scripts import Script, lobby_batch_source

__all__ = ["BATCH_IN_FLIGHT", "BATCH_OPS", "BATCH_PENDING", "RedisLobby"]

BATCH_OPS = 128
"""Operations per script call at most: a join costs the master about 20 µs inside a batch, so a
full batch holds it for a few milliseconds."""

BATCH_PENDING = 10_000
"""Operations waiting for a script call at most, per process."""

BATCH_IN_FLIGHT = 2
"""Script calls in flight at once, per process: one runs on the master while the next forms."""


class RedisLobby:
    """The queues and live sessions of every worker (implements :class:`~ports.Lobby`).

    It behaves as :class:`~roulette.storage.memory.MemoryLobby` does, decisions included
    (a rejoin goes to the back of the line; ``rematch`` sweeps from the waited-out and the
    unblocked; the candidate initiates), with two documented bounds that keep each script
    short, since a script blocks its Redis master while it runs:

    * a search for a partner looks at the ``max_scan`` longest-waiting users of each index
      (the lane, its users without interests, each of the joiner's interests), skipping
      only excluded users and the joiner itself, so it is exact unless ``max_scan``
      consecutive users of one index exclude the joiner;
    * ``rematch`` starts from the ``max_scan`` longest-waiting users at most (plus the
      unblocked), and ``expire`` ends ``max_scan`` sessions per call at most; the sweeper
      calling them periodically picks up the rest on its next turn.

    Times are the caller's (``now``), never the Redis clock, so every worker judges waiting
    and session age on the clock the contract names.

    Args:
        client: from :func:`roulette.storage.redis.client.connect`; the caller closes it.
        policy: the matching rules (only ``interest_wait_seconds`` is a parameter).
        max_queue: the most users queued at once, over all lanes (``queue_full`` beyond).
        max_scan: the bound described above.
        batch_ops: the most operations in one script call (see :class:`ScriptBatch`).
        batch_pending: the most operations waiting for a call; beyond, ``Unavailable``.
        batch_in_flight: the most script calls in flight at once.
    """

    def __init__(
        self,
        client: RedisClient,
        policy: MatchPolicy,
        *,
        max_queue: int = 100_000,
        max_scan: int = 1000,
        batch_ops: int = BATCH_OPS,
        batch_pending: int = BATCH_PENDING,
        batch_in_flight: int = BATCH_IN_FLIGHT,
    ) -> None:
        self._client = client
        self._max_queue = max_queue
        self._batch = ScriptBatch(
            Script.register(client, lobby_batch_source()),
            LOBBY.fixed,
            [*LOBBY.templates, max_scan, repr(float(policy.interest_wait_seconds))],
            max_ops=batch_ops,
            max_pending=batch_pending,
            max_in_flight=batch_in_flight,
        )

    async def _run(self, operation: str, *args: Arg) -> Any:
        return await self._batch(operation, *args)

    async def join(
        self, entry: QueueEntry, *, now: float, session_id: SessionId
    ) -> Queued | Paired:
        """Pair ``entry`` with the best waiting candidate, or queue it (one script).

        Args:
            entry: the joining user; any earlier entry of that user is replaced.
            now: the current time; a new session starts then.
            session_id: the id of the session, if one is made.

        Returns:
            ``Paired`` (the waiting candidate is the initiator) or ``Queued`` with the position.

        Raises:
            Conflict: ``already_in_session``, the user is in a live session.
            Unavailable: ``queue_full``, too many users are queued; ``state_unavailable``,
                Redis cannot be reached.
            InvalidState: ``session_id`` names a live session.
        """
        outcome, *rest = await self._run(
            "join", _encode_entry(entry), repr(now), session_id, str(self._max_queue)
        )
        if outcome == "queued":
            return Queued(position=int(rest[0]))
        if outcome == "paired":
            return Paired(_decode_session(rest[0]))
        if outcome == "in_session":
            raise Conflict("end the current session before joining", code="already_in_session")
        if outcome == "queue_full":
            raise Unavailable("the queue is full; try again later", code="queue_full")
        raise _reused_id()

    async def leave(self, address: Address) -> bool:
        """Remove the user's queue entry; False when not queued."""
        return bool(await self._run("leave", address))

    async def end_session(self, session_id: SessionId, *, by: Address | None) -> Session | None:
        """End a live session if ``by`` is one of its users (or None, for the system)."""
        by_user = ("0", "") if by is None else ("1", by)
        return _maybe_session(await self._run("end_session", session_id, *by_user))

    async def session_of(self, address: Address) -> Session | None:
        """The live session of ``address``, if any."""
        return _maybe_session(await self._run("session_of", address))

    async def rebind(
        self, session_id: SessionId, address: Address, worker: WorkerId
    ) -> Session | None:
        """Move ``address``'s end of a live session to ``worker``; the epoch grows by one.

        Returns:
            The updated session, or None when it is over or ``address`` is not in it.
        """
        return _maybe_session(await self._run("rebind", session_id, address, worker))

    async def session(self, session_id: SessionId) -> Session | None:
        """A live session by id (one ``HGET``)."""
        with unavailable_on_failure():
            raw = await self._client.hget(LOBBY.sessions, session_id)
        return _maybe_session(raw)

    async def exclude(self, a: Address, b: Address) -> None:
        """Keep ``a`` and ``b`` apart; queued entries of either change at once."""
        await self._run("exclusions", a, b, "1")

    async def include(self, a: Address, b: Address) -> None:
        """Undo :meth:`exclude` for queued entries; call it only when no block remains."""
        await self._run("exclusions", a, b, "0")

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
        outcome, *made = await self._run("rematch", repr(now), *session_ids)
        if outcome != "made":
            raise _reused_id()
        return [_decode_session(raw) for raw in made]

    async def expire(self, *, now: float, max_age: float) -> list[Session]:
        """End and return sessions started ``max_age`` seconds or more before ``now``.

        At most ``max_scan`` per call, oldest first; call again while it returns that many.
        """
        ended = await self._run("expire", repr(now), repr(max_age))
        return [_decode_session(raw) for raw in ended]

    async def position(self, address: Address) -> int | None:
        """1-based position of a queued user in its lane, None when not queued."""
        place = await self._run("position", address)
        return None if place is False else int(place)

    async def stats(self) -> LobbyStats:
        """Queue lengths per chain (chains with nobody queued are left out), live sessions."""
        flat, active = await self._run("stats")
        # An empty Lua table comes back as a JSON object: no chain has anyone queued.
        flat = flat or []
        queued = {int(flat[k]): int(flat[k + 1]) for k in range(0, len(flat), 2)}
        return LobbyStats(queued=queued, active_sessions=int(active))


_ENCODE = msgspec.json.Encoder().encode
"""Compact JSON, as the scripts decode it (cjson); ~10× cheaper than ``json``'s encoder."""


def _encode_entry(entry: QueueEntry) -> str:
    # Short field names: every queued user's entry is stored and decoded by the scripts.
    # Floats go as repr() strings, which round-trip exactly (see lua/lobby.lua).
    return _ENCODE(
        {
            "a": entry.address,
            "c": str(entry.chain_id),
            "l": lane_id(entry.chain_id, entry.queue),
            "i": sorted(entry.interests),
            "t": repr(entry.enqueued_at),
            "k": order_key(entry.enqueued_at),
            "w": entry.worker,
            "x": sorted(entry.excluded),
        },
    ).decode()


def _decode_session(raw: bytes | str) -> Session:
    fields = msgspec.json.decode(raw)
    return Session(
        id=SessionId(fields["id"]),
        chain_id=int(fields["c"]),
        initiator=Address(fields["i"]),
        responder=Address(fields["r"]),
        initiator_worker=WorkerId(fields["iw"]),
        responder_worker=WorkerId(fields["rw"]),
        started_at=float(fields["t"]),
        epoch=int(fields["e"]),
    )


def _maybe_session(raw: bytes | str | bool | None) -> Session | None:
    # A script's nil comes back as false (see lua/batch.lua), a missing hash field as None.
    if raw is None or isinstance(raw, bool):
        return None
    return _decode_session(raw)


def _reused_id() -> InvalidState:
    return InvalidState("session ids must be fresh and distinct", code="session_id_reused")
