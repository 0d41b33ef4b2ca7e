"""One matching rule set: the memory lobby, a standalone Redis and a 6-node Redis Cluster get
the same random operations, bounds included, and must give the same answer to every one.

The memory lobby is checked against ``MatchPolicy`` by the model-based machine of the shared
contract; this test carries that to both Redis deployments operation by operation, with a
small ``max_queue`` so the bound is hit often (defect 3: the bound used to be checked before
pairing on Redis only). A burst submits several operations at once, as a busy worker's loop
turn does: the Redis lobbies run them as one batch, which must answer each exactly as the
memory lobby answers them one by one in submission order (issue 15).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any, ClassVar, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from roulette.config import RedisSettings
from roulette.errors import RouletteError
from roulette.identity import Address, SessionId, WorkerId
from roulette.matchmaking.policy import MatchPolicy
from roulette.matchmaking.records import QueueEntry
from roulette.storage.memory import MemoryLobby
from roulette.storage.ports import Lobby, Paired
from roulette.storage.redis import RedisClient, RedisLobby, close, connect
from storage.conftest import flush, settings_for

T = TypeVar("T")

POLICY = MatchPolicy(interest_wait_seconds=10.0)
USERS = tuple(Address(f"0xU{n}") for n in range(5))
users = st.sampled_from(USERS)
interest_sets = st.sampled_from(tuple(map(frozenset, ("", "x", "y", "xy"))))
made_ids = st.integers(1, 30).map(lambda n: SessionId(f"s-{n}"))
operations = st.one_of(
    st.tuples(st.just("join"), users, st.sampled_from((1, 1, 2)), interest_sets),
    st.tuples(st.just("join"), users, st.just(1), st.just(frozenset())),
    st.tuples(st.just("leave"), users),
    st.tuples(st.just("exclude"), users, users, st.booleans()).filter(lambda op: op[1] != op[2]),
    st.tuples(st.just("end"), users, made_ids, st.booleans()),
    st.tuples(st.just("rebind"), users, made_ids),
    st.tuples(st.just("read"), users, st.sampled_from(("position", "session_of", "stats"))),
    st.tuples(st.just("rematch"), st.integers(1, 2)),
    st.tuples(st.just("expire"), st.sampled_from((5.0, 30.0))),
)
"""One operation of a burst: what it is and on whom (session ids guessed among those made)."""

Call = Callable[[Lobby], Awaitable[object]]


async def outcome(call: Awaitable[object]) -> object:
    """What a store answered: its value, or the error's class and code."""
    try:
        return await call
    except RouletteError as error:
        return (type(error).__name__, error.code)


class ThreeLobbies(RuleBasedStateMachine):
    """Memory, standalone Redis and Redis Cluster, driven in lock step."""

    standalone: ClassVar[RedisSettings | None] = None
    cluster: ClassVar[RedisSettings | None] = None

    def __init__(self) -> None:
        super().__init__()
        assert self.standalone is not None and self.cluster is not None, "fixture did not run"
        self.runner = asyncio.Runner()
        self.clients: list[RedisClient] = [connect(self.standalone), connect(self.cluster)]
        for client in self.clients:
            self.run(flush(client))
        self.lobbies: list[Lobby] = []
        self.max_queue = 0
        self.now = 1000.0
        self.made = 0

    def teardown(self) -> None:
        try:
            for client in self.clients:
                self.run(close(client))
        finally:
            self.runner.close()

    def run(self, step: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(step)

    def same(self, make: Any) -> object:
        """Run ``make(lobby)`` on every store; all answers must be equal."""
        answers = [self.run(outcome(make(lobby))) for lobby in self.lobbies]
        assert answers[1] == answers[0], ("standalone", answers)
        assert answers[2] == answers[0], ("cluster", answers)
        return answers[0]

    def new_id(self) -> SessionId:
        self.made += 1
        return SessionId(f"s-{self.made}")

    @initialize(max_queue=st.integers(1, 4))
    def open_lobbies(self, max_queue: int) -> None:
        self.max_queue = max_queue
        self.lobbies = [
            MemoryLobby(POLICY, max_queue=max_queue),
            *(RedisLobby(client, POLICY, max_queue=max_queue) for client in self.clients),
        ]

    @rule(
        who=users,
        chain=st.sampled_from((1, 1, 2)),
        queue=st.sampled_from((None, None, "gated")),
        interests=interest_sets,
        wait=st.sampled_from((0.0, 0.0, 1.0, 4.0, 10.0)),
        excluded=st.frozensets(users, max_size=2),
    )
    def join(
        self,
        *,
        who: Address,
        chain: int,
        queue: str | None,
        interests: frozenset[str],
        wait: float,
        excluded: frozenset[Address],
    ) -> None:
        self.now += wait
        entry = QueueEntry(
            address=who,
            chain_id=chain,
            interests=interests,
            enqueued_at=self.now,
            worker=WorkerId("w"),
            excluded=excluded - {who},
            queue=queue,
        )
        session_id = self.new_id()
        self.same(lambda lobby: lobby.join(entry, now=self.now, session_id=session_id))

    @rule(who=users)
    def leave(self, who: Address) -> None:
        self.same(lambda lobby: lobby.leave(who))

    @rule(a=users, b=users, block=st.booleans())
    def exclusions(self, a: Address, b: Address, block: bool) -> None:
        if a != b:
            self.same(lambda lobby: lobby.exclude(a, b) if block else lobby.include(a, b))

    @rule(who=users, by_system=st.booleans())
    def end(self, who: Address, by_system: bool) -> None:
        session = self.same(lambda lobby: lobby.session_of(who))
        if session is not None:
            ended_by = None if by_system else who
            self.same(lambda lobby: lobby.end_session(session.id, by=ended_by))  # type: ignore[attr-defined]

    @rule(count=st.integers(1, 3), wait=st.sampled_from((0.0, 5.0, 10.0)))
    def rematch(self, count: int, wait: float) -> None:
        self.now += wait
        ids = [self.new_id() for _ in range(count)]
        self.same(lambda lobby: lobby.rematch(now=self.now, session_ids=ids))

    @rule(max_age=st.sampled_from((5.0, 30.0)))
    def expire(self, max_age: float) -> None:
        self.same(lambda lobby: lobby.expire(now=self.now, max_age=max_age))

    @rule(who=users)
    def resume(self, who: Address) -> None:
        session = self.same(lambda lobby: lobby.session_of(who))
        if session is not None:
            sid = session.id  # type: ignore[attr-defined]
            self.same(lambda lobby: lobby.rebind(sid, who, WorkerId("w2")))

    @rule(burst=st.lists(operations, min_size=2, max_size=8), wait=st.sampled_from((0.0, 4.0)))
    def burst(self, burst: list[tuple[Any, ...]], wait: float) -> None:
        self.now += wait
        calls = [self.call(operation) for operation in burst]
        one_by_one = self.run(_one_by_one(self.lobbies[0], calls))
        for name, lobby in zip(("standalone", "cluster"), self.lobbies[1:], strict=True):
            at_once = self.run(_at_once(lobby, calls))
            assert at_once == one_by_one, (name, burst, one_by_one, at_once)

    def call(self, operation: tuple[Any, ...]) -> Call:
        """The call ``operation`` stands for, made the same on every store."""
        kind, *on = operation
        now = self.now
        if kind == "join":
            entry = QueueEntry(on[0], on[1], on[2], now, WorkerId("w"))
            session_id = self.new_id()
            return lambda lobby: lobby.join(entry, now=now, session_id=session_id)
        if kind == "rematch":
            ids = [self.new_id() for _ in range(on[0])]
            return lambda lobby: lobby.rematch(now=now, session_ids=ids)
        if kind == "expire":
            return lambda lobby: lobby.expire(now=now, max_age=on[0])
        return lambda lobby: _user_call(lobby, kind, *on)

    @invariant()
    def positions_and_stats_agree_and_the_bound_holds(self) -> None:
        if not self.lobbies:
            return
        stats = self.same(lambda lobby: lobby.stats())
        assert sum(stats.queued.values()) <= self.max_queue  # type: ignore[attr-defined]
        for who in USERS:
            self.same(lambda lobby, who=who: lobby.position(who))


async def _one_by_one(lobby: Lobby, calls: list[Call]) -> list[object]:
    return [await outcome(call(lobby)) for call in calls]


async def _at_once(lobby: Lobby, calls: list[Call]) -> list[object]:
    # gather starts the calls in order, each submitting before the next starts: one batch.
    # (A call that itself gathered would submit a turn later, hence in a later batch.)
    return list(await asyncio.gather(*(outcome(call(lobby)) for call in calls)))


async def _user_call(lobby: Lobby, kind: str, *on: Any) -> object:
    if kind == "leave":
        return await lobby.leave(on[0])
    if kind == "exclude":
        a, b, block = on
        await (lobby.exclude(a, b) if block else lobby.include(a, b))
        return None
    if kind == "end":
        who, session_id, by_system = on
        return await lobby.end_session(session_id, by=None if by_system else who)
    if kind == "rebind":
        return await lobby.rebind(on[1], on[0], WorkerId("w2"))
    who, read = on
    if read == "stats":
        return await lobby.stats()
    return await (lobby.position(who) if read == "position" else lobby.session_of(who))


TestThreeLobbies = pytest.mark.redis(
    pytest.mark.usefixtures("_three_lobbies")(ThreeLobbies.TestCase)
)
TestThreeLobbies.settings = settings(
    max_examples=40,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@pytest.fixture
def _three_lobbies(request: pytest.FixtureRequest) -> Iterator[None]:
    ThreeLobbies.standalone = settings_for("standalone", request)
    ThreeLobbies.cluster = settings_for("cluster", request)
    yield
    ThreeLobbies.standalone = ThreeLobbies.cluster = None


@pytest.mark.redis
@pytest.mark.parametrize("backend", ["memory", "standalone", "cluster"])
async def test_a_join_that_pairs_is_never_refused_for_the_bound(
    backend: str, request: pytest.FixtureRequest
) -> None:
    """Defect 3: with ``max_queue=1`` a second join pairs on every store."""
    client = None if backend == "memory" else connect(settings_for(backend, request))
    try:
        if client is not None:
            await flush(client)
        lobby: Lobby = (
            MemoryLobby(POLICY, max_queue=1)
            if client is None
            else RedisLobby(client, POLICY, max_queue=1)
        )
        first = QueueEntry(Address("0xA"), 1, frozenset(), 0.0, WorkerId("w"))
        second = QueueEntry(Address("0xB"), 1, frozenset(), 1.0, WorkerId("w"))
        third = QueueEntry(Address("0xC"), 1, frozenset(), 2.0, WorkerId("w"))
        fourth = QueueEntry(Address("0xD"), 1, frozenset(), 3.0, WorkerId("w"))
        await lobby.join(first, now=0.0, session_id=SessionId("s1"))
        assert isinstance(await lobby.join(second, now=1.0, session_id=SessionId("s2")), Paired)
        await lobby.join(third, now=2.0, session_id=SessionId("s3"))
        assert isinstance(await lobby.join(fourth, now=3.0, session_id=SessionId("s4")), Paired)
    finally:
        if client is not None:
            await close(client)
