"""The lab's PostgreSQL: a throwaway ``initdb`` cluster survives ``restart-postgres`` with its
committed rows, and the machine's server is never restarted."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from roulette.errors import ConfigError
from roulette.lab import postgres
from roulette.lab.ports import free_port
from roulette.lab.state import LabPostgres

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def throwaway() -> Iterator[LabPostgres]:
    """A throwaway cluster with the lab's database in it, stopped and removed at the end."""
    # Not under tmp_path: PostgreSQL runs as `postgres` when we are root, and pytest's base
    # directory is private to us.
    root = Path(tempfile.mkdtemp(prefix="roulette-lab-pg-"))
    root.chmod(0o755)
    directory, env = root / "postgres", dict(os.environ)
    try:
        port = free_port()
        postgres.start_throwaway(directory, port, env)
        yield postgres.create(port, "throwaway", str(directory), env)
    finally:
        postgres.stop_throwaway(directory, env)
        shutil.rmtree(root, ignore_errors=True)


def _sql(pg: LabPostgres, statement: str) -> str:
    url = pg.admin_url.rsplit("/", 1)[0] + f"/{pg.database}"
    done = subprocess.run(["psql", url, "-Atc", statement], capture_output=True, check=True)
    return done.stdout.decode().strip()


def test_a_throwaway_cluster_restarts_with_its_committed_rows(throwaway: LabPostgres) -> None:
    _sql(throwaway, "CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)")
    before = postgres.server_pid(throwaway)
    assert before > 0
    postgres.restart(throwaway, dict(os.environ))
    after = postgres.server_pid(throwaway)
    assert after not in {0, before}
    assert _sql(throwaway, "SELECT v FROM kept") == "42"


def test_restart_postgres_refuses_the_machines_server() -> None:
    machine = LabPostgres(
        "machine", "postgresql+asyncpg://postgres@127.0.0.1:5432/x", "", "x", 5432
    )
    with pytest.raises(ConfigError, match="never restarts"):
        postgres.restart(machine, dict(os.environ))
    assert postgres.answers(5432)


def test_restart_postgres_refuses_a_directory_that_is_no_cluster(tmp_path: Path) -> None:
    fake = LabPostgres("throwaway", "", "", "x", free_port(), str(tmp_path))
    with pytest.raises(ConfigError, match="only restarts a throwaway cluster"):
        postgres.restart(fake, dict(os.environ))
