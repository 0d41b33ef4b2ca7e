"""Session history in SQL, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from roulette.identity import Address, SessionId, WorkerId
from roulette.matchmaking.records import Session
from roulette.storage.sql.history import SqlSessionHistory

A = Address("0x" + "A" * 40)
B = Address("0x" + "b" * 40)


def session(sid: str = "s-1") -> Session:
    return Session(
        id=SessionId(sid),
        chain_id=1,
        initiator=A,
        responder=B,
        initiator_worker=WorkerId("w1"),
        responder_worker=WorkerId("w2"),
        started_at=100.0,
    )


async def test_an_ended_session_is_found_with_its_times_and_reason(engine: AsyncEngine) -> None:
    history = SqlSessionHistory(engine)
    await history.record_end(session(), ended_at=160.5, reason="next")
    ended = await history.ended(SessionId("s-1"))
    assert ended is not None
    assert (ended.session.initiator, ended.session.responder) == (A, B)
    assert (ended.session.started_at, ended.ended_at, ended.reason) == (100.0, 160.5, "next")


async def test_recording_twice_keeps_the_first_record(engine: AsyncEngine) -> None:
    history = SqlSessionHistory(engine)
    await history.record_end(session(), ended_at=160.0, reason="next")
    await history.record_end(session(), ended_at=999.0, reason="time-limit")
    ended = await history.ended(SessionId("s-1"))
    assert ended is not None
    assert (ended.ended_at, ended.reason) == (160.0, "next")


async def test_an_unknown_session_is_none(engine: AsyncEngine) -> None:
    assert await SqlSessionHistory(engine).ended(SessionId("nope")) is None
