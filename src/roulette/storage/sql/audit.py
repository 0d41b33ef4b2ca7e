"""The append-only audit log in SQL: the :class:`~roulette.storage.ports.AuditLog` port.

Moderation actions write here, and so may any other management path (the auto-scaler, drains):
build a :class:`SqlAuditLog` on the node's engine and call :meth:`SqlAuditLog.append`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from roulette.storage.ports import AuditEntry
from roulette.storage.sql.database import begin, connect
from roulette.storage.sql.schema import audit_log

__all__ = ["MAX_AUDIT_PAGE", "SqlAuditLog"]

MAX_AUDIT_PAGE = 500
"""The most entries one read returns."""

_log = audit_log.c


class SqlAuditLog:
    """The durable audit log, on SQLite or PostgreSQL.

    Args:
        engine: an engine on a migrated database; the caller owns and disposes it.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

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
        """Record one action; returns its id."""
        statement = (
            audit_log.insert()
            .values(
                at=now,
                actor=actor,
                action=action,
                target=target,
                reason=reason,
                details=json.dumps(dict(details), sort_keys=True) if details else None,
            )
            .returning(_log.id)
        )
        async with begin(self._engine) as connection:
            entry_id = (await connection.execute(statement)).scalar_one()
        return int(entry_id)

    async def entries(
        self, *, target: str | None = None, limit: int = 100, before_id: int | None = None
    ) -> list[AuditEntry]:
        """The newest entries first, at most ``limit`` (capped at :data:`MAX_AUDIT_PAGE`)."""
        statement = select(audit_log).order_by(_log.id.desc()).limit(min(limit, MAX_AUDIT_PAGE))
        if target is not None:
            statement = statement.where(_log.target == target)
        if before_id is not None:
            statement = statement.where(_log.id < before_id)
        async with connect(self._engine) as connection:
            rows = (await connection.execute(statement)).all()
        return [
            AuditEntry(
                id=row.id,
                at=row.at,
                actor=row.actor,
                action=row.action,
                target=row.target,
                reason=row.reason,
                details=json.loads(row.details) if row.details else {},
            )
            for row in rows
        ]
