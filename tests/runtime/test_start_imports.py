"""What a worker imports before it serves: nothing it does not need (issue 15, item 5).

Each check runs a fresh interpreter, because this test process has imported everything already.
A module that creeps back onto the start path costs every restarted worker its import time:
redis-py ~0.3 s and httpx ~0.15 s of CPU on this machine (``python -X importtime``).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from roulette.storage.sql import head_revision
from roulette.storage.sql.database import HEAD_REVISION, script_head

HEAVY = ("redis", "httpx", "matplotlib", "eth_abi", "eth_account", "web3", "hypothesis")


def _imported(module: str, candidates: tuple[str, ...]) -> list[str]:
    code = f"import sys, {module}; print(' '.join(m for m in {candidates!r} if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.split()


@pytest.mark.parametrize("module", ["roulette.runtime.node", "roulette.runtime.worker"])
def test_the_serving_path_imports_no_redis_client_nor_http_client(module: str) -> None:
    # Redis is imported when REDIS_* is configured; httpx when an alert is sent or RPC is used.
    assert _imported(module, HEAVY) == []


@pytest.mark.parametrize("module", ["roulette.runtime.node", "roulette.runtime.worker"])
def test_the_serving_path_imports_no_alembic(module: str) -> None:
    # A worker checks the schema's revision (one SELECT); only migrating loads Alembic.
    assert _imported(module, ("alembic",)) == []


def test_the_known_head_revision_is_alembics_head() -> None:
    # HEAD_REVISION spares the worker Alembic's script directory; it must name the newest
    # migration, or a worker would refuse (or accept) a database it should not.
    assert head_revision() == HEAD_REVISION == script_head()


def test_the_command_line_imports_no_framework_before_a_command_needs_it() -> None:
    frameworks = ("fastapi", "sqlalchemy", "alembic", "uvicorn", *HEAVY)
    assert _imported("roulette.cli", frameworks) == []
