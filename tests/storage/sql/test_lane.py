"""The direct lane of the sign-in statements (issue 15): rows changed, errors, and SQLite's
inline statements falling back to the lane's thread while another writer holds the lock."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from roulette.errors import InvalidState
from roulette.storage.sql import upgrade
from roulette.storage.sql.lane import Lane, open_lane
from roulette.storage.sql.tokens import START_UNLESS_BANNED

NOW = 1_700_000_000.0
ADDRESS = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


async def _start(lane: Lane, family_id: str) -> int:
    return await lane.execute(START_UNLESS_BANNED, family_id, ADDRESS, "jti", NOW, NOW + 60)


@pytest.fixture
async def sqlite_file(tmp_path: Path) -> Path:
    path = tmp_path / "roulette.db"
    await upgrade(f"sqlite+aiosqlite:///{path}")
    return path


async def test_a_statement_returns_the_rows_it_changed_and_a_duplicate_id_is_a_bug(
    sqlite_file: Path,
) -> None:
    lane = open_lane(f"sqlite+aiosqlite:///{sqlite_file}")
    try:
        assert await _start(lane, "fam-1") == 1
        with pytest.raises(InvalidState):
            await _start(lane, "fam-1")
    finally:
        await lane.aclose()


async def test_a_write_waits_on_the_lanes_thread_while_another_writer_holds_the_lock(
    sqlite_file: Path,
) -> None:
    lane = open_lane(f"sqlite+aiosqlite:///{sqlite_file}")
    other = sqlite3.connect(sqlite_file, isolation_level=None, check_same_thread=False)
    try:
        assert await _start(lane, "fam-0") == 1  # both connections of the lane are open
        other.execute("BEGIN IMMEDIATE")  # the write lock, held
        waiting = asyncio.create_task(_start(lane, "fam-1"))
        done, _ = await asyncio.wait({waiting}, timeout=0.5)
        assert not done, "an inline write must not fail while the lock is held: it waits"
        other.execute("COMMIT")
        assert await asyncio.wait_for(waiting, 30) == 1
    finally:
        other.close()
        await lane.aclose()


async def test_many_writes_pass_the_checkpoint_step(sqlite_file: Path) -> None:
    lane = open_lane(f"sqlite+aiosqlite:///{sqlite_file}")
    try:
        for n in range(600):  # over CHECKPOINT_EVERY (500)
            assert await _start(lane, f"fam-{n}") == 1
    finally:
        await lane.aclose()
    rows = sqlite3.connect(sqlite_file).execute("SELECT count(*) FROM token_families").fetchone()
    assert rows == (600,)
