"""PostgreSQL for tests: a database of their own in the machine's server (``psql`` as the
``postgres`` role, trust auth on 127.0.0.1:5432), or a throwaway ``initdb`` cluster a test may
stop and start (the machine's server is never restarted)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from roulette.errors import ConfigError
from roulette.lab import postgres as lab_postgres
from roulette.lab.ports import free_port

__all__ = ["ThrowawayPostgres", "fresh_database", "psql", "throwaway_postgres"]

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


@dataclass(frozen=True)
class ThrowawayPostgres:
    """A private PostgreSQL cluster (the lab's ``initdb`` one) that a test may restart."""

    directory: Path
    port: int
    url: str
    """The ``postgresql+asyncpg://`` URL of its one database."""

    def stop(self) -> None:
        """Fast shutdown: the server ends every session (SQLSTATE 57P01) and stops listening."""
        lab_postgres.stop_throwaway(self.directory, os.environ)

    def start(self) -> None:
        """Start it again; returns once it accepts connections."""
        lab_postgres.start_throwaway(self.directory, self.port, os.environ)


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    """A throwaway cluster on a free port with one database; stopped and removed at the end.

    Skips the test only when PostgreSQL's server tools are not installed.
    """
    # Not under tmp_path: PostgreSQL runs as `postgres` when we are root, and pytest's base
    # directory is private to us.
    root = Path(tempfile.mkdtemp(prefix="roulette-test-pg-"))
    root.chmod(0o755)
    directory, env, port = root / "postgres", dict(os.environ), free_port()
    try:
        try:
            lab_postgres.start_throwaway(directory, port, env)
        except ConfigError as error:
            pytest.skip(f"no throwaway PostgreSQL: {error}")
        made = lab_postgres.create(port, "throwaway", str(directory), env)
        yield ThrowawayPostgres(directory, port, made.url)
    finally:
        lab_postgres.stop_throwaway(directory, env)
        shutil.rmtree(root, ignore_errors=True)
