"""Finished sessions in SQL: the :class:`~roulette.storage.ports.SessionHistory` port."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from roulette.identity import Address, SessionId, WorkerId
from roulette.matchmaking.records import Session
from roulette.storage.ports import EndedSession
from roulette.storage.sql.database import begin, connect, insert_into
from roulette.storage.sql.schema import session_history

__all__ = ["SqlSessionHistory"]

_NO_WORKER = WorkerId("")


class SqlSessionHistory:
    """Durable session history; one row per session, written when it ends.

    Args:
        engine: an engine on a migrated database; the caller owns and disposes it.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def record_end(self, session: Session, *, ended_at: float, reason: str) -> None:
        """Write the finished session; a second call for the same id changes nothing."""
        statement = (
            insert_into(self._engine, session_history)
            .values(
                id=session.id,
                chain_id=session.chain_id,
                initiator=session.initiator,
                responder=session.responder,
                started_at=session.started_at,
                ended_at=ended_at,
                end_reason=reason,
            )
            .on_conflict_do_nothing(index_elements=["id"])
        )
        async with begin(self._engine) as connection:
            await connection.execute(statement)

    async def ended(self, session_id: SessionId) -> EndedSession | None:
        """The finished session with this id, or None."""
        query = select(session_history).where(session_history.c.id == session_id)
        async with connect(self._engine) as connection:
            row = (await connection.execute(query)).mappings().first()
        if row is None or row["ended_at"] is None:
            return None
        session = Session(
            id=SessionId(row["id"]),
            chain_id=row["chain_id"],
            initiator=Address(row["initiator"]),
            responder=Address(row["responder"]),
            initiator_worker=_NO_WORKER,
            responder_worker=_NO_WORKER,
            started_at=row["started_at"],
        )
        return EndedSession(session, ended_at=row["ended_at"], reason=row["end_reason"] or "")
