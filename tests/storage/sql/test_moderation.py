"""The Moderation contract, on SQLite and PostgreSQL: reports, blocks, exclusions, bans."""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from roulette.identity import Address
from roulette.storage.ports import BanRecord, BlockRecord, Moderation
from roulette.storage.sql import SqlModeration
from roulette.storage.sql.schema import reports

ALICE = Address("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")
BOB = Address("0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359")
CAROL = Address("0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB")
DAVE = Address("0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb")
NOW = 1_700_000_000.0


def test_the_store_satisfies_the_port(moderation: SqlModeration) -> None:
    port: Moderation = moderation  # checked by mypy: a signature drift fails the build
    assert port is moderation


async def test_reports_are_stored_with_growing_ids(
    moderation: SqlModeration, engine: AsyncEngine
) -> None:
    first = await moderation.add_report(
        reporter=ALICE, target=BOB, reason="spam", session_id="s-1", notes="links", now=NOW
    )
    second = await moderation.add_report(
        reporter=CAROL, target=BOB, reason="abuse", session_id=None, notes=None, now=NOW + 1
    )

    assert first < second
    async with engine.connect() as connection:
        rows = (await connection.execute(select(reports).order_by(reports.c.id))).all()
    assert [tuple(row) for row in rows] == [
        (first, ALICE, BOB, "spam", "s-1", "links", NOW, "open", None, None, None),
        (second, CAROL, BOB, "abuse", None, None, NOW + 1, "open", None, None, None),
    ]


async def test_a_block_is_stored_once(moderation: SqlModeration) -> None:
    assert await moderation.add_block(blocker=ALICE, target=BOB, reason="rude", now=NOW)
    assert not await moderation.add_block(blocker=ALICE, target=BOB, reason="again", now=NOW + 5)

    assert await moderation.blocks_of(ALICE) == [
        BlockRecord(address=BOB, reason="rude", blocked_at=NOW)
    ]


async def test_a_block_has_a_direction(moderation: SqlModeration) -> None:
    assert await moderation.add_block(blocker=ALICE, target=BOB, reason=None, now=NOW)
    assert await moderation.add_block(blocker=BOB, target=ALICE, reason=None, now=NOW)

    assert [block.address for block in await moderation.blocks_of(ALICE)] == [BOB]
    assert [block.address for block in await moderation.blocks_of(BOB)] == [ALICE]


async def test_removing_a_block_reports_whether_there_was_one(moderation: SqlModeration) -> None:
    await moderation.add_block(blocker=ALICE, target=BOB, reason=None, now=NOW)

    assert await moderation.remove_block(blocker=ALICE, target=BOB)
    assert not await moderation.remove_block(blocker=ALICE, target=BOB)
    assert not await moderation.remove_block(blocker=BOB, target=ALICE)
    assert await moderation.blocks_of(ALICE) == []
    assert await moderation.exclusions(BOB) == frozenset()


async def test_blocks_are_listed_newest_first(moderation: SqlModeration) -> None:
    await moderation.add_block(blocker=ALICE, target=BOB, reason="first", now=NOW)
    await moderation.add_block(blocker=ALICE, target=DAVE, reason=None, now=NOW + 10)
    await moderation.add_block(blocker=ALICE, target=CAROL, reason="tie", now=NOW + 10)
    await moderation.add_block(blocker=CAROL, target=ALICE, reason="not alice's", now=NOW + 20)

    assert await moderation.blocks_of(ALICE) == [
        BlockRecord(address=DAVE, reason=None, blocked_at=NOW + 10),  # ties: address order
        BlockRecord(address=CAROL, reason="tie", blocked_at=NOW + 10),
        BlockRecord(address=BOB, reason="first", blocked_at=NOW),
    ]
    assert await moderation.blocks_of(BOB) == []


async def test_exclusions_cover_both_directions(moderation: SqlModeration) -> None:
    await moderation.add_block(blocker=ALICE, target=BOB, reason=None, now=NOW)
    await moderation.add_block(blocker=CAROL, target=ALICE, reason=None, now=NOW)
    await moderation.add_block(blocker=ALICE, target=CAROL, reason=None, now=NOW)
    await moderation.add_block(blocker=BOB, target=DAVE, reason=None, now=NOW)

    assert await moderation.exclusions(ALICE) == {BOB, CAROL}
    assert await moderation.exclusions(BOB) == {ALICE, DAVE}
    assert await moderation.exclusions(DAVE) == {BOB}
    assert await moderation.exclusions(Address("0x" + "0" * 40)) == frozenset()


async def test_a_ban_holds_until_lifted(moderation: SqlModeration) -> None:
    assert not await moderation.is_banned(ALICE)

    await moderation.ban(address=ALICE, reason="spam", by="cli", now=NOW)

    assert await moderation.is_banned(ALICE)
    assert not await moderation.is_banned(BOB)
    assert await moderation.unban(ALICE)
    assert not await moderation.is_banned(ALICE)
    assert not await moderation.unban(ALICE)


async def test_banning_again_replaces_the_ban(moderation: SqlModeration) -> None:
    await moderation.ban(address=ALICE, reason="spam", by="cli", now=NOW)
    await moderation.ban(address=ALICE, reason="harassment", by="admin", now=NOW + 60)

    assert await moderation.bans() == [
        BanRecord(address=ALICE, reason="harassment", banned_at=NOW + 60, banned_by="admin")
    ]


async def test_bans_are_listed_newest_first(moderation: SqlModeration) -> None:
    assert await moderation.bans() == []
    await moderation.ban(address=BOB, reason="old", by="cli", now=NOW)
    await moderation.ban(address=CAROL, reason="new", by=ALICE, now=NOW + 30)

    assert [ban.address for ban in await moderation.bans()] == [CAROL, BOB]


async def test_concurrent_duplicate_blocks_store_one(moderation: SqlModeration) -> None:
    """Twenty requests race to block the same user: exactly one reports a new block."""
    results = await asyncio.gather(
        *(
            moderation.add_block(blocker=ALICE, target=BOB, reason=str(i), now=NOW + i)
            for i in range(20)
        )
    )

    assert results.count(True) == 1
    assert len(await moderation.blocks_of(ALICE)) == 1


async def test_concurrent_writes_of_every_kind_all_land(moderation: SqlModeration) -> None:
    others = [Address(f"0x{i:040x}") for i in range(1, 16)]
    await asyncio.gather(
        *(moderation.add_block(blocker=ALICE, target=o, reason=None, now=NOW) for o in others),
        *(moderation.add_block(blocker=o, target=BOB, reason=None, now=NOW) for o in others),
        *(moderation.ban(address=o, reason="raid", by="cli", now=NOW) for o in others),
        *(
            moderation.add_report(
                reporter=o, target=ALICE, reason="raid", session_id=None, notes=None, now=NOW
            )
            for o in others
        ),
    )

    assert await moderation.exclusions(ALICE) == set(others)
    assert await moderation.exclusions(BOB) == set(others)
    assert {ban.address for ban in await moderation.bans()} == set(others)
    next_id = await moderation.add_report(
        reporter=BOB, target=ALICE, reason="x", session_id=None, notes=None, now=NOW
    )
    assert next_id == len(others) + 1
