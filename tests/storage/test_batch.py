"""The lobby's batching (issue 15): the operations of one loop turn go as one script call, in
submission order; every caller gets its own reply or error; the queue of waiting operations
is bounded; a caller cancelled before the call is not in it; a batch sent again is not run
again.

Against a real ``redis-server`` (standalone and the 6-node cluster); the failing round trip is
a real refused connection. What a batch answers for every mix of operations is the Hypothesis
burst of ``test_differential.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest
from redis.asyncio import RedisCluster

from roulette.config import RedisSettings
from roulette.errors import Conflict, Unavailable
from roulette.matchmaking.policy import MatchPolicy
from roulette.storage.keys import BATCH_REPLY_TTL_MS, LOBBY
from roulette.storage.memory import MemoryLobby
from roulette.storage.ports import Lobby, Paired, Queued
from roulette.storage.redis import RedisClient, RedisLobby, close, connect
from roulette.storage.redis.lobby import _encode_entry
from roulette.storage.redis.scripts import lobby_batch_source
from storage.contract.builders import entry, sid, user
from storage.redis_fixtures import free_port

NAMES = tuple("abcdefghi")


async def _script_calls(client: RedisClient) -> int:
    """How many script calls the lobby's master has run since its stats were reset."""
    target = (
        {"target_nodes": client.get_node_from_key(LOBBY.waiting)}
        if isinstance(client, RedisCluster)
        else {}
    )
    stats = await client.info("commandstats", **target)
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


async def _reset_stats(client: RedisClient) -> None:
    if isinstance(client, RedisCluster):
        await client.config_resetstat(target_nodes=client.get_node_from_key(LOBBY.waiting))
    else:
        await client.config_resetstat()


async def _burst(lobby: Lobby) -> list[object]:
    """Nine joins, a leave and a position, all submitted in one loop turn."""
    joins = [lobby.join(entry(n, at=1.0), now=1.0, session_id=sid(n)) for n in NAMES]
    return list(await asyncio.gather(*joins, lobby.leave(user("i")), lobby.position(user("i"))))


async def test_a_turn_of_operations_is_one_script_call_answered_in_submission_order(
    redis_client: RedisClient,
) -> None:
    lobby = RedisLobby(redis_client, MatchPolicy())
    await lobby.stats()  # the script is loaded: the burst below is the only call
    await _reset_stats(redis_client)
    answers = await _burst(lobby)
    assert await _script_calls(redis_client) == 1
    # One by one in the same order, the memory lobby answers the same: a, b meet, c, d, ...
    assert answers == await _one_by_one(MemoryLobby(MatchPolicy()))
    assert [type(a) for a in answers[:2]] == [Queued, Paired]
    assert answers[-2:] == [True, None]


async def _one_by_one(lobby: Lobby) -> list[object]:
    answers: list[object] = [
        await lobby.join(entry(n, at=1.0), now=1.0, session_id=sid(n)) for n in NAMES
    ]
    return [*answers, await lobby.leave(user("i")), await lobby.position(user("i"))]


async def test_a_batch_is_bounded_and_the_rest_follows_in_order(
    redis_client: RedisClient,
) -> None:
    lobby = RedisLobby(redis_client, MatchPolicy(), batch_ops=3, batch_in_flight=1)
    await lobby.stats()
    await _reset_stats(redis_client)
    answers = await _burst(lobby)
    assert await _script_calls(redis_client) == 4  # 11 operations, 3 per call
    assert answers == await _one_by_one(MemoryLobby(MatchPolicy()))


async def test_beyond_the_pending_bound_a_submission_fails_at_once(
    redis_client: RedisClient,
) -> None:
    lobby = RedisLobby(redis_client, MatchPolicy(), batch_pending=3)
    joins = [lobby.join(entry(n), now=0.0, session_id=sid(n)) for n in NAMES[:5]]
    answers = await asyncio.gather(*joins, return_exceptions=True)
    assert answers[:3] == [Queued(1), Paired(answers[1].session), Queued(1)]  # type: ignore[union-attr]
    assert all(isinstance(a, Unavailable) for a in answers[3:])
    assert await lobby.position(user("d")) is None


async def test_a_caller_cancelled_before_the_call_is_left_out_of_it(
    redis_client: RedisClient,
) -> None:
    lobby = RedisLobby(redis_client, MatchPolicy())
    first = asyncio.create_task(lobby.join(entry("a"), now=0.0, session_id=sid(1)))
    second = asyncio.create_task(lobby.join(entry("b"), now=0.0, session_id=sid(2)))
    await asyncio.sleep(0)  # both have submitted; the batch leaves at the end of this turn
    first.cancel()
    assert await second == Queued(1)
    assert await lobby.position(user("a")) is None
    assert first.cancelled()


async def test_an_operation_failing_in_the_script_fails_alone(redis_client: RedisClient) -> None:
    lobby = RedisLobby(redis_client, MatchPolicy())
    await lobby.join(entry("a", interests=["x"]), now=0.0, session_id=sid(1))
    await redis_client.hset(LOBBY.entries, user("broken"), "not json")
    answers = await asyncio.gather(
        lobby.position(user("a")),
        lobby.position(user("broken")),
        lobby.join(entry("b", interests=["y"]), now=0.0, session_id=sid(2)),
        return_exceptions=True,
    )
    assert answers[0] == 1
    assert isinstance(answers[1], Unavailable)
    assert answers[1].code == "state_unavailable"
    assert answers[2] == Queued(2)


async def test_a_failed_round_trip_reaches_every_caller_of_the_batch() -> None:
    client = connect(RedisSettings(url=f"redis://127.0.0.1:{free_port()}/0"))
    try:
        lobby = RedisLobby(client, MatchPolicy())
        answers = await asyncio.gather(
            *(lobby.join(entry(n), now=0.0, session_id=sid(n)) for n in NAMES[:4]),
            lobby.stats(),
            return_exceptions=True,
        )
    finally:
        await close(client)
    assert len(answers) == 5
    for answer in answers:
        assert isinstance(answer, Unavailable), answer
        assert answer.code == "state_unavailable"


@pytest.mark.parametrize("in_flight", [1, 2])
async def test_concurrent_callers_over_many_turns_leave_no_one_twice(
    redis_client: RedisClient, in_flight: int
) -> None:
    """Batches in flight at once, of two stores of one lobby: one place per user."""
    workers = [RedisLobby(redis_client, MatchPolicy(), batch_in_flight=in_flight) for _ in "xy"]
    names = [f"u{n}" for n in range(200)]

    async def join(n: int) -> None:
        lobby = workers[n % 2]
        await lobby.join(entry(names[n], at=n), now=n, session_id=sid(n))
        if n % 3 == 0:  # joining again: the entry moves back, or it is already in a session
            again = entry(names[n], at=n + 0.5)
            with contextlib.suppress(Conflict):
                await lobby.join(again, now=n + 0.5, session_id=sid(f"r{n}"))

    await asyncio.gather(*(join(n) for n in range(len(names))))
    sessions = [await workers[0].session_of(user(name)) for name in names]
    queued = [name for name in names if await workers[1].position(user(name)) is not None]
    paired = [s for s in sessions if s is not None]
    assert len(paired) + len(queued) == len(names)
    assert len({s.id for s in paired}) * 2 == len(paired)
    assert len(queued) <= 1


async def test_a_batch_sent_again_is_answered_from_its_first_run(
    redis_client: RedisClient,
) -> None:
    """redis-py resends a call whose reply was lost: the joins must not run twice."""
    script = redis_client.register_script(lobby_batch_source())
    keys = [*LOBBY.fixed, LOBBY.reply("retried")]
    common: list[str | int] = [*LOBBY.templates, 1000, "10.0"]
    a, b = (_encode_entry(entry(who)) for who in "ab")
    operations = json.dumps(
        [["join", a, "0.0", "s-1", "100"], ["join", b, "0.0", "s-2", "100"], ["stats"]]
    )
    first = await script(keys=keys, args=[*common, operations, BATCH_REPLY_TTL_MS])
    again = await script(keys=keys, args=[*common, operations, BATCH_REPLY_TTL_MS])
    assert again == first
    replies = json.loads(first)
    assert [replies[0], replies[1][0]] == [["queued", 1], "paired"]
    lobby = RedisLobby(redis_client, MatchPolicy())
    assert (await lobby.stats()).active_sessions == 1
    ttl = await redis_client.pttl(keys[-1])
    assert 0 < ttl <= BATCH_REPLY_TTL_MS
