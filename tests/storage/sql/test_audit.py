"""The append-only audit log, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from roulette.storage.ports import AuditEntry, AuditLog
from roulette.storage.sql.audit import SqlAuditLog
from roulette.storage.sql.schema import audit_log

NOW = 1_700_000_000.0
BOB = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"


@pytest.fixture
def audit(engine: AsyncEngine) -> SqlAuditLog:
    return SqlAuditLog(engine)


def test_the_store_satisfies_the_port(audit: SqlAuditLog) -> None:
    port: AuditLog = audit
    assert port is audit


async def test_entries_are_read_back_newest_first_with_who_what_when_why(
    audit: SqlAuditLog,
) -> None:
    first = await audit.append(
        actor="admin-api:ann", action="ban", target=BOB, reason="spam", now=NOW
    )
    second = await audit.append(
        actor="autoscaler",
        action="scale_up",
        target="worker-3",
        reason="cpu 91% > 80%",
        now=NOW + 1,
        details={"from": 2, "to": 3},
    )
    assert first < second
    assert await audit.entries() == [
        AuditEntry(
            second,
            NOW + 1,
            "autoscaler",
            "scale_up",
            "worker-3",
            "cpu 91% > 80%",
            {"from": 2, "to": 3},
        ),
        AuditEntry(first, NOW, "admin-api:ann", "ban", BOB, "spam", {}),
    ]
    assert [e.id for e in await audit.entries(target=BOB)] == [first]
    assert [e.id for e in await audit.entries(before_id=second)] == [first]
    assert [e.id for e in await audit.entries(limit=1)] == [second]


async def test_the_table_refuses_updates_and_deletes(
    audit: SqlAuditLog, engine: AsyncEngine
) -> None:
    """Append-only is enforced by the database (a trigger), not only by the store's API."""
    await audit.append(actor="cli:root", action="unban", target=BOB, reason=None, now=NOW)
    for statement in (update(audit_log).values(reason="forged"), delete(audit_log)):
        with pytest.raises(DBAPIError, match="append-only"):
            async with engine.begin() as connection:
                await connection.execute(statement)
    (entry,) = await audit.entries()
    assert entry.reason is None
