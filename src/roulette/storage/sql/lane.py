"""A direct lane to the database for the statements of the sign-in path (issue 15).

A sign-in through SQLAlchemy's async engine cost ~2.5 ms of CPU on SQLite: every statement,
commit, rollback-on-return and cursor close is one hop to aiosqlite's thread, and each
execution builds a cache key. The sign-in and refresh paths need one statement each, so they
bypass all of it:

- SQLite: ``sqlite3`` in autocommit mode (a single statement is its own transaction), run
  inline when it need not wait for a lock and on a thread of its own when it must
  (:class:`SqliteLane`): a write waiting on ``busy_timeout`` blocks that thread, never the
  event loop.
- PostgreSQL: an ``asyncpg`` pool; asyncpg prepares each statement once per connection and
  caches it, so a statement is one round trip.

Statements are written once with ``$n`` placeholders (PostgreSQL's); SQLite reads them as
``?n``. Driver failures become the service's errors, as in :mod:`.database`.
"""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from sqlalchemy import make_url

from roulette.errors import BadRequest, InvalidState, Unavailable
from roulette.storage.sql.database import DATABASE_UNAVAILABLE, SQLITE_BUSY_TIMEOUT_MS

__all__ = ["POSTGRES_LANE_CONNECTIONS", "POSTGRES_STATEMENT_SECONDS", "Lane", "open_lane"]

POSTGRES_LANE_CONNECTIONS = 4
"""Connections of a node's PostgreSQL lane: one statement each, so a few serve thousands/s."""

POSTGRES_STATEMENT_SECONDS = 10.0
"""A lane statement not answered by then is an outage (503), not a sign-in waiting forever."""


class Lane(Protocol):
    """Runs one statement and returns how many rows it changed."""

    async def execute(self, statement: str, *args: object) -> int:
        """Run ``statement`` (``$n`` placeholders) with ``args``; the rows it changed.

        Raises:
            Unavailable: the database is unreachable, locked too long or overloaded.
            BadRequest: a value the database refuses.
            InvalidState: a constraint was violated (a bug: the ids are random).
        """
        ...

    async def aclose(self) -> None:
        """Close the connections (idempotent)."""
        ...


def open_lane(url: str) -> Lane:
    """The lane for a SQLAlchemy ``url`` (connections open on first use)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return SqliteLane(parsed.database or ":memory:")
    dsn = parsed.set(drivername="postgresql", query={}).render_as_string(hide_password=False)
    return PostgresLane(dsn)


class SqliteLane:
    """Statements on the event loop's thread that never wait, a thread for those that must.

    A statement first runs inline on a connection that never waits for a lock
    (``busy_timeout=0``) and never checkpoints: a short WAL append, microseconds, cheaper
    than the thread hop (and the GIL hand-off) it saves. Only when another writer holds the
    lock (``SQLITE_BUSY``: nothing was written) is it run again on the lane's thread, which
    waits up to the busy timeout; every ``CHECKPOINT_EVERY`` inline writes that thread also
    runs a passive WAL checkpoint, the one step that may fsync.
    """

    CHECKPOINT_EVERY = 500

    def __init__(self, path: str) -> None:
        self._path = path
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-lane")
        self._waiting: sqlite3.Connection | None = None
        self._inline: sqlite3.Connection | None = None
        self._writes = 0

    async def execute(self, statement: str, *args: object) -> int:
        text = statement.replace("$", "?")
        loop = asyncio.get_running_loop()
        try:
            if self._inline is None:  # made on the thread first: it may wait to enable WAL
                await loop.run_in_executor(self._pool, self._on_thread, "", ())
                self._inline = _sqlite_connection(self._path, busy_ms=0)
            try:
                changed = self._inline.execute(text, args).rowcount
            except sqlite3.OperationalError as error:
                if error.sqlite_errorcode & 0xFF not in _BUSY:
                    raise
                return await loop.run_in_executor(self._pool, self._on_thread, text, args)
            self._writes += 1
            if self._writes % self.CHECKPOINT_EVERY == 0:
                await loop.run_in_executor(self._pool, self._on_thread, _CHECKPOINT, ())
        except sqlite3.IntegrityError as error:
            raise InvalidState(f"constraint violated: {error}") from error
        except sqlite3.DataError as error:
            raise BadRequest("a value cannot be stored: too long or malformed") from error
        except (sqlite3.OperationalError, sqlite3.InterfaceError, OSError) as error:
            raise Unavailable("the database is unavailable", code=DATABASE_UNAVAILABLE) from error
        return changed

    def _on_thread(self, statement: str, args: tuple[object, ...]) -> int:
        if self._waiting is None:
            self._waiting = _sqlite_connection(self._path, busy_ms=SQLITE_BUSY_TIMEOUT_MS)
        return self._waiting.execute(statement, args).rowcount if statement else 0

    async def aclose(self) -> None:
        def close() -> None:
            if self._waiting is not None:
                self._waiting.close()
                self._waiting = None

        if self._inline is not None:
            self._inline.close()
            self._inline = None
        await asyncio.get_running_loop().run_in_executor(self._pool, close)
        self._pool.shutdown(wait=True)


_BUSY = (5, 6)
"""SQLITE_BUSY and SQLITE_LOCKED (primary result codes): another connection holds the lock."""

_CHECKPOINT = "PRAGMA wal_checkpoint(PASSIVE)"


def _sqlite_connection(path: str, *, busy_ms: int) -> sqlite3.Connection:
    # Autocommit (isolation_level=None): each statement is its own transaction. WAL with
    # synchronous=NORMAL is safe from corruption and skips the fsync of each commit; a power
    # cut may lose the last sign-ins, whose users sign in again (SQLite docs, "PRAGMA
    # synchronous"). The inline connection (busy_ms=0) leaves checkpoints to the thread.
    connection = sqlite3.connect(
        path, isolation_level=None, timeout=busy_ms / 1000, check_same_thread=False
    )
    connection.execute(f"PRAGMA busy_timeout={busy_ms}")
    if busy_ms:
        connection.execute("PRAGMA journal_mode=WAL")
    else:
        connection.execute("PRAGMA wal_autocheckpoint=0")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("PRAGMA foreign_keys=ON")
    return connection


class PostgresLane:
    """A small ``asyncpg`` pool; statements are prepared once per connection."""

    def __init__(self, dsn: str) -> None:
        # Imported here: a SQLite node never loads asyncpg on its start path.
        import asyncpg  # type: ignore[import-untyped]  # noqa: PLC0415

        self._pg: Any = asyncpg
        self._dsn = dsn
        self._pool: Any = None
        self._opening = asyncio.Lock()

    async def execute(self, statement: str, *args: object) -> int:
        try:
            pool = self._pool or await self._open()
            async with pool.acquire() as connection:
                status: str = await connection.execute(statement, *args)
        except self._pg.IntegrityConstraintViolationError as error:
            raise InvalidState(f"constraint violated: {error}") from error
        except self._pg.DataError as error:
            raise BadRequest("a value cannot be stored: too long or malformed") from error
        except (self._pg.PostgresError, self._pg.InterfaceError, OSError, TimeoutError) as error:
            raise Unavailable("the database is unavailable", code=DATABASE_UNAVAILABLE) from error
        # The command tag ends with the row count: "INSERT 0 1", "UPDATE 1".
        return int(status.rsplit(" ", 1)[-1])

    async def _open(self) -> Any:
        async with self._opening:
            if self._pool is None:
                self._pool = await self._pg.create_pool(
                    self._dsn,
                    # No floor to keep: asyncpg would re-open it in the background after a
                    # restart and log a traceback per try; connections open on demand.
                    min_size=0,
                    max_size=POSTGRES_LANE_CONNECTIONS,
                    timeout=5,  # connecting, as the engine's connect_args
                    command_timeout=POSTGRES_STATEMENT_SECONDS,
                    reset=_keep_session,
                )
            return self._pool

    async def aclose(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()


async def _keep_session(_connection: object) -> None:
    """No reset on release: by default asyncpg resets a connection's session (one more round
    trip, ``RESET ALL`` and friends) each time it returns to the pool; the lane's statements
    are single autocommit statements that leave no session state behind."""
