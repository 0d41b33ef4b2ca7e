"""Migrations run once, in the supervisor, before workers start (issue 9, defect 8's "database
is locked"): a worker never migrates, and refuses a database that is not at the head."""

from __future__ import annotations

from pathlib import Path

import pytest

from roulette.config import Config
from roulette.errors import ConfigError
from roulette.runtime.node import Node
from roulette.storage.sql import current_revision, upgrade


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
