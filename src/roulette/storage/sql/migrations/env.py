"""The Alembic environment: migrates the connection it is handed, or opens its own async one.

:func:`roulette.storage.sql.database.upgrade` hands a connection in ``config.attributes``;
the Alembic command line (with ``sqlalchemy.url`` set) takes the async path; ``--sql`` renders
the migrations as a script (offline mode).
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection, MetaData, text

from roulette.storage.sql.database import MIGRATION_LOCK_KEY, create_engine
from roulette.storage.sql.schema import declared_metadata


def _migrate(connection: Connection, target: MetaData | None = None) -> None:
    # Two processes starting at once would both find the database empty and both create the
    # tables; the loser waits here, then sees the winner's committed version table. Either
    # lock ends with the transaction, whatever happens.
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    elif connection.dialect.name == "sqlite":
        # The driver would open a deferred transaction at the first write; take the write
        # lock before the first read instead (the wait is the connection's busy_timeout).
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    context.configure(
        connection=connection,
        target_metadata=target,
        # SQLite cannot ALTER most things: autogenerate must write "move and copy" batches.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def _migrate_url(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            # Only here, the developer's path, can autogenerate run; it compares the database
            # with every declared table. Loading them all imports every store module, which
            # the service's own start-up (the handed-in connection) need not pay for.
            await connection.run_sync(_migrate, declared_metadata())
    finally:
        await engine.dispose()


def _run() -> None:
    config = context.config
    if context.is_offline_mode():
        context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    assert url, "set sqlalchemy.url or pass a connection in config.attributes"
    asyncio.run(_migrate_url(url))


_run()
