"""SqlTips on a migrated SQLite database: one row per hash, pending, settle, listings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from roulette.chain.records import TipRecord, TipStatus
from roulette.identity import Address
from roulette.storage.sql.database import create_engine, upgrade
from roulette.storage.sql.tips import SqlTips

A = Address("0x70997970C51812dc3A010C7d01b50e0d17dc79C8")
B = Address("0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC")
TOKEN = Address("0x5FbDB2315678afecb367f032d93F642f64180aa3")


def _tip(n: int, *, sender: Address = A, recipient: Address = B, **changes: object) -> TipRecord:
    tip = TipRecord(
        tx_hash="0x" + f"{n:064x}", chain_id=1, session_id="s1", sender=sender,
        recipient=recipient, token=None, amount=str(2**256 - 1), status=TipStatus.PENDING,
        block_number=10, created_at=float(n), confirmed_at=None,
    )  # fmt: skip
    return replace(tip, **changes)  # type: ignore[arg-type]


@pytest.fixture
async def tips(tmp_path: Path) -> AsyncIterator[SqlTips]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'tips.db'}"
    await upgrade(url)
    engine = create_engine(url)
    yield SqlTips(engine)
    await engine.dispose()


async def test_a_hash_is_recorded_once(tips: SqlTips) -> None:
    assert await tips.add(_tip(1))
    assert not await tips.add(_tip(1, sender=B, recipient=A))

    assert await tips.has(_tip(1).tx_hash)
    assert await tips.get(_tip(1).tx_hash) == _tip(1)
    assert await tips.get(_tip(2).tx_hash) is None


async def test_pending_tips_are_listed_oldest_first_and_settled_once(tips: SqlTips) -> None:
    for n in (3, 1, 2):
        await tips.add(_tip(n))
    await tips.add(_tip(4, status=TipStatus.CONFIRMED, confirmed_at=4.0, token=TOKEN))

    assert [t.tx_hash for t in await tips.pending(limit=2)] == [_tip(1).tx_hash, _tip(2).tx_hash]
    assert await tips.settle(_tip(1).tx_hash, TipStatus.CONFIRMED, now=9.0)
    assert not await tips.settle(_tip(1).tx_hash, TipStatus.FAILED, now=10.0)
    assert await tips.settle(_tip(2).tx_hash, TipStatus.FAILED, now=10.0)

    assert [t.tx_hash for t in await tips.pending(limit=10)] == [_tip(3).tx_hash]
    confirmed = await tips.get(_tip(1).tx_hash)
    failed = await tips.get(_tip(2).tx_hash)
    assert confirmed is not None and (confirmed.status, confirmed.confirmed_at) == (
        TipStatus.CONFIRMED, 9.0,
    )  # fmt: skip
    assert failed is not None and (failed.status, failed.confirmed_at) == (TipStatus.FAILED, None)


async def test_tips_of_an_address_are_split_into_sent_and_received(tips: SqlTips) -> None:
    await tips.add(_tip(1))
    await tips.add(_tip(2, sender=B, recipient=A, token=TOKEN))
    await tips.add(_tip(3))

    sent, received = await tips.of(A)

    assert [t.tx_hash for t in sent] == [_tip(3).tx_hash, _tip(1).tx_hash]
    assert [(t.tx_hash, t.token) for t in received] == [(_tip(2).tx_hash, TOKEN)]
    assert (await tips.of(A, limit=1))[0] == [_tip(3)]
