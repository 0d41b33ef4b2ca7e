"""A Hypothesis state machine that drives any ``Lobby`` and checks it against a model.

Rules join, leave, block, unblock, end, rematch and expire at random; after each the model
(plain dicts plus ``MatchPolicy``) and the store must agree, and the invariants hold: a user is
in at most one queue entry or session, every session paired users acceptable to each other when
it was made, and the positions of each lane are 1..n in waiting order. Subclass
:class:`LobbyMachine`, implement :meth:`~LobbyMachine.open_lobby`, and collect
``lobby_machine_test(YourMachine)``. Each machine runs the store on its own event loop.
"""

from __future__ import annotations

import asyncio
import unittest
from collections.abc import Coroutine
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from roulette.errors import Conflict
from roulette.identity import Address, SessionId, WorkerId
from roulette.matchmaking.policy import MatchPolicy, waiting_order
from roulette.matchmaking.records import Lane, QueueEntry, Session
from roulette.storage.ports import Lobby, Paired, Queued

__all__ = ["LobbyMachine", "lobby_machine_test"]

T = TypeVar("T")

POLICY = MatchPolicy()
USERS = tuple(Address(f"0xUser{n}") for n in range(4))
users = st.sampled_from(USERS)
two_users = st.tuples(users, users).filter(lambda pair: pair[0] != pair[1])
waits = st.sampled_from((0.0, 0.0, 1.0, 4.0, 10.0))
interest_sets = st.sampled_from(tuple(map(frozenset, ("", "x", "y", "z", "xy"))))
join_rule = rule(
    who=users,
    chain=st.sampled_from((1, 1, 2)),
    queue=st.sampled_from((None, None, None, "gated")),
    interests=interest_sets,
    wait=waits,
)


class LobbyMachine(RuleBasedStateMachine):
    """Random operations on a store, checked step by step against a model."""

    def __init__(self) -> None:
        super().__init__()
        self.runner = asyncio.Runner()
        self.context = self.open_lobby()
        self.lobby: Lobby = self.runner.run(self.context.__aenter__())
        self.now = 1000.0
        self.queued: dict[Address, QueueEntry] = {}
        self.sessions: dict[SessionId, Session] = {}
        self.blocks: set[tuple[Address, Address]] = set()
        self.made = 0

    def open_lobby(self) -> AbstractAsyncContextManager[Lobby]:
        """A fresh, empty store built with ``MatchPolicy()``; entered once per run."""
        raise NotImplementedError

    def teardown(self) -> None:
        try:
            self.run(self.context.__aexit__(None, None, None))
        finally:
            self.runner.close()

    def run(self, step: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(step)

    # ------------------------------------------------------------ rules

    @initialize(interests=st.lists(interest_sets, min_size=len(USERS), max_size=len(USERS)))
    def everyone_joins_the_main_lane(self, interests: list[frozenset[str]]) -> None:
        # Starts most runs with a queue to work on rather than an empty store.
        for who, wanted in zip(USERS, interests, strict=True):
            self.join(who, 1, None, wanted, 0.0)

    @join_rule
    def next_partner(
        self, who: Address, chain: int, queue: str | None, interests: frozenset[str], wait: float
    ) -> None:
        """What ``next`` does: end the user's session, if any, and join again."""
        session = self._session_of(who)
        if session is not None:
            assert self.run(self.lobby.end_session(session.id, by=who)) == session
            del self.sessions[session.id]
        self.join(who, chain, queue, interests, wait)

    @join_rule
    def join(
        self, who: Address, chain: int, queue: str | None, interests: frozenset[str], wait: float
    ) -> None:
        self.now += wait
        joiner = QueueEntry(
            address=who,
            chain_id=chain,
            interests=interests,
            enqueued_at=self.now,
            worker=WorkerId(f"worker-{who}"),
            excluded=self._blocked_with(who),
            queue=queue,
        )
        session_id = self._new_id()
        if self._session_of(who) is not None:
            with pytest.raises(Conflict) as raised:
                self.run(self.lobby.join(joiner, now=self.now, session_id=session_id))
            assert raised.value.code == "already_in_session"
            return
        self.queued.pop(who, None)
        lane = [e for e in self.queued.values() if e.lane == joiner.lane]
        expected = POLICY.choose(joiner, lane, self.now)
        result = self.run(self.lobby.join(joiner, now=self.now, session_id=session_id))
        if expected is None:
            place = sorted(map(waiting_order, [*lane, joiner])).index(waiting_order(joiner))
            assert result == Queued(position=place + 1)
            self.queued[who] = joiner
        else:
            assert result == Paired(self._start(session_id, expected, joiner))

    @rule(who=users)
    def leave(self, who: Address) -> None:
        assert self.run(self.lobby.leave(who)) is (who in self.queued)
        self.queued.pop(who, None)

    @rule(first=st.integers(0, 3), second=st.integers(0, 3))
    def block(self, first: int, second: int) -> None:
        # Picked queued users first: a block between two of them is the interesting case.
        likely = [*sorted(self.queued), *(u for u in USERS if u not in self.queued)]
        pair = (likely[first], likely[second])
        if pair[0] == pair[1]:
            return
        self.blocks.add(pair)
        self.run(self.lobby.exclude(*pair))
        self._refresh_exclusions(*pair)

    @rule(pick=st.integers(0, 3), pair=two_users)
    def unblock(self, pick: int, pair: tuple[Address, Address]) -> None:
        blocks = sorted(self.blocks)  # mostly lift a block that exists
        blocker, blocked = blocks[pick] if pick < len(blocks) else pair
        self.blocks.discard((blocker, blocked))
        if (blocked, blocker) in self.blocks:
            return  # the other block still stands; the caller does not lift the exclusion
        self.run(self.lobby.include(blocker, blocked))
        self._refresh_exclusions(blocker, blocked)

    @rule(pick=st.integers(0, 3), by=st.sampled_from(("initiator", "responder", "system", "other")))
    def end(self, pick: int, by: str) -> None:
        ids = sorted(self.sessions)
        if pick >= len(ids):
            assert self.run(self.lobby.end_session(SessionId("gone"), by=None)) is None
            return
        session = self.sessions[ids[pick]]
        outsider = next(u for u in USERS if not session.has(u))
        ender = {"initiator": session.initiator, "responder": session.responder}.get(by)
        ender = outsider if by == "other" else ender
        ended = self.run(self.lobby.end_session(session.id, by=ender))
        assert ended == (None if by == "other" else session)
        if ended is not None:
            del self.sessions[session.id]

    @rule(count=st.integers(1, 3), wait=waits)
    def rematch(self, count: int, wait: float) -> None:
        self.now += wait
        ids = [self._new_id() for _ in range(count)]
        expected = POLICY.pairs(list(self.queued.values()), self.now)[:count]
        made = self.run(self.lobby.rematch(now=self.now, session_ids=ids))
        assert made == [
            self._start(session_id, older, other)
            for session_id, (older, other) in zip(ids, expected, strict=False)
        ]

    @rule(max_age=st.sampled_from((0.0, 3.0, 20.0)), wait=waits)
    def expire(self, max_age: float, wait: float) -> None:
        self.now += wait
        due = [s for s in self.sessions.values() if self.now - s.started_at >= max_age]
        ended = self.run(self.lobby.expire(now=self.now, max_age=max_age))
        assert sorted(ended, key=_by_start) == sorted(due, key=_by_start)
        for session in due:
            del self.sessions[session.id]

    # ------------------------------------------------------------ invariants

    @invariant()
    def each_user_is_in_one_place_at_most(self) -> None:
        for who in USERS:
            session = self.run(self.lobby.session_of(who))
            position = self.run(self.lobby.position(who))
            assert session == self._session_of(who)
            assert (position is not None) is (who in self.queued)
            assert session is None or position is None

    @invariant()
    def positions_are_one_to_n_in_waiting_order(self) -> None:
        lanes: dict[Lane, list[QueueEntry]] = {}
        for queued in self.queued.values():
            lanes.setdefault(queued.lane, []).append(queued)
        for lane in lanes.values():
            ordered = sorted(lane, key=waiting_order)
            positions = [self.run(self.lobby.position(e.address)) for e in ordered]
            assert positions == list(range(1, len(ordered) + 1))

    @invariant()
    def sessions_and_counts_agree(self) -> None:
        for session in self.sessions.values():
            assert self.run(self.lobby.session(session.id)) == session
        stats = self.run(self.lobby.stats())
        counts: dict[int, int] = {}
        for queued in self.queued.values():
            counts[queued.chain_id] = counts.get(queued.chain_id, 0) + 1
        assert {chain: n for chain, n in stats.queued.items() if n} == counts
        assert stats.active_sessions == len(self.sessions)

    # ------------------------------------------------------------ model

    def _new_id(self) -> SessionId:
        self.made += 1
        return SessionId(f"s-{self.made}")

    def _session_of(self, who: Address) -> Session | None:
        return next((s for s in self.sessions.values() if s.has(who)), None)

    def _blocked_with(self, who: Address) -> frozenset[Address]:
        return frozenset(b if a == who else a for a, b in self.blocks if who in (a, b))

    def _refresh_exclusions(self, *who: Address) -> None:
        for address in who:
            if address in self.queued:
                queued = self.queued[address]
                self.queued[address] = replace(queued, excluded=self._blocked_with(address))

    def _start(
        self, session_id: SessionId, initiator: QueueEntry, responder: QueueEntry
    ) -> Session:
        assert POLICY.is_acceptable(initiator, responder, self.now)
        assert (initiator.address, responder.address) not in self.blocks
        assert (responder.address, initiator.address) not in self.blocks
        del self.queued[initiator.address]
        self.queued.pop(responder.address, None)
        session = Session(
            id=session_id,
            chain_id=initiator.chain_id,
            initiator=initiator.address,
            responder=responder.address,
            initiator_worker=initiator.worker,
            responder_worker=responder.worker,
            started_at=self.now,
        )
        self.sessions[session_id] = session
        return session


def _by_start(session: Session) -> tuple[float, str]:
    return (session.started_at, session.id)


def lobby_machine_test(machine: type[LobbyMachine]) -> type[unittest.TestCase]:
    """The test case that runs ``machine``, with settings sized for the 60 s test timeout."""
    case = machine.TestCase
    case.settings = settings(
        max_examples=60,
        stateful_step_count=40,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    return case
