"""Migrations run once, in the supervisor, before workers start (issue 9, defect 8's "database
is locked"): a worker never migrates, and refuses a database that is not at the head."""

from __future__ import annotations

from pathlib import Path

import pytest

from cluster.running import running_cluster
from roulette.config import Config
from roulette.errors import ConfigError
from roulette.runtime.node import Node
from roulette.storage.sql import current_revision, head_revision, upgrade


async def test_a_worker_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    config = Config.from_env({"DATA_DIR": str(tmp_path)})
    with pytest.raises(ConfigError, match="roulette db upgrade"):
        await Node.build(config, worker_id="w-test", migrate=False)
    assert await current_revision(config.sql_url) is None  # it did not migrate either


async def test_a_worker_starts_on_a_migrated_database_without_migrating(tmp_path: Path) -> None:
    config = Config.from_env({"DATA_DIR": str(tmp_path)})
    await upgrade(config.sql_url)
    node = await Node.build(config, worker_id="w-test", migrate=False)
    await node.state.aclose()
    await node.engine.dispose()


async def test_the_cluster_migrates_before_its_workers_boot(
    tmp_path: Path, shared_env: dict[str, str]
) -> None:
    with running_cluster(tmp_path, shared_env) as cluster:
        cluster.wait_ready(2)
    url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'roulette.db'}"
    assert await current_revision(url) == head_revision()
    assert "database is locked" not in cluster.log()
