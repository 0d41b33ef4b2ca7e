"""The Redis lobby and nonce store: the shared contract and state machine on a standalone Redis
and on a 6-node Redis Cluster, and what only the Redis stores promise."""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import ClassVar

import pytest
from hypothesis import settings as hypothesis_settings
from redis.asyncio import RedisCluster as AsyncRedisCluster

from roulette.config import RedisSettings
from roulette.errors import ConfigError, InvalidState, RouletteError, Unavailable
from roulette.matchmaking.policy import MatchPolicy
from roulette.storage import keys
from roulette.storage.memory import MemoryLobby
from roulette.storage.ports import Lobby, Paired, Queued
from roulette.storage.redis import RedisClient, RedisLobby, RedisNonceStore, close, connect
from storage.conftest import flush, settings_for
from storage.contract import LobbyContract, LobbyMachine, NonceStoreContract, lobby_machine_test
from storage.contract.builders import WAIT, entry, sid, user
from storage.redis_fixtures import RedisServer, running_sentinel


@pytest.fixture
def lobby(redis_client: RedisClient) -> RedisLobby:
    return RedisLobby(redis_client, MatchPolicy())


@pytest.fixture
def nonces(redis_client: RedisClient) -> RedisNonceStore:
    return RedisNonceStore(redis_client)


class TestRedisLobbyContract(LobbyContract):
    """The shared Lobby contract, on each Redis deployment."""


class TestRedisNonceStoreContract(NonceStoreContract):
    """The shared NonceStore contract, on each Redis deployment."""


# ---------------------------------------------------------------- state machine


class RedisLobbyMachine(LobbyMachine):
    """The model-checked state machine; each run gets a client on a flushed Redis."""

    redis: ClassVar[RedisSettings | None] = None

    def open_lobby(self) -> AbstractAsyncContextManager[Lobby]:
        assert self.redis is not None, "the machine's fixture did not run"
        return _fresh_lobby(self.redis)


@asynccontextmanager
async def _fresh_lobby(settings: RedisSettings) -> AsyncIterator[Lobby]:
    client = connect(settings)
    try:
        await flush(client)
        yield RedisLobby(client, MatchPolicy())
    finally:
        await close(client)


class StandaloneLobbyMachine(RedisLobbyMachine):
    pass


class ClusterLobbyMachine(RedisLobbyMachine):
    pass


@pytest.fixture
def _standalone_machine(request: pytest.FixtureRequest) -> Iterator[None]:
    StandaloneLobbyMachine.redis = settings_for("standalone", request)
    yield
    StandaloneLobbyMachine.redis = None


@pytest.fixture
def _cluster_machine(request: pytest.FixtureRequest) -> Iterator[None]:
    ClusterLobbyMachine.redis = settings_for("cluster", request)
    yield
    ClusterLobbyMachine.redis = None


TestStandaloneLobbyMachine = pytest.mark.redis(
    pytest.mark.usefixtures("_standalone_machine")(lobby_machine_test(StandaloneLobbyMachine))
)
TestClusterLobbyMachine = pytest.mark.redis(
    pytest.mark.usefixtures("_cluster_machine")(lobby_machine_test(ClusterLobbyMachine))
)
# The same scripts as on standalone, plus routing: half the examples keep the file fast.
TestClusterLobbyMachine.settings = hypothesis_settings(  # type: ignore[attr-defined]
    TestClusterLobbyMachine.settings,  # type: ignore[attr-defined]
    max_examples=30,
)


# ---------------------------------------------------------------- what only Redis promises


async def test_two_workers_share_one_lobby(redis_client: RedisClient) -> None:
    """Two stores on one Redis are one lobby: users on different workers meet."""
    worker_1 = RedisLobby(redis_client, MatchPolicy())
    worker_2 = RedisLobby(redis_client, MatchPolicy())
    await worker_1.join(entry("a"), now=0.0, session_id=sid(1))
    result = await worker_2.join(entry("b", at=1.0), now=1.0, session_id=sid(2))
    assert isinstance(result, Paired)
    assert await worker_1.session_of(user("a")) == result.session


async def test_a_full_queue_refuses_new_users(redis_client: RedisClient) -> None:
    lobby = RedisLobby(redis_client, MatchPolicy(), max_queue=2)
    await lobby.join(entry("a", interests=["x"]), now=0.0, session_id=sid(1))
    await lobby.join(entry("b", interests=["y"]), now=0.0, session_id=sid(2))
    with pytest.raises(Unavailable) as raised:
        await lobby.join(entry("c", interests=["z"]), now=0.0, session_id=sid(3))
    assert raised.value.code == "queue_full"
    rejoined = await lobby.join(entry("a", at=1.0, interests=["z"]), now=1.0, session_id=sid(4))
    assert rejoined == Queued(position=2)


async def test_a_live_session_id_is_never_reused(lobby: RedisLobby) -> None:
    await lobby.join(entry("a"), now=0.0, session_id=sid(1))
    await lobby.join(entry("b"), now=0.0, session_id=sid(1))
    with pytest.raises(InvalidState):
        await lobby.join(entry("c"), now=0.0, session_id=sid(1))
    with pytest.raises(InvalidState):
        await lobby.rematch(now=0.0, session_ids=[sid(2), sid(2)])
    assert await lobby.position(user("c")) is None


async def test_times_survive_the_round_trip_exactly(lobby: RedisLobby) -> None:
    """Floats travel as repr() strings: no digit is lost to Lua's number formatting."""
    at = 1_700_000_000.123_456_7
    await lobby.join(entry("a", at=at), now=at, session_id=sid(1))
    result = await lobby.join(entry("b", at=at + 1e-6), now=at + 1e-6, session_id=sid(2))
    assert isinstance(result, Paired)
    assert result.session.started_at == at + 1e-6
    assert await lobby.expire(now=at + 1e-6 + 10.0, max_age=10.0) == [result.session]


async def test_the_interest_window_is_judged_on_the_exact_boundary(lobby: RedisLobby) -> None:
    """``now - enqueued_at >= wait`` in Lua agrees with Python's doubles to the last bit.

    Here ``(start + 10.0) - start`` is 9.999999999999996, so the window opens one ulp later.
    """
    start = 25.4458609934608
    reference = MemoryLobby(MatchPolicy())
    for store in (lobby, reference):
        await store.join(entry("a", at=start, interests=["x"]), now=start, session_id=sid(1))
        await store.join(entry("b", at=start, interests=["y"]), now=start, session_id=sid(2))
    closed, opened = start + WAIT, math.nextafter(start + WAIT, math.inf)
    for now, session_id in ((closed, sid(3)), (opened, sid(4))):
        made = await lobby.rematch(now=now, session_ids=[session_id])
        assert made == await reference.rematch(now=now, session_ids=[session_id])
    assert await lobby.session_of(user("a")) is not None


async def test_ties_in_waiting_order_break_by_code_point_not_locale(lobby: RedisLobby) -> None:
    """EIP-55 addresses mix cases; the order must be Python's, never the server's collation."""
    for who in ("b", "B", "a", "A"):
        await lobby.join(entry(who, interests=[who]), now=0.0, session_id=sid(who))
    places = {who: await lobby.position(user(who)) for who in ("A", "B", "a", "b")}
    assert places == {"A": 1, "B": 2, "a": 3, "b": 4}


async def test_queue_names_with_separators_stay_in_their_own_lane(lobby: RedisLobby) -> None:
    await lobby.join(entry("a", queue="x:i:y"), now=0.0, session_id=sid(1))
    await lobby.join(entry("b", queue="x", interests=["y"]), now=0.0, session_id=sid(2))
    assert await lobby.join(entry("c", queue="x:flex"), now=0.0, session_id=sid(3)) == Queued(1)
    result = await lobby.join(entry("d", queue="x:i:y"), now=0.0, session_id=sid(4))
    assert isinstance(result, Paired)
    assert result.session.initiator == user("a")


async def test_every_lobby_key_shares_one_hash_tag(redis_client: RedisClient) -> None:
    lobby = RedisLobby(redis_client, MatchPolicy())
    await lobby.join(entry("a", interests=["x"], queue="q"), now=0.0, session_id=sid(1))
    await lobby.join(entry("b"), now=0.0, session_id=sid(2))
    await lobby.join(entry("c"), now=0.0, session_id=sid(3))
    names = [name.decode() async for name in redis_client.scan_iter(match="rl:*")]
    assert names
    assert all(name.startswith(f"{keys.NAMESPACE}:{{lobby}}:") for name in names)


async def test_a_scan_bound_keeps_a_long_run_of_excluding_users_from_blocking_redis(
    redis_client: RedisClient,
) -> None:
    """Past ``max_scan`` excluding users, the search gives up: the joiner waits instead."""
    lobby = RedisLobby(redis_client, MatchPolicy(), max_scan=16)
    xs = [f"x{n}" for n in range(20)]
    for x in xs:
        e = entry(x, interests=["z"], excluded=[*xs, "j", "late"])
        await lobby.join(e, now=0.0, session_id=sid(x))
    await lobby.join(entry("late", at=1.0, interests=["z"]), now=1.0, session_id=sid("late"))
    joiner = entry("j", at=2.0, interests=["z"])
    assert await lobby.join(joiner, now=2.0, session_id=sid("j")) == Queued(22)


async def test_past_the_lane_scan_bound_a_joiner_without_interests_still_finds_one_without(
    redis_client: RedisClient,
) -> None:
    """Its lane's scan stops at ``max_scan``; the scan of the lane's flexible users goes on."""
    lobby = RedisLobby(redis_client, MatchPolicy(), max_scan=16)
    xs = [f"x{n}" for n in range(20)]
    for x in xs:
        e = entry(x, interests=["z"], excluded=[*xs, "j", "flex"])
        await lobby.join(e, now=0.0, session_id=sid(x))
    await lobby.join(entry("flex", at=1.0), now=1.0, session_id=sid("flex"))
    result = await lobby.join(entry("j", at=2.0), now=2.0, session_id=sid("j"))
    assert isinstance(result, Paired)
    assert (result.session.initiator, result.session.responder) == (user("flex"), user("j"))


async def test_nonces_spread_over_the_shards(redis_client: RedisClient) -> None:
    if not isinstance(redis_client, AsyncRedisCluster):
        pytest.skip("a standalone Redis has one shard")
    nonces = RedisNonceStore(redis_client)
    for n in range(30):
        await nonces.issue(f"spread{n:012}", now=0.0, ttl=60.0)
    sizes = [await redis_client.dbsize(target_nodes=node) for node in redis_client.get_primaries()]
    assert len(sizes) == 3
    assert all(size > 0 for size in sizes)


async def test_a_nonce_key_expires_in_redis_too(redis_client: RedisClient) -> None:
    nonces = RedisNonceStore(redis_client)
    await nonces.issue("expiring0000000001", now=0.0, ttl=60.0)
    ttl_ms = await redis_client.pttl(keys.nonce("expiring0000000001"))
    assert 60_000 < ttl_ms <= (60 + keys.NONCE_GRACE_SECONDS) * 1000


async def test_many_concurrent_joins_from_many_stores_leave_no_one_twice(
    redis_client: RedisClient,
) -> None:
    """Four workers racing 400 joins with interests: every user in one place."""
    workers = [RedisLobby(redis_client, MatchPolicy()) for _ in range(4)]
    joins = [
        workers[n % 4].join(
            entry(f"u{n}", at=1.0, interests=[f"t{n % 3}"]), now=1.0, session_id=sid(n)
        )
        for n in range(400)
    ]
    results = await asyncio.gather(*joins)
    sessions = [r.session for r in results if isinstance(r, Paired)]
    members = [a for s in sessions for a in (s.initiator, s.responder)]
    assert len(members) == len(set(members))
    stats = await workers[0].stats()
    assert stats.active_sessions == len(sessions)
    assert sum(stats.queued.values()) == 400 - len(members)


async def test_non_ascii_interests_survive_a_block_rewrite(lobby: RedisLobby) -> None:
    await lobby.join(entry("a", interests=["über", "ß"]), now=0.0, session_id=sid(1))
    await lobby.exclude(user("a"), user("c"))
    await lobby.join(entry("c", interests=["ß"]), now=1.0, session_id=sid(2))
    result = await lobby.join(entry("b", at=2.0, interests=["über"]), now=2.0, session_id=sid(3))
    assert isinstance(result, Paired)
    assert result.session.initiator == user("a")


async def _outcome(call: Awaitable[object]) -> object:
    try:
        return await call
    except RouletteError as error:
        return (type(error).__name__, error.code)


async def test_redis_and_memory_agree_over_a_long_random_run(lobby: RedisLobby) -> None:
    """A differential test at a larger scale than the state machine: 60 users, 6 topics,
    two chains and a named queue, every call compared with ``MemoryLobby``."""
    rng = random.Random(20_240_501)
    stores: tuple[Lobby, Lobby] = (lobby, MemoryLobby(MatchPolicy()))
    blocks: set[tuple[str, str]] = set()
    now, made = 0.0, 0
    calls: list[Awaitable[object]]
    for _ in range(1200):
        now += rng.choice((0.0, 0.0, 0.5, 1.0, 3.0))
        who, other = (f"u{rng.randrange(60)}" for _ in range(2))
        roll = rng.random()
        if roll < 0.55:
            e = entry(
                who,
                at=now,
                chain=rng.choice((1, 1, 2)),
                queue=rng.choice((None, None, "gated")),
                interests=rng.sample([f"t{k}" for k in range(6)], rng.randrange(3)),
                excluded=[b if a == who else a for a, b in blocks if who in (a, b)],
            )
            made += 1
            calls = [s.join(e, now=now, session_id=sid(made)) for s in stores]
        elif roll < 0.62:
            calls = [s.leave(user(who)) for s in stores]
        elif roll < 0.70 and who != other:
            blocks.add((who, other))
            calls = [s.exclude(user(who), user(other)) for s in stores]
        elif roll < 0.75 and blocks:
            a, b = sorted(blocks)[rng.randrange(len(blocks))]
            blocks.discard((a, b))
            calls = [s.include(user(a), user(b)) for s in stores]
        elif roll < 0.84:
            session = await stores[1].session_of(user(who))
            ended = session.id if session else sid("none")
            calls = [s.end_session(ended, by=user(who)) for s in stores]
        elif roll < 0.94:
            ids = [sid(f"r{made}-{k}") for k in range(rng.randrange(1, 5))]
            made += 1
            calls = [s.rematch(now=now, session_ids=ids) for s in stores]
        else:
            max_age = rng.choice((5.0, 20.0))
            calls = [s.expire(now=now, max_age=max_age) for s in stores]
        ours, reference = [await _outcome(call) for call in calls]
        assert ours == reference
    assert await stores[0].stats() == await stores[1].stats()
    for n in range(60):
        assert await stores[0].position(user(f"u{n}")) == await stores[1].position(user(f"u{n}"))


# ---------------------------------------------------------------- configuration


def test_no_redis_configured_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        connect(RedisSettings())


def test_a_cluster_without_nodes_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        connect(RedisSettings(cluster_enabled=True))


async def test_a_cluster_may_start_from_the_url_alone() -> None:
    client = connect(RedisSettings(url="redis://127.0.0.1:7999/0", cluster_enabled=True))
    try:
        assert isinstance(client, AsyncRedisCluster)
        nodes = client.nodes_manager.startup_nodes.values()
        assert [(n.host, n.port) for n in nodes] == [("127.0.0.1", 7999)]
    finally:
        await close(client)


async def test_a_sentinel_managed_master_serves_the_lobby(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    with running_sentinel(tmp_path / "sentinel", redis_server, "roulette") as port:
        settings = RedisSettings(sentinels=(("127.0.0.1", port),), sentinel_master="roulette")
        client = connect(settings)
        try:
            await flush(client)
            lobby = RedisLobby(client, MatchPolicy())
            await lobby.join(entry("a"), now=0.0, session_id=sid(1))
            result = await lobby.join(entry("b"), now=1.0, session_id=sid(2))
            assert isinstance(result, Paired)
            assert result.session.initiator == user("a")
        finally:
            await close(client)
