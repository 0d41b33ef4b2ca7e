"""Engines, migrations (from empty, repeated, concurrent, downgraded) and error translation."""

from __future__ import annotations

import asyncio
import io
import sys
from pathlib import Path

import asyncpg.exceptions as pg_errors  # type: ignore[import-untyped]  # no stubs
import pytest
from alembic import command
from sqlalchemy import Connection, inspect, make_url, text
from sqlalchemy.exc import IntegrityError

from roulette.errors import BadRequest, Unavailable
from roulette.identity import Address
from roulette.storage.sql import (
    SqlModeration,
    SqlTokenFamilies,
    create_engine,
    current_revision,
    head_revision,
    upgrade,
)
from roulette.storage.sql.database import alembic_config, begin, connect
from roulette.storage.sql.schema import declared_metadata

ALICE = Address("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")
BOB = Address("0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359")
NOW = 1_700_000_000.0
TABLES = {table.name for table in declared_metadata().sorted_tables}


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


async def _tables_of(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_tables)
    finally:
        await engine.dispose()


async def test_upgrade_migrates_an_empty_database_to_head(empty_url: str) -> None:
    assert await current_revision(empty_url) is None

    await upgrade(empty_url)

    assert await current_revision(empty_url) == head_revision()
    assert await _tables_of(empty_url) == TABLES


async def test_upgrade_twice_changes_nothing_and_keeps_the_data(empty_url: str) -> None:
    await upgrade(empty_url)
    engine = create_engine(empty_url)
    try:
        await SqlModeration(engine).ban(address=ALICE, reason="spam", by="cli", now=NOW)

        await upgrade(empty_url)

        assert await current_revision(empty_url) == head_revision()
        assert await SqlModeration(engine).is_banned(ALICE)
    finally:
        await engine.dispose()


async def test_downgrade_to_base_drops_every_table_and_upgrade_restores_them(
    empty_url: str,
) -> None:
    await upgrade(empty_url)
    config = alembic_config()

    def downgrade(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")

    engine = create_engine(empty_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(downgrade)
    finally:
        await engine.dispose()

    assert await _tables_of(empty_url) == set()
    assert await current_revision(empty_url) is None
    await upgrade(empty_url)
    assert await _tables_of(empty_url) == TABLES


async def test_the_alembic_command_line_path_migrates_through_an_async_engine(
    empty_url: str,
) -> None:
    """With ``sqlalchemy.url`` set and no connection handed in, ``env.py`` opens its own."""
    config = alembic_config()
    config.set_main_option("sqlalchemy.url", empty_url)

    # env.py calls asyncio.run(), as it does under the alembic CLI: give it a loop-free thread.
    await asyncio.to_thread(command.upgrade, config, "head")

    assert await current_revision(empty_url) == head_revision()


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_offline_mode_renders_the_migrations_as_sql(dialect: str) -> None:
    output = io.StringIO()
    config = alembic_config()
    config.output_buffer = output
    config.set_main_option("sqlalchemy.url", f"{dialect}://")

    command.upgrade(config, "head", sql=True)

    assert "CREATE TABLE token_families" in output.getvalue()
    assert "INSERT INTO alembic_version (version_num) VALUES ('0001')" in output.getvalue()
    assert f"'{head_revision()}'" in output.getvalue()


# Each process imports first, then waits for "go": imports take far longer than the
# migration, and would otherwise serialise the processes so well that nothing is tested.
_UPGRADE_IN_A_PROCESS = "\n".join(
    [
        "import asyncio, sys",
        "from roulette.storage.sql import upgrade",
        "print('ready', flush=True)",
        "sys.stdin.readline()",
        "asyncio.run(upgrade(sys.argv[1]))",
    ]
)


@pytest.mark.slow
async def test_processes_migrating_at_once_all_succeed(empty_url: str) -> None:
    """Without the lock both would find no tables, create them, and one would crash."""
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _UPGRADE_IN_A_PROCESS,
            empty_url,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]
    for process in processes:
        assert process.stdout is not None
        assert await process.stdout.readline() == b"ready\n"
    for process in processes:
        assert process.stdin is not None
        process.stdin.write(b"go\n")
        await process.stdin.drain()
        process.stdin.close()

    assert [await process.wait() for process in processes] == [0, 0]
    assert await current_revision(empty_url) == head_revision()


async def test_create_engine_makes_the_sqlite_directory_and_tunes_every_connection(
    fresh_sqlite_url: str,
) -> None:
    engine = create_engine(fresh_sqlite_url)
    try:
        async with engine.connect() as connection:
            pragmas = [
                (await connection.exec_driver_sql(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout")
            ]
    finally:
        await engine.dispose()

    assert Path(make_url(fresh_sqlite_url).database or "").parent.is_dir()
    assert pragmas == ["wal", 1, 5000]


async def test_an_unreachable_postgresql_is_unavailable_not_a_crash() -> None:
    # Port 1 is privileged and unused: the connection is refused at once.
    url = "postgresql+asyncpg://postgres@127.0.0.1:1/test"
    engine = create_engine(url)
    try:
        with pytest.raises(Unavailable):
            await SqlModeration(engine).is_banned(ALICE)
        with pytest.raises(Unavailable):
            await SqlTokenFamilies(engine).revoke("family", now=NOW)
    finally:
        await engine.dispose()
    with pytest.raises(Unavailable):
        await upgrade(url)
    with pytest.raises(Unavailable):
        await current_revision(url)


async def test_an_unmigrated_database_is_unavailable(fresh_sqlite_url: str) -> None:
    engine = create_engine(fresh_sqlite_url)
    try:
        with pytest.raises(Unavailable):
            await SqlModeration(engine).bans()
    finally:
        await engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_a_value_postgresql_refuses_is_a_bad_request(moderation: SqlModeration) -> None:
    """PostgreSQL text cannot hold NUL; the client sent it, so it is the client's error."""
    with pytest.raises(BadRequest) as caught:
        await moderation.add_report(
            reporter=ALICE, target=BOB, reason="spam", session_id=None, notes="\x00", now=NOW
        )
    assert "notes" not in str(caught.value)


async def test_a_session_id_longer_than_its_column_never_yields_a_server_error(
    moderation: SqlModeration, backend: str
) -> None:
    """PostgreSQL enforces ``VARCHAR(64)``, SQLite does not; neither may answer with a 500."""
    try:
        report_id = await moderation.add_report(
            reporter=ALICE, target=BOB, reason="spam", session_id="s" * 65, notes=None, now=NOW
        )
    except BadRequest:
        assert backend == "postgresql"
    else:
        assert backend == "sqlite"
        assert report_id == 1


@pytest.mark.postgres
async def test_the_session_database_is_its_own_and_migrated(pg_database: str) -> None:
    """Parallel runs never share a database: this session's has a random name."""
    assert (make_url(pg_database).database or "").startswith("roulette_test_")
    assert await current_revision(pg_database) == head_revision()


async def test_sqlite_foreign_keys_are_enforced(fresh_sqlite_url: str) -> None:
    """No table uses one yet; the pragma is on so that a future one is not silently ignored."""
    engine = create_engine(fresh_sqlite_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE parent (id INTEGER PRIMARY KEY)"))
            await connection.execute(
                text("CREATE TABLE child (parent INTEGER REFERENCES parent (id))")
            )
        with pytest.raises(IntegrityError, match="FOREIGN KEY"):
            async with engine.begin() as connection:
                await connection.execute(text("INSERT INTO child VALUES (1)"))
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_a_session_the_server_terminates_is_unavailable_not_a_crash(
    pg_database: str,
) -> None:
    """A restarting PostgreSQL ends its sessions with SQLSTATE 57P01, which asyncpg reports as
    a bare DBAPIError: that is an outage (503), never a 500 (issue 14's restart-postgres)."""
    engine, admin = create_engine(pg_database), create_engine(pg_database)

    async def sleep_in_the_database() -> None:
        async with begin(engine) as connection:
            await connection.execute(text("SELECT pg_sleep(20) /* terminated */"))

    sleeper = asyncio.create_task(sleep_in_the_database())
    try:
        pid = None
        for _ in range(100):
            async with connect(admin) as connection:
                pid = await connection.scalar(
                    text(
                        "SELECT pid FROM pg_stat_activity WHERE state = 'active'"
                        " AND query LIKE 'SELECT pg_sleep(20) /* terminated */%'"
                    )
                )
            if pid is not None:
                break
            await asyncio.sleep(0.05)
        assert pid is not None, "the sleeping session never showed up"
        async with connect(admin) as connection:
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(Unavailable) as caught:
            await sleeper
        assert caught.value.code == "database_unavailable"  # the SQL breaker's code too
    finally:
        sleeper.cancel()
        await engine.dispose()
        await admin.dispose()


@pytest.mark.parametrize(
    "error",
    [
        pg_errors.AdminShutdownError("terminating connection due to administrator command"),
        pg_errors.CannotConnectNowError("the database system is starting up"),
        pg_errors.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        pg_errors.TooManyConnectionsError("sorry, too many clients already"),
    ],
    ids=lambda error: type(error).__name__,
)
async def test_a_driver_outage_error_that_escapes_sqlalchemy_is_database_unavailable(
    fresh_sqlite_url: str, error: Exception
) -> None:
    """asyncpg's own errors of SQLSTATE classes 08, 53 and 57 (a pool's connect raises them
    unwrapped) are an outage, as their DBAPIError-wrapped forms are: 503, never a 500."""
    engine = create_engine(fresh_sqlite_url)
    try:
        for opened in (begin, connect):
            with pytest.raises(Unavailable) as caught:
                async with opened(engine):
                    raise error
            assert caught.value.code == "database_unavailable"
            assert caught.value.__cause__ is error
    finally:
        await engine.dispose()


async def test_our_own_bug_inside_a_transaction_is_not_masked_as_an_outage(
    fresh_sqlite_url: str,
) -> None:
    engine = create_engine(fresh_sqlite_url)
    try:
        for error in (KeyError("ours"), AttributeError("ours"), RuntimeError("ours")):
            with pytest.raises(type(error)):
                async with begin(engine):
                    raise error
    finally:
        await engine.dispose()
