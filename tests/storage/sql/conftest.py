"""Fixtures running the SQL contract tests on both backends: a SQLite file and the real
PostgreSQL (``ROULETTE_TEST_POSTGRES_URL``, default the machine's ``test`` database).

PostgreSQL isolation: each test session creates its own database with a random name (so
parallel CI runs and xdist workers never share one), migrates it once and truncates it before
each test; tests that need an empty database get a fresh one of their own. All are dropped.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from roulette.storage.sql import SqlModeration, SqlTokenFamilies, create_engine, upgrade
from roulette.storage.sql.schema import declared_metadata

T = TypeVar("T")

POSTGRES_URL = os.environ.get(
    "ROULETTE_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def run_in_thread(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion on a private loop in another thread.

    Session fixtures are synchronous, and ``asyncio.run`` here would replace the event loop
    pytest-asyncio installed for the current thread.
    """

    async def main() -> T:
        return await make()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, main()).result()


async def _admin(server: URL, sql: str) -> None:
    # CREATE and DROP DATABASE refuse to run inside a transaction.
    engine = create_async_engine(server, isolation_level="AUTOCOMMIT", connect_args={"timeout": 5})
    try:
        async with engine.connect() as connection:
            await connection.execute(text(sql))
    finally:
        await engine.dispose()


async def create_database(server: URL) -> str:
    """Create a database with a random name on ``server``; return its SQLAlchemy URL."""
    name = f"roulette_test_{uuid.uuid4().hex[:16]}"
    await _admin(server, f'CREATE DATABASE "{name}"')
    return server.set(database=name).render_as_string(hide_password=False)


async def drop_database(server: URL, url: str) -> None:
    """Drop a database made by :func:`create_database`, even with connections left open."""
    await _admin(server, f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_server() -> URL:
    """The PostgreSQL server to test against; skips the test only when it is unreachable."""
    server = make_url(POSTGRES_URL)
    try:
        run_in_thread(lambda: _admin(server, "SELECT 1"))
    except (OSError, TimeoutError) as error:
        pytest.skip(f"PostgreSQL unreachable at {server.host}:{server.port}: {error}")
    return server


@pytest.fixture(scope="session")
def pg_database(pg_server: URL) -> Iterator[str]:
    """This session's own migrated database; tests truncate it before use."""
    url = run_in_thread(lambda: create_database(pg_server))
    try:
        run_in_thread(lambda: upgrade(url))
        yield url
    finally:
        run_in_thread(lambda: drop_database(pg_server, url))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend under test: ``sqlite`` or ``postgresql``."""
    name: str = request.param
    return name


def _sqlite_url(directory: Path) -> str:
    return f"sqlite+aiosqlite:///{directory / 'data' / 'roulette.db'}"


@pytest.fixture
def fresh_sqlite_url(tmp_path: Path) -> str:
    """A SQLite file URL in a directory that does not exist yet."""
    return _sqlite_url(tmp_path)


@pytest.fixture
async def empty_url(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[str]:
    """The URL of a database no one has migrated yet."""
    if backend == "sqlite":
        yield _sqlite_url(tmp_path)
        return
    server: URL = request.getfixturevalue("pg_server")
    url = await create_database(server)
    try:
        yield url
    finally:
        await drop_database(server, url)


@pytest.fixture
async def engine(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[AsyncEngine]:
    """An engine on a migrated database holding no rows."""
    if backend == "sqlite":
        url = _sqlite_url(tmp_path)
        await upgrade(url)
    else:
        url = request.getfixturevalue("pg_database")
    engine = create_engine(url)
    try:
        if backend == "postgresql":
            names = ", ".join(table.name for table in declared_metadata().sorted_tables)
            async with engine.begin() as connection:
                await connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY"))
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def moderation(engine: AsyncEngine) -> SqlModeration:
    """The moderation store under test."""
    return SqlModeration(engine)


@pytest.fixture
async def tokens(engine: AsyncEngine) -> AsyncIterator[SqlTokenFamilies]:
    """The token-family store under test (its direct lane closed afterwards)."""
    store = SqlTokenFamilies(engine)
    try:
        yield store
    finally:
        await store.aclose()
