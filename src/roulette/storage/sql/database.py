"""Engines, migrations and transactions for the durable store (SQLite or PostgreSQL).

Stores open connections through :func:`begin` or :func:`connect`, which turn driver failures
into the service's errors: an outage is :class:`~roulette.errors.Unavailable` with code
``database_unavailable`` (503), the code the SQL breaker uses too, so a client sees one code
for "the database is down" whether the store or the open breaker refused.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Table, event, exc, inspect, make_url, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from roulette.errors import BadRequest, RouletteError, Unavailable

if TYPE_CHECKING:
    # Alembic (~0.15 s of CPU to import) is for migrating; a worker only checks the revision.
    from alembic.config import Config as AlembicConfig

__all__ = [
    "DATABASE_UNAVAILABLE",
    "HEAD_REVISION",
    "MIGRATION_LOCK_KEY",
    "alembic_config",
    "begin",
    "connect",
    "create_engine",
    "current_revision",
    "head_revision",
    "insert_into",
    "script_head",
    "upgrade",
]

HEAD_REVISION = "0004"
"""The newest migration in ``migrations/versions``, known without loading Alembic's script
directory: a worker checks the database against it at every start, and importing Alembic for
that cost each start ~0.15 s of CPU. Add a migration, bump this; a test compares it with
:func:`script_head`."""

_VERSION_TABLE = "alembic_version"
"""Where Alembic records the applied revision (its default ``version_table``)."""

MIGRATION_LOCK_KEY = 0x726F756C65747465
"""The ``pg_advisory_xact_lock`` key ("roulette" in ASCII) that serialises migrations."""

SQLITE_BUSY_TIMEOUT_MS = 5000
"""How long a SQLite writer waits for another writer before giving up (``busy_timeout``)."""

_MIGRATIONS = "roulette.storage.sql:migrations"

DATABASE_UNAVAILABLE = "database_unavailable"
"""The code of every SQL outage, from a store or from the SQL breaker."""

# The failures that mean "the database cannot be reached or is overloaded": retrying later
# or elsewhere may succeed. Connection refusals surface as OSError, since the drivers raise
# them before SQLAlchemy wraps anything.
_OUTAGES: tuple[type[BaseException], ...] = (
    exc.OperationalError,
    exc.InterfaceError,
    exc.TimeoutError,
    OSError,
)


def create_engine(url: str) -> AsyncEngine:
    """Build the async engine for ``url`` (``sqlite+aiosqlite`` or ``postgresql+asyncpg``).

    SQLite gets its parent directory created, write-ahead logging (readers never wait for the
    writer), enforced foreign keys and a busy timeout (concurrent writers queue instead of
    failing). PostgreSQL gets a bounded pool that checks connections before use, so a
    restarted server or a failover costs one retry, not a burst of errors.

    Args:
        url: a SQLAlchemy URL.

    Returns:
        The engine; the caller owns it and must ``await engine.dispose()``.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    return create_async_engine(
        parsed,
        pool_size=10,
        max_overflow=10,
        pool_timeout=10,
        pool_pre_ping=True,
        connect_args={"timeout": 5},
    )


def _sqlite_engine(url: URL) -> AsyncEngine:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url)
    event.listen(engine.sync_engine, "connect", _configure_sqlite)
    return engine


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # The timeout first: switching a new file to WAL needs a lock another process may hold.
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        # Safe from corruption in WAL mode, without an fsync per commit: a power cut may lose
        # the last commits only (sqlite.org/pragma.html#pragma_synchronous).
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


@asynccontextmanager
async def begin(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection in a transaction, committed on success and rolled back on error.

    Raises:
        Unavailable: ``database_unavailable``, the database is unreachable, overloaded or not
            migrated.
        BadRequest: a value cannot be stored (too long, or a character PostgreSQL refuses).
    """
    try:
        async with engine.begin() as connection:
            yield connection
    except Exception as error:
        translated = _translated(error)
        if translated is None:
            raise
        raise translated from error


@asynccontextmanager
async def connect(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection for reads; whatever it did is rolled back when the block ends.

    Raises:
        Unavailable: ``database_unavailable``, the database is unreachable, overloaded or not
            migrated.
        BadRequest: a parameter the database refuses (PostgreSQL: a NUL character).
    """
    try:
        async with engine.connect() as connection:
            yield connection
    except Exception as error:
        translated = _translated(error)
        if translated is None:
            raise
        raise translated from error


def _translated(error: Exception) -> RouletteError | None:
    # A bad value is the client's: it sent it. The message never echoes the driver's, which
    # names our schema.
    if _is_bad_value(error):
        return BadRequest("a value cannot be stored: too long or malformed")
    if isinstance(error, _OUTAGES) or _is_outage(error):
        return Unavailable("the database is unavailable", code=DATABASE_UNAVAILABLE)
    return None


_OUTAGE_CLASSES = ("08", "53", "57")
"""SQLSTATE classes (PostgreSQL Appendix A) that mean "retry later": 08 connection exception,
53 insufficient resources (too many connections), 57 operator intervention (57P01 admin
shutdown, 57P03 cannot connect now)."""


def _is_outage(error: Exception) -> bool:
    # A restarting PostgreSQL ends sessions with SQLSTATE 57P01 ("terminating connection due to
    # administrator command") and refuses new ones with 57P03 ("the database system is starting
    # up"); asyncpg reports these, and class 08 (connection exception), as a bare DBAPIError,
    # and one raised while SQLAlchemy is not looking (a pool's connect) as asyncpg's own error.
    if isinstance(error, exc.DBAPIError):
        if error.connection_invalidated:
            return True
        state = getattr(error.orig, "sqlstate", None)
    else:
        state = getattr(error, "sqlstate", None)
    return isinstance(state, str) and state.startswith(_OUTAGE_CLASSES)


def _is_bad_value(error: Exception) -> bool:
    if isinstance(error, exc.DataError):
        return True
    # SQLSTATE class 22 is "data exception" (SQL standard); asyncpg reports some of them, such
    # as a NUL character in text, as a bare DBAPIError.
    sqlstate = getattr(getattr(error, "orig", None), "sqlstate", None)
    return isinstance(error, exc.DBAPIError) and str(sqlstate).startswith("22")


def insert_into(engine: AsyncEngine, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An ``INSERT`` into ``table`` that can say ``ON CONFLICT`` on this engine's backend.

    Both backends spell it alike (SQLite 3.24+, PostgreSQL 9.5+), and letting the database
    settle a duplicate avoids a read-then-write that two requests could interleave.
    """
    if engine.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def alembic_config() -> AlembicConfig:
    """The Alembic configuration, built in code: no ``alembic.ini`` is needed anywhere.

    The scripts are located through the package, so this works from an installed wheel.
    """
    from alembic.config import Config as AlembicConfig  # noqa: PLC0415 - migrating only

    config = AlembicConfig()
    config.set_main_option("script_location", _MIGRATIONS)
    return config


def head_revision() -> str:
    """The newest migration this code knows (:data:`HEAD_REVISION`; no Alembic import)."""
    return HEAD_REVISION


def script_head() -> str:
    """The newest migration as Alembic finds it in the scripts (what HEAD_REVISION states)."""
    from alembic.script import ScriptDirectory  # noqa: PLC0415 - migrating only

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the migrations directory has no revision"
    return head


async def upgrade(url: str) -> None:
    """Apply every pending migration (idempotent).

    Safe when several processes start at once: the migration environment first takes a lock
    held until its commit (PostgreSQL: an advisory lock; SQLite: the write lock), so the
    others wait and then find nothing to do.

    Alembic drives one migration at a time per process (its ``context`` is module-global), so
    call this once per process, at start-up.

    Args:
        url: the database's SQLAlchemy URL.

    Raises:
        Unavailable: the database is unreachable.
    """
    config = alembic_config()
    engine = create_engine(url)
    try:
        async with begin(engine) as connection:
            await connection.run_sync(_upgrade_on, config)
    finally:
        await engine.dispose()


def _upgrade_on(connection: Connection, config: AlembicConfig) -> None:
    # ``env.py`` uses this connection, inside our transaction, instead of opening its own.
    from alembic import command  # noqa: PLC0415 - migrating only

    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def current_revision(url: str) -> str | None:
    """The migration the database is at, or None when it was never migrated.

    Raises:
        Unavailable: the database is unreachable.
    """
    engine = create_engine(url)
    try:
        async with connect(engine) as connection:
            return await connection.run_sync(_revision_of)
    finally:
        await engine.dispose()


def _revision_of(connection: Connection) -> str | None:
    # What Alembic's MigrationContext.get_current_revision reads, without importing Alembic:
    # no version table is a database never migrated; a linear history has one row.
    if not inspect(connection).has_table(_VERSION_TABLE):
        return None
    rows = connection.execute(text(f"SELECT version_num FROM {_VERSION_TABLE}")).all()
    if len(rows) > 1:
        heads = ", ".join(sorted(str(row[0]) for row in rows))
        raise RuntimeError(f"the database records several migration heads: {heads}")
    return str(rows[0][0]) if rows else None
