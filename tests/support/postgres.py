"""The machine's PostgreSQL for tests that need a database of their own (``psql`` as the
``postgres`` role, trust auth on 127.0.0.1:5432)."""

from __future__ import annotations

import contextlib
import subprocess
import uuid
from collections.abc import Iterator

import pytest

__all__ = ["fresh_database", "psql"]

PSQL = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-v", "ON_ERROR_STOP=1"]


def psql(sql: str) -> None:
    """Run one statement as ``postgres``; fails on any error."""
    subprocess.run([*PSQL, "-c", sql], check=True, capture_output=True, timeout=30)


@contextlib.contextmanager
def fresh_database(prefix: str) -> Iterator[str]:
    """A new database named ``<prefix>_<random>``, dropped afterwards; skips the test only
    when the server cannot be reached."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        psql(f'CREATE DATABASE "{name}"')
    except (OSError, subprocess.CalledProcessError) as error:
        pytest.skip(f"PostgreSQL is not reachable: {error}")
    try:
        yield name
    finally:
        psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
