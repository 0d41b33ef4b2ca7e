"""The TokenFamilies contract, on SQLite and PostgreSQL: rotation, reuse, revocation, races."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from roulette.errors import InvalidState
from roulette.identity import Address
from roulette.storage.ports import TokenFamilies
from roulette.storage.sql import SqlModeration, SqlTokenFamilies
from roulette.storage.sql.schema import token_families

ALICE = Address("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")
NOW = 1_700_000_000.0
WEEK = 7 * 24 * 3600.0


async def _start(tokens: SqlTokenFamilies, family_id: str = "fam-1", jti: str = "jti-0") -> None:
    await tokens.create(family_id=family_id, address=ALICE, jti=jti, now=NOW, expires_at=NOW + WEEK)


async def _row(engine: AsyncEngine, family_id: str = "fam-1") -> tuple[str, float | None]:
    statement = select(token_families.c.current_jti, token_families.c.revoked_at).where(
        token_families.c.id == family_id
    )
    async with engine.connect() as connection:
        row = (await connection.execute(statement)).one()
    return row.current_jti, row.revoked_at


def test_the_store_satisfies_the_port(tokens: SqlTokenFamilies) -> None:
    port: TokenFamilies = tokens  # checked by mypy: a signature drift fails the build
    assert port is tokens


async def test_a_family_is_active_until_it_expires(tokens: SqlTokenFamilies) -> None:
    await _start(tokens)

    assert await tokens.is_active("fam-1", now=NOW)
    assert await tokens.is_active("fam-1", now=NOW + WEEK - 0.001)
    assert not await tokens.is_active("fam-1", now=NOW + WEEK)


async def test_an_unknown_family_is_not_active(tokens: SqlTokenFamilies) -> None:
    assert not await tokens.is_active("nobody", now=NOW)


async def test_creating_a_family_twice_is_a_bug_and_changes_nothing(
    tokens: SqlTokenFamilies, engine: AsyncEngine
) -> None:
    await _start(tokens)

    with pytest.raises(InvalidState):
        await _start(tokens, jti="other")

    assert await _row(engine) == ("jti-0", None)


async def test_each_rotation_hands_on_the_current_id(
    tokens: SqlTokenFamilies, engine: AsyncEngine
) -> None:
    assert not await tokens.rotate(family_id="fam-1", old_jti="jti-0", new_jti="x", now=NOW)
    await _start(tokens)

    for step in range(1, 4):
        assert await tokens.rotate(
            family_id="fam-1", old_jti=f"jti-{step - 1}", new_jti=f"jti-{step}", now=NOW + step
        )

    assert await _row(engine) == ("jti-3", None)
    assert await tokens.is_active("fam-1", now=NOW + 4)


async def test_reusing_a_rotated_id_revokes_the_family(
    tokens: SqlTokenFamilies, engine: AsyncEngine
) -> None:
    await _start(tokens)
    assert await tokens.rotate(family_id="fam-1", old_jti="jti-0", new_jti="jti-1", now=NOW + 1)

    assert not await tokens.rotate(
        family_id="fam-1", old_jti="jti-0", new_jti="stolen", now=NOW + 2
    )

    assert await _row(engine) == ("jti-1", NOW + 2)
    assert not await tokens.is_active("fam-1", now=NOW + 3)
    # The legitimate holder's current id is dead too: it must sign in again.
    assert not await tokens.rotate(family_id="fam-1", old_jti="jti-1", new_jti="jti-2", now=NOW)


async def test_an_expired_family_refuses_rotation_and_is_left_alone(
    tokens: SqlTokenFamilies, engine: AsyncEngine
) -> None:
    await _start(tokens)

    assert not await tokens.rotate(
        family_id="fam-1", old_jti="jti-0", new_jti="jti-1", now=NOW + WEEK
    )

    assert await _row(engine) == ("jti-0", None)


async def test_revoking_is_idempotent_and_keeps_the_first_time(
    tokens: SqlTokenFamilies, engine: AsyncEngine
) -> None:
    await _start(tokens)

    await tokens.revoke("fam-1", now=NOW + 1)
    await tokens.revoke("fam-1", now=NOW + 2)
    await tokens.revoke("nobody", now=NOW)

    assert await _row(engine) == ("jti-0", NOW + 1)
    assert not await tokens.is_active("fam-1", now=NOW + 1)
    assert not await tokens.rotate(family_id="fam-1", old_jti="jti-0", new_jti="jti-1", now=NOW)


async def test_families_are_independent(tokens: SqlTokenFamilies) -> None:
    await _start(tokens, "fam-1")
    await _start(tokens, "fam-2")

    await tokens.revoke("fam-1", now=NOW)
    assert not await tokens.rotate(family_id="fam-2", old_jti="stale", new_jti="x", now=NOW)

    assert not await tokens.is_active("fam-1", now=NOW)
    assert not await tokens.is_active("fam-2", now=NOW)  # revoked by its own reuse
    await _start(tokens, "fam-3")
    assert await tokens.is_active("fam-3", now=NOW)


@pytest.mark.parametrize("racers", [2, 10])
async def test_racing_rotations_of_one_id_never_both_succeed(
    tokens: SqlTokenFamilies, engine: AsyncEngine, racers: int
) -> None:
    """Exactly one racer wins; every loser counts as a reuse, so the family ends revoked.

    Two refreshes presenting the same token cannot be told from a thief racing the owner.
    """
    await _start(tokens)

    results = await asyncio.gather(
        *(
            tokens.rotate(family_id="fam-1", old_jti="jti-0", new_jti=f"new-{i}", now=NOW)
            for i in range(racers)
        )
    )

    assert results.count(True) == 1
    current, revoked_at = await _row(engine)
    assert current == f"new-{results.index(True)}"
    assert revoked_at == NOW
    assert not await tokens.is_active("fam-1", now=NOW)


async def test_concurrent_families_rotate_independently(tokens: SqlTokenFamilies) -> None:
    ids = [f"fam-{i}" for i in range(20)]
    await asyncio.gather(*(_start(tokens, family_id) for family_id in ids))

    results = await asyncio.gather(
        *(tokens.rotate(family_id=f, old_jti="jti-0", new_jti="jti-1", now=NOW) for f in ids)
    )

    assert results == [True] * len(ids)
    assert all([await tokens.is_active(f, now=NOW) for f in ids])


# The one-statement sign-in and refresh (issue 15), on the direct lane.

BOB = Address("0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF")


async def _ban(
    moderation: SqlModeration, address: Address = ALICE, expires_at: float | None = None
) -> None:
    await moderation.ban(address=address, reason="spam", by="op", now=NOW, expires_at=expires_at)


async def _start_unless_banned(
    tokens: SqlTokenFamilies, family_id: str, address: Address, now: float = NOW
) -> bool:
    return await tokens.start_unless_banned(
        family_id=family_id, address=address, jti="jti-0", now=now, expires_at=NOW + WEEK
    )


async def test_a_family_starts_in_one_step_unless_the_wallet_is_banned(
    tokens: SqlTokenFamilies, moderation: SqlModeration, engine: AsyncEngine
) -> None:
    await _ban(moderation, BOB)

    assert await _start_unless_banned(tokens, "fam-1", ALICE)
    assert not await _start_unless_banned(tokens, "fam-2", BOB)

    assert await _row(engine) == ("jti-0", None)
    assert await tokens.is_active("fam-1", now=NOW)
    assert not await tokens.is_active("fam-2", now=NOW)  # nothing was written


async def test_an_expired_ban_does_not_stop_a_start(
    tokens: SqlTokenFamilies, moderation: SqlModeration
) -> None:
    await _ban(moderation, expires_at=NOW + 60)

    assert not await _start_unless_banned(tokens, "fam-1", ALICE, now=NOW + 59)
    assert await _start_unless_banned(tokens, "fam-1", ALICE, now=NOW + 60)


async def test_starting_a_taken_family_in_one_step_is_a_bug(tokens: SqlTokenFamilies) -> None:
    await _start(tokens)

    with pytest.raises(InvalidState):
        await tokens.start_unless_banned(
            family_id="fam-1", address=ALICE, jti="other", now=NOW, expires_at=NOW + WEEK
        )


async def test_a_one_step_rotation_swaps_only_the_current_id_of_a_live_family(
    tokens: SqlTokenFamilies, engine: AsyncEngine
) -> None:
    await _start(tokens)

    assert await tokens.rotate_unless_banned(
        family_id="fam-1", old_jti="jti-0", new_jti="jti-1", now=NOW
    )
    assert not await tokens.rotate_unless_banned(  # a reuse changes nothing here
        family_id="fam-1", old_jti="jti-0", new_jti="jti-2", now=NOW
    )
    assert not await tokens.rotate_unless_banned(  # expired
        family_id="fam-1", old_jti="jti-1", new_jti="jti-2", now=NOW + WEEK
    )
    assert await _row(engine) == ("jti-1", None)


async def test_a_one_step_rotation_is_refused_while_a_ban_is_in_force(
    tokens: SqlTokenFamilies, moderation: SqlModeration, engine: AsyncEngine
) -> None:
    await _start(tokens)
    await _ban(moderation, expires_at=NOW + 60)

    rotation = {"family_id": "fam-1", "old_jti": "jti-0", "new_jti": "jti-1"}
    assert not await tokens.rotate_unless_banned(**rotation, now=NOW)
    assert await _row(engine) == ("jti-0", None)
    assert await tokens.rotate_unless_banned(**rotation, now=NOW + 60)


async def test_racing_one_step_rotations_of_one_id_never_both_succeed(
    tokens: SqlTokenFamilies,
) -> None:
    await _start(tokens)

    results = await asyncio.gather(
        *(
            tokens.rotate_unless_banned(
                family_id="fam-1", old_jti="jti-0", new_jti=f"jti-{n}", now=NOW
            )
            for n in range(1, 9)
        )
    )

    assert sorted(results) == [False] * 7 + [True]
