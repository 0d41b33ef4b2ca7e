"""SQL statement timing: SQLAlchemy cursor events feed the latency metric and the vitals.

Only the statement's kind labels the metric and only its text (never its parameters, which
may hold addresses) is kept for the slow-query list.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from roulette.observability.metrics import SQL_LATENCY
from roulette.observability.vitals import Vitals

__all__ = ["instrument"]

_KINDS = frozenset({"select", "insert", "update", "delete"})
_STARTED = "roulette_statement_started"


def instrument(engine: AsyncEngine, vitals: Vitals) -> None:
    """Time every statement ``engine`` executes."""

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        conn.info.setdefault(_STARTED, []).append(time.perf_counter())

    def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        started = conn.info.get(_STARTED)
        if not started:
            return
        seconds = time.perf_counter() - started.pop()
        words = statement.split(None, 1)
        kind = words[0].lower() if words and words[0].lower() in _KINDS else "other"
        SQL_LATENCY.labels(kind).observe(seconds)
        vitals.sql_statement(statement, seconds * 1000.0, time.time())

    def failed(context: Any) -> None:
        connection = context.connection
        started = connection.info.get(_STARTED) if connection is not None else None
        if started:
            started.pop()  # a failed statement has no "after"; keep the stack balanced

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    event.listen(engine.sync_engine, "handle_error", failed)
    event.listen(engine.sync_engine, "after_cursor_execute", after)
