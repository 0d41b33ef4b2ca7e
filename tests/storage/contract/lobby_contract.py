"""The contract every ``Lobby`` keeps (issue 2, "Matching" and "Precise semantics").

Mix :class:`LobbyContract` into a test class of a module that provides a ``lobby`` fixture: a
fresh, empty store built with ``MatchPolicy()`` (interests widen after 10 s).
"""

from __future__ import annotations

import asyncio

import pytest

from roulette.errors import Conflict
from roulette.identity import SessionId, WorkerId
from roulette.storage.ports import Lobby, Paired, Queued

from .builders import WAIT, entry, sid, user

__all__ = ["LobbyContract"]


async def _paired(lobby: Lobby, *joins: tuple[str, float, tuple[str, ...]]) -> Paired:
    """Queue every join but the last, which must pair; return that pairing."""
    *waiting, (last, at, interests) = joins
    for who, when, wanted in waiting:
        queued = await lobby.join(
            entry(who, at=when, interests=wanted), now=when, session_id=sid(who)
        )
        assert isinstance(queued, Queued)
    result = await lobby.join(entry(last, at=at, interests=interests), now=at, session_id=sid(last))
    assert isinstance(result, Paired)
    return result


class LobbyContract:
    """Behaviour every Lobby implementation shares."""

    # ------------------------------------------------------------ joining

    async def test_a_lone_user_waits_at_position_one(self, lobby: Lobby) -> None:
        assert await lobby.join(entry("a"), now=0.0, session_id=sid(1)) == Queued(position=1)
        assert await lobby.position(user("a")) == 1
        assert await lobby.session_of(user("a")) is None

    async def test_two_flexible_users_meet_at_once_and_the_waiting_one_initiates(
        self, lobby: Lobby
    ) -> None:
        await lobby.join(entry("a", at=1.0), now=1.0, session_id=sid(1))
        result = await lobby.join(entry("b", at=2.0), now=2.0, session_id=sid(2))
        assert isinstance(result, Paired)
        session = result.session
        assert (session.id, session.chain_id, session.started_at) == (sid(2), 1, 2.0)
        assert (session.initiator, session.responder) == (user("a"), user("b"))
        assert (session.initiator_worker, session.responder_worker) == ("worker-a", "worker-b")
        assert session.epoch == 0

    async def test_a_paired_user_leaves_the_queue_and_holds_the_session(self, lobby: Lobby) -> None:
        session = (await _paired(lobby, ("a", 0.0, ()), ("b", 1.0, ()))).session
        for who in ("a", "b"):
            assert await lobby.position(user(who)) is None
            assert await lobby.session_of(user(who)) == session
        assert await lobby.session(session.id) == session

    async def test_joining_while_in_a_session_is_a_conflict(self, lobby: Lobby) -> None:
        session = (await _paired(lobby, ("a", 0.0, ()), ("b", 1.0, ()))).session
        with pytest.raises(Conflict) as raised:
            await lobby.join(entry("a", at=2.0), now=2.0, session_id=sid(3))
        assert raised.value.code == "already_in_session"
        assert await lobby.session_of(user("a")) == session
        assert await lobby.position(user("a")) is None

    async def test_joining_again_while_queued_replaces_the_entry_and_goes_to_the_back(
        self, lobby: Lobby
    ) -> None:
        await lobby.join(entry("a", at=0.0, interests=["x"]), now=0.0, session_id=sid(1))
        await lobby.join(entry("b", at=1.0, interests=["y"]), now=1.0, session_id=sid(2))
        again = await lobby.join(entry("a", at=2.0, interests=["x"]), now=2.0, session_id=sid(3))
        assert again == Queued(position=2)
        assert await lobby.position(user("b")) == 1
        assert (await lobby.stats()).queued == {1: 2}

    async def test_joining_again_with_new_interests_can_pair_at_once(self, lobby: Lobby) -> None:
        await lobby.join(entry("a", at=0.0, interests=["x"]), now=0.0, session_id=sid(1))
        await lobby.join(entry("b", at=1.0, interests=["y"]), now=1.0, session_id=sid(2))
        result = await lobby.join(entry("a", at=2.0, interests=["y"]), now=2.0, session_id=sid(3))
        assert isinstance(result, Paired)
        assert (result.session.initiator, result.session.responder) == (user("b"), user("a"))

    async def test_interests_outside_ascii_match_as_written(self, lobby: Lobby) -> None:
        # The Redis lobby sends entries as UTF-8 JSON (not \u escapes): the scripts must
        # still see "café" as one interest, distinct from "cafe", and "ß" as itself.
        await lobby.join(entry("a", at=0.0, interests=["café", "ß"]), now=0.0, session_id=sid(1))
        near = entry("b", at=1.0, interests=["cafe"])
        assert await lobby.join(near, now=1.0, session_id=sid(2)) == Queued(position=2)
        result = await lobby.join(entry("c", at=2.0, interests=["ß"]), now=2.0, session_id=sid(3))
        assert isinstance(result, Paired)
        assert (result.session.initiator, result.session.responder) == (user("a"), user("c"))

    @pytest.mark.parametrize(
        ("lane_a", "lane_b"),
        [((1, None), (137, None)), ((1, None), (1, "holders"))],
        ids=["chains", "named-queues"],
    )
    async def test_users_meet_only_within_one_lane(
        self, lobby: Lobby, lane_a: tuple[int, str | None], lane_b: tuple[int, str | None]
    ) -> None:
        a = entry("a", chain=lane_a[0], queue=lane_a[1])
        b = entry("b", at=60.0, chain=lane_b[0], queue=lane_b[1])
        await lobby.join(a, now=0.0, session_id=sid(1))
        assert await lobby.join(b, now=60.0, session_id=sid(2)) == Queued(position=1)
        assert await lobby.position(user("a")) == 1

    async def test_positions_count_within_each_lane(self, lobby: Lobby) -> None:
        joins = [("a", 1, None), ("b", 1, "gated"), ("c", 2, None), ("d", 1, "gated")]
        for n, (who, chain, queue) in enumerate(joins):
            e = entry(who, at=n, chain=chain, queue=queue, interests=[who])
            await lobby.join(e, now=n, session_id=sid(n))
        positions = [await lobby.position(user(who)) for who, _, _ in joins]
        assert positions == [1, 1, 1, 2]
        assert (await lobby.stats()).queued == {1: 3, 2: 1}

    @pytest.mark.parametrize("blocker", ["waiting", "joiner"])
    async def test_an_exclusion_in_either_entry_keeps_users_apart(
        self, lobby: Lobby, blocker: str
    ) -> None:
        waiting = entry("a", excluded=["b"] if blocker == "waiting" else [])
        joiner = entry("b", at=60.0, excluded=["a"] if blocker == "joiner" else [])
        await lobby.join(waiting, now=0.0, session_id=sid(1))
        assert await lobby.join(joiner, now=60.0, session_id=sid(2)) == Queued(position=2)

    # ------------------------------------------------------------ interests

    async def test_users_with_disjoint_interests_wait_for_the_window(self, lobby: Lobby) -> None:
        await lobby.join(entry("a", at=0.0, interests=["x"]), now=0.0, session_id=sid(1))
        result = await lobby.join(entry("b", at=1.0, interests=["y"]), now=1.0, session_id=sid(2))
        assert result == Queued(position=2)

    @pytest.mark.parametrize(
        ("waiting", "joining"),
        [((), ("x",)), (("x",), ())],
        ids=["waiting-flexible", "joiner-flexible"],
    )
    async def test_a_user_without_interests_meets_anyone_at_once(
        self, lobby: Lobby, waiting: tuple[str, ...], joining: tuple[str, ...]
    ) -> None:
        await _paired(lobby, ("a", 0.0, waiting), ("b", 0.5, joining))

    async def test_a_shared_interest_beats_a_longer_wait(self, lobby: Lobby) -> None:
        result = await _paired(
            lobby, ("a", 0.0, ("x",)), ("b", 1.0, ("y",)), ("c", 20.0, ("y", "z"))
        )
        assert result.session.initiator == user("b")
        assert await lobby.position(user("a")) == 1

    async def test_among_shared_interests_the_longest_waiting_wins(self, lobby: Lobby) -> None:
        result = await _paired(
            lobby, ("a", 0.0, ("x",)), ("b", 1.0, ("y",)), ("c", 2.0, ("x", "y"))
        )
        assert result.session.initiator == user("a")

    async def test_a_user_without_interests_takes_the_longest_waiting(self, lobby: Lobby) -> None:
        result = await _paired(lobby, ("a", 0.0, ("x",)), ("b", 1.0, ("y",)), ("c", 2.0, ()))
        assert result.session.initiator == user("a")

    @pytest.mark.parametrize(("joined_at", "pairs"), [(WAIT - 0.01, False), (WAIT, True)])
    async def test_interests_widen_once_the_candidate_has_waited_the_window(
        self, lobby: Lobby, joined_at: float, pairs: bool
    ) -> None:
        await lobby.join(entry("a", at=0.0, interests=["x"]), now=0.0, session_id=sid(1))
        e = entry("b", at=joined_at, interests=["y"])
        result = await lobby.join(e, now=joined_at, session_id=sid(2))
        assert isinstance(result, Paired) is pairs

    async def test_interests_widen_once_the_joiner_has_waited_the_window(
        self, lobby: Lobby
    ) -> None:
        await lobby.join(entry("a", at=100.0, interests=["x"]), now=100.0, session_id=sid(1))
        e = entry("b", at=100.0 - WAIT, interests=["y"])
        assert isinstance(await lobby.join(e, now=100.0, session_id=sid(2)), Paired)

    # ------------------------------------------------------------ leaving

    async def test_leaving_removes_the_entry_once(self, lobby: Lobby) -> None:
        for n, who in enumerate("abc"):
            await lobby.join(entry(who, at=n, interests=[who]), now=n, session_id=sid(n))
        assert await lobby.leave(user("b")) is True
        assert await lobby.leave(user("b")) is False
        assert await lobby.position(user("b")) is None
        assert await lobby.position(user("c")) == 2
        assert (await lobby.stats()).queued == {1: 2}

    async def test_a_user_in_a_session_is_not_queued_so_cannot_leave(self, lobby: Lobby) -> None:
        session = (await _paired(lobby, ("a", 0.0, ()), ("b", 1.0, ()))).session
        assert await lobby.leave(user("a")) is False
        assert await lobby.session(session.id) == session

    # ------------------------------------------------------------ blocks

    @pytest.mark.parametrize(("blocker", "blocked"), [("a", "b"), ("b", "a")])
    async def test_a_block_made_while_queued_applies_at_once(
        self, lobby: Lobby, blocker: str, blocked: str
    ) -> None:
        await lobby.join(entry("a"), now=0.0, session_id=sid(1))
        await lobby.exclude(user(blocker), user(blocked))
        assert await lobby.join(entry("b", at=1.0), now=1.0, session_id=sid(2)) == Queued(
            position=2
        )

    async def test_a_block_between_two_queued_users_outlives_the_window(self, lobby: Lobby) -> None:
        await lobby.join(entry("a", at=0.0, interests=["x"]), now=0.0, session_id=sid(1))
        await lobby.join(entry("b", at=1.0, interests=["y"]), now=1.0, session_id=sid(2))
        await lobby.exclude(user("b"), user("a"))
        assert await lobby.rematch(now=60.0, session_ids=[sid(3)]) == []
        result = await lobby.join(entry("c", at=61.0), now=61.0, session_id=sid(4))
        assert isinstance(result, Paired)
        assert result.session.initiator == user("a")

    async def test_an_unblock_lets_a_later_join_pair(self, lobby: Lobby) -> None:
        await lobby.join(entry("a"), now=0.0, session_id=sid(1))
        await lobby.exclude(user("a"), user("b"))
        await lobby.include(user("a"), user("b"))
        assert isinstance(await lobby.join(entry("b", at=1.0), now=1.0, session_id=sid(2)), Paired)

    async def test_an_unblock_between_two_queued_users_lets_rematch_pair_them(
        self, lobby: Lobby
    ) -> None:
        await lobby.join(entry("a", at=0.0), now=0.0, session_id=sid(1))
        await lobby.exclude(user("a"), user("b"))
        await lobby.join(entry("b", at=1.0), now=1.0, session_id=sid(2))
        await lobby.include(user("b"), user("a"))
        [session] = await lobby.rematch(now=2.0, session_ids=[sid(3), sid(4)])
        assert (session.id, session.initiator, session.responder) == (sid(3), user("a"), user("b"))

    async def test_blocks_of_users_not_queued_change_nothing(self, lobby: Lobby) -> None:
        await lobby.exclude(user("a"), user("b"))
        await lobby.include(user("c"), user("d"))
        await lobby.join(entry("a"), now=0.0, session_id=sid(1))
        assert isinstance(await lobby.join(entry("b", at=1.0), now=1.0, session_id=sid(2)), Paired)

    # ------------------------------------------------------------ ending sessions

    @pytest.mark.parametrize("by", ["a", "b", None])
    async def test_a_member_or_the_system_ends_a_session_and_frees_both(
        self, lobby: Lobby, by: str | None
    ) -> None:
        session = (await _paired(lobby, ("a", 0.0, ()), ("b", 1.0, ()))).session
        ender = None if by is None else user(by)
        assert await lobby.end_session(session.id, by=ender) == session
        assert await lobby.session(session.id) is None
        for who in ("a", "b"):
            assert await lobby.session_of(user(who)) is None
        assert (await lobby.stats()).active_sessions == 0
        assert await lobby.join(entry("a", at=5.0), now=5.0, session_id=sid(9)) == Queued(
            position=1
        )

    async def test_an_outsider_cannot_end_a_session(self, lobby: Lobby) -> None:
        session = (await _paired(lobby, ("a", 0.0, ()), ("b", 1.0, ()))).session
        assert await lobby.end_session(session.id, by=user("mallory")) is None
        assert await lobby.session(session.id) == session

    async def test_an_unknown_or_ended_session_ends_nothing(self, lobby: Lobby) -> None:
        session = (await _paired(lobby, ("a", 0.0, ()), ("b", 1.0, ()))).session
        assert await lobby.end_session(sid("unknown"), by=None) is None
        assert await lobby.end_session(session.id, by=user("a")) == session
        assert await lobby.end_session(session.id, by=user("b")) is None

    # ------------------------------------------------------------ rematch

    async def test_rematch_waits_for_the_interest_window(self, lobby: Lobby) -> None:
        await lobby.join(entry("a", at=0.0, interests=["x"]), now=0.0, session_id=sid(1))
        await lobby.join(entry("b", at=1.0, interests=["y"]), now=1.0, session_id=sid(2))
        assert await lobby.rematch(now=WAIT - 0.01, session_ids=[sid(3)]) == []
        [session] = await lobby.rematch(now=WAIT, session_ids=[sid(4)])
        assert (session.id, session.started_at) == (sid(4), WAIT)
        assert (session.initiator, session.responder) == (user("a"), user("b"))
        assert await lobby.session_of(user("b")) == session
        assert (await lobby.stats()).queued in ({}, {1: 0})

    async def test_rematch_makes_at_most_one_session_per_id_oldest_first(
        self, lobby: Lobby
    ) -> None:
        for n, who in enumerate("abcd"):
            await lobby.join(entry(who, at=n, interests=[who]), now=n, session_id=sid(n))
        assert await lobby.rematch(now=100.0, session_ids=[]) == []
        [first] = await lobby.rematch(now=100.0, session_ids=[sid("r1")])
        assert (first.initiator, first.responder) == (user("a"), user("b"))
        assert await lobby.position(user("c")) == 1
        [second] = await lobby.rematch(now=100.0, session_ids=[sid("r2"), sid("r3")])
        assert (second.initiator, second.responder) == (user("c"), user("d"))

    async def test_rematch_keeps_lanes_apart(self, lobby: Lobby) -> None:
        await lobby.join(entry("a", chain=1, interests=["x"]), now=0.0, session_id=sid(1))
        await lobby.join(entry("b", chain=2, interests=["y"]), now=0.0, session_id=sid(2))
        await lobby.join(entry("c", queue="vip", interests=["z"]), now=0.0, session_id=sid(3))
        assert await lobby.rematch(now=100.0, session_ids=[sid(4), sid(5)]) == []

    # ------------------------------------------------------------ time limit

    async def test_expire_ends_sessions_that_reached_the_time_limit(self, lobby: Lobby) -> None:
        early = (await _paired(lobby, ("a", 0.0, ()), ("b", 0.0, ()))).session
        late = (await _paired(lobby, ("c", 5.0, ()), ("d", 5.0, ()))).session
        assert await lobby.expire(now=1799.0, max_age=1800.0) == []
        assert await lobby.expire(now=1800.0, max_age=1800.0) == [early]
        assert await lobby.session_of(user("a")) is None
        assert await lobby.session(late.id) == late
        assert await lobby.expire(now=1810.0, max_age=1800.0) == [late]
        assert (await lobby.stats()).active_sessions == 0

    async def test_an_ended_session_does_not_expire_again(self, lobby: Lobby) -> None:
        session = (await _paired(lobby, ("a", 0.0, ()), ("b", 0.0, ()))).session
        await lobby.end_session(session.id, by=None)
        assert await lobby.expire(now=5000.0, max_age=1800.0) == []

    # ------------------------------------------------------------ stats

    async def test_stats_count_queued_users_per_chain_and_live_sessions(self, lobby: Lobby) -> None:
        await _paired(lobby, ("a", 0.0, ()), ("b", 0.0, ()))
        await lobby.join(entry("c", chain=1), now=1.0, session_id=sid("c"))
        await lobby.join(entry("d", chain=10, queue="vip"), now=1.0, session_id=sid("d"))
        await lobby.join(entry("e", chain=10, interests=["x"]), now=1.0, session_id=sid("e"))
        stats = await lobby.stats()
        assert (stats.queued, stats.active_sessions) == ({1: 1, 10: 2}, 1)

    # ------------------------------------------------------------ concurrency

    async def test_200_users_joining_at_once_make_100_sessions(self, lobby: Lobby) -> None:
        joins = [lobby.join(entry(f"u{n}", at=1.0), now=1.0, session_id=sid(n)) for n in range(200)]
        results = await asyncio.gather(*joins)
        sessions = [r.session for r in results if isinstance(r, Paired)]
        assert len(sessions) == 100
        members = [a for s in sessions for a in (s.initiator, s.responder)]
        assert len(set(members)) == 200
        stats = await lobby.stats()
        assert stats.active_sessions == 100
        assert sum(stats.queued.values()) == 0

    async def test_one_user_joining_many_times_at_once_is_in_one_place(self, lobby: Lobby) -> None:
        joins = [
            lobby.join(entry(who, at=1.0), now=1.0, session_id=sid(n))
            for n, who in enumerate(["a", "a", "b", "a", "c", "a", "b"])
        ]
        results = await asyncio.gather(*joins, return_exceptions=True)
        assert all(isinstance(r, Queued | Paired | Conflict) for r in results)
        for who in "abc":
            in_session = await lobby.session_of(user(who)) is not None
            queued = await lobby.position(user(who)) is not None
            assert in_session != queued
        assert (await lobby.stats()).active_sessions == 1

    # ------------------------------------------------------------ resuming after a drop

    async def test_rebind_moves_one_end_to_a_new_worker_and_bumps_the_epoch(
        self, lobby: Lobby
    ) -> None:
        session = (await _paired(lobby, ("a", 0.0, ()), ("b", 1.0, ()))).session
        moved = await lobby.rebind(session.id, user("b"), WorkerId("worker-z"))
        assert moved is not None
        assert (moved.responder_worker, moved.initiator_worker) == ("worker-z", "worker-a")
        assert moved.epoch == session.epoch + 1
        assert await lobby.session(session.id) == moved
        assert await lobby.session_of(user("a")) == moved
        again = await lobby.rebind(session.id, user("a"), WorkerId("worker-y"))
        assert again is not None
        assert (again.initiator_worker, again.epoch) == ("worker-y", session.epoch + 2)

    async def test_rebind_refuses_strangers_and_ended_sessions(self, lobby: Lobby) -> None:
        session = (await _paired(lobby, ("a", 0.0, ()), ("b", 1.0, ()))).session
        assert await lobby.rebind(session.id, user("c"), WorkerId("w")) is None
        assert await lobby.rebind(SessionId("nope"), user("a"), WorkerId("w")) is None
        await lobby.end_session(session.id, by=None)
        assert await lobby.rebind(session.id, user("a"), WorkerId("w")) is None
