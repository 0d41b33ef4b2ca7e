"""The review queue and bans with an expiry, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from roulette.identity import Address, SessionId, WorkerId
from roulette.matchmaking.records import Session
from roulette.moderation.records import ReportStatus
from roulette.storage.sql import SqlModeration, SqlTokenFamilies
from roulette.storage.sql.history import SqlSessionHistory
from roulette.storage.sql.reviews import SqlReviews

ALICE = Address("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")
BOB = Address("0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359")
CAROL = Address("0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB")
NOW = 1_700_000_000.0


async def _report(moderation: SqlModeration, reporter: Address, target: Address, at: float) -> int:
    return await moderation.add_report(
        reporter=reporter, target=target, reason="spam", session_id=None, notes=None, now=at
    )


async def test_open_reports_queue_oldest_first_and_resolve_per_target(
    moderation: SqlModeration, engine: AsyncEngine
) -> None:
    reviews = SqlReviews(engine)
    first = await _report(moderation, ALICE, BOB, NOW)
    second = await _report(moderation, CAROL, BOB, NOW + 1)
    third = await _report(moderation, BOB, ALICE, NOW + 2)
    assert [r.id for r in await reviews.reports()] == [first, second, third]

    assert await reviews.resolve_open(BOB, by="cli:ann", resolution="ban", now=NOW + 5) == [
        first,
        second,
    ]
    assert [r.id for r in await reviews.reports()] == [third]
    resolved = await reviews.report(first)
    assert resolved is not None and resolved.status is ReportStatus.RESOLVED
    assert (resolved.resolved_by, resolved.resolution, resolved.resolved_at) == (
        "cli:ann",
        "ban",
        NOW + 5,
    )
    assert [r.id for r in await reviews.reports(status=None)] == [first, second, third]
    assert await reviews.resolve_open(BOB, by="x", resolution="ban", now=NOW) == []
    assert await reviews.report(9999) is None


async def test_recent_reporters_are_distinct_and_within_the_window(
    moderation: SqlModeration, engine: AsyncEngine
) -> None:
    reviews = SqlReviews(engine)
    await _report(moderation, ALICE, BOB, NOW - 7200)  # outside a one-hour window
    await _report(moderation, CAROL, BOB, NOW)
    await _report(moderation, CAROL, BOB, NOW + 1)
    assert await reviews.recent_reporters(BOB, since=NOW - 3600) == [CAROL]
    assert sorted(await reviews.recent_reporters(BOB, since=NOW - 9000)) == sorted([ALICE, CAROL])


async def test_first_seen_is_the_first_sign_in_and_history_sums_up_a_wallet(
    moderation: SqlModeration, engine: AsyncEngine
) -> None:
    reviews = SqlReviews(engine)
    families = SqlTokenFamilies(engine)
    assert await reviews.first_seen(BOB) is None
    for i, at in enumerate((NOW + 50, NOW + 10)):
        await families.create(
            family_id=f"f{i}", address=BOB, jti=f"j{i}", now=at, expires_at=at + 99
        )
    assert await reviews.first_seen(BOB) == NOW + 10
    assert await reviews.first_seen_of([BOB, ALICE]) == {BOB: NOW + 10, ALICE: None}
    await _report(moderation, ALICE, BOB, NOW)
    await _report(moderation, BOB, CAROL, NOW)
    await moderation.add_block(blocker=CAROL, target=BOB, reason=None, now=NOW)
    session = Session(
        id=SessionId("s1"),
        chain_id=1,
        initiator=ALICE,
        responder=BOB,
        initiator_worker=WorkerId("w"),
        responder_worker=WorkerId("w"),
        started_at=NOW,
    )
    await SqlSessionHistory(engine).record_end(session, ended_at=NOW + 9, reason="next")
    await moderation.ban(address=BOB, reason="spam", by="cli:ann", now=NOW, expires_at=NOW + 60)

    history = await reviews.history(BOB)
    assert history.first_seen == NOW + 10
    assert (history.sessions, history.reports_received, history.open_reports_received) == (1, 1, 1)
    assert (history.reports_made, history.blocked_by) == (1, 1)
    assert history.ban is not None and history.ban.expires_at == NOW + 60
    assert [r.reporter for r in history.recent_reports_received] == [ALICE]
    assert [r.target for r in history.recent_reports_made] == [CAROL]


async def test_a_ban_with_an_expiry_lapses_on_its_own(moderation: SqlModeration) -> None:
    await moderation.ban(address=BOB, reason="cool off", by="cli", now=NOW, expires_at=NOW + 60)
    assert await moderation.is_banned(BOB, now=NOW + 59)
    assert not await moderation.is_banned(BOB, now=NOW + 60)
    await moderation.ban(address=BOB, reason="for good", by="cli", now=NOW + 61)
    assert await moderation.is_banned(BOB, now=NOW + 10**9)
    (ban,) = await moderation.bans()
    assert (ban.reason, ban.expires_at) == ("for good", None)
