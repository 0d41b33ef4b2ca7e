"""The in-process stores: the shared contract, and what only the memory stores promise."""

from __future__ import annotations

from collections.abc import AsyncIterator, Coroutine
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

from roulette.errors import InvalidState, Unavailable
from roulette.matchmaking.policy import MatchPolicy
from roulette.matchmaking.records import QueueEntry
from roulette.storage.memory import MemoryLobby, MemoryNonceStore
from roulette.storage.ports import Lobby, NonceStore, Paired, Queued
from storage.contract import LobbyContract, LobbyMachine, NonceStoreContract, lobby_machine_test
from storage.contract.builders import WAIT, entry, sid, user

T = TypeVar("T")


@pytest.fixture
def lobby() -> MemoryLobby:
    return MemoryLobby(MatchPolicy())


@pytest.fixture
def nonces() -> MemoryNonceStore:
    return MemoryNonceStore()


class TestMemoryLobbyContract(LobbyContract):
    """The shared Lobby contract, in process."""


class TestMemoryNonceStoreContract(NonceStoreContract):
    """The shared NonceStore contract, in process."""


@asynccontextmanager
async def _fresh_lobby() -> AsyncIterator[Lobby]:
    yield MemoryLobby(MatchPolicy())


class MemoryLobbyMachine(LobbyMachine):
    def open_lobby(self) -> AbstractAsyncContextManager[Lobby]:
        return _fresh_lobby()


TestMemoryLobbyMachine = lobby_machine_test(MemoryLobbyMachine)


def in_one_step(call: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that must finish without ever suspending, as one atomic step."""
    try:
        call.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    call.close()
    raise AssertionError("the store suspended mid-operation")


# ---------------------------------------------------------------- atomicity


def test_every_lobby_operation_finishes_without_suspending() -> None:
    lobby = MemoryLobby(MatchPolicy())
    a, b = user("a"), user("b")
    in_one_step(lobby.join(entry("a", interests=["x"]), now=0.0, session_id=sid(1)))
    in_one_step(lobby.exclude(a, b))
    in_one_step(lobby.include(a, b))
    assert in_one_step(lobby.position(a)) == 1
    result = in_one_step(lobby.join(entry("b"), now=1.0, session_id=sid(2)))
    assert isinstance(result, Paired)
    assert in_one_step(lobby.session_of(a)) == result.session
    assert in_one_step(lobby.session(sid(2))) == result.session
    assert in_one_step(lobby.rematch(now=20.0, session_ids=[sid(3)])) == []
    assert in_one_step(lobby.expire(now=20.0, max_age=100.0)) == []
    assert in_one_step(lobby.end_session(sid(2), by=a)) == result.session
    assert in_one_step(lobby.leave(a)) is False
    assert in_one_step(lobby.stats()).active_sessions == 0


def test_every_nonce_operation_finishes_without_suspending() -> None:
    nonces = MemoryNonceStore()
    in_one_step(nonces.issue("atomic000000000001", now=0.0, ttl=10.0))
    assert in_one_step(nonces.consume("atomic000000000001", now=1.0)) is True


# ---------------------------------------------------------------- bounds


async def test_a_full_queue_refuses_new_users() -> None:
    lobby = MemoryLobby(MatchPolicy(), max_queue=2)
    await lobby.join(entry("a", interests=["x"]), now=0.0, session_id=sid(1))
    await lobby.join(entry("b", interests=["y"]), now=0.0, session_id=sid(2))
    with pytest.raises(Unavailable) as raised:
        await lobby.join(entry("c", interests=["z"]), now=0.0, session_id=sid(3))
    assert raised.value.code == "queue_full"
    assert await lobby.position(user("c")) is None


async def test_a_full_queue_still_takes_a_rejoin() -> None:
    lobby = MemoryLobby(MatchPolicy(), max_queue=2)
    await lobby.join(entry("a", interests=["x"]), now=0.0, session_id=sid(1))
    await lobby.join(entry("b", interests=["y"]), now=0.0, session_id=sid(2))
    rejoined = await lobby.join(entry("a", at=1.0, interests=["z"]), now=1.0, session_id=sid(3))
    assert rejoined == Queued(position=2)


async def test_a_full_queue_still_pairs_a_user_who_can_pair() -> None:
    """Pairing shrinks the queue, so a full queue must not refuse it."""
    lobby = MemoryLobby(MatchPolicy(), max_queue=1)
    await lobby.join(entry("a"), now=0.0, session_id=sid(1))
    assert isinstance(await lobby.join(entry("b"), now=0.0, session_id=sid(2)), Paired)


def test_the_memory_stores_implement_the_ports() -> None:
    lobby: Lobby = MemoryLobby(MatchPolicy())
    nonces: NonceStore = MemoryNonceStore()
    assert lobby is not None
    assert nonces is not None


async def test_a_live_session_id_is_never_reused() -> None:
    lobby = MemoryLobby(MatchPolicy())
    await lobby.join(entry("a"), now=0.0, session_id=sid(1))
    await lobby.join(entry("b"), now=0.0, session_id=sid(1))
    with pytest.raises(InvalidState):
        await lobby.join(entry("c"), now=0.0, session_id=sid(1))
    with pytest.raises(InvalidState):
        await lobby.rematch(now=0.0, session_ids=[sid(2), sid(2)])
    assert await lobby.position(user("c")) is None


async def test_many_ended_sessions_leave_expiry_exact() -> None:
    """Ended sessions linger in the expiry heap until it is rebuilt; expiry stays exact."""
    lobby = MemoryLobby(MatchPolicy())
    for n in range(300):
        await lobby.join(entry(f"a{n}"), now=float(n), session_id=sid(f"a{n}"))
        await lobby.join(entry(f"b{n}"), now=float(n), session_id=sid(n))
        if n % 10:
            await lobby.end_session(sid(n), by=None)
    expired = await lobby.expire(now=1000.0, max_age=900.0)
    assert [s.id for s in expired] == [sid(n) for n in range(0, 101, 10)]
    assert (await lobby.stats()).active_sessions == 30 - 11


async def test_the_nonce_cap_evicts_the_oldest() -> None:
    nonces = MemoryNonceStore(max_nonces=3)
    for n in range(4):
        await nonces.issue(f"cap{n}", now=float(n), ttl=100.0)
    assert len(nonces) == 3
    assert await nonces.consume("cap0", now=5.0) is False
    assert await nonces.consume("cap1", now=5.0) is True


async def test_expired_nonces_are_purged_when_new_ones_are_issued() -> None:
    nonces = MemoryNonceStore()
    for n in range(5):
        await nonces.issue(f"old{n}", now=0.0, ttl=10.0)
    await nonces.issue("fresh", now=10.0, ttl=10.0)
    assert len(nonces) == 1


async def test_a_long_lived_nonce_shelters_expired_ones_only_until_it_expires() -> None:
    nonces = MemoryNonceStore()
    await nonces.issue("long", now=0.0, ttl=100.0)
    await nonces.issue("short", now=0.0, ttl=1.0)
    await nonces.issue("next", now=50.0, ttl=100.0)
    assert len(nonces) == 3
    await nonces.issue("later", now=100.0, ttl=100.0)
    assert len(nonces) == 2


# ---------------------------------------------------------------- scale


@dataclass(frozen=True, slots=True)
class CountingPolicy(MatchPolicy):
    """The default rules, counting how many pairs of users they compare."""

    comparisons: list[int] = field(default_factory=lambda: [0])

    def is_compatible(self, a: QueueEntry, b: QueueEntry) -> bool:
        self.comparisons[0] += 1
        return MatchPolicy.is_compatible(self, a, b)


async def test_joins_and_rematch_do_not_scan_the_queue() -> None:
    """10,000 users who cannot meet yet: each join and each rematch step compares a few."""
    policy = CountingPolicy()
    lobby = MemoryLobby(policy)
    n = 10_000
    for i in range(n):
        queued = await lobby.join(
            entry(f"u{i}", at=i / 10_000, interests=[f"topic{i}"]),
            now=i / 10_000,
            session_id=sid(i),
        )
        assert queued == Queued(position=i + 1)
    assert policy.comparisons[0] < 5 * n
    made = await lobby.rematch(now=WAIT + 1, session_ids=[sid(f"r{i}") for i in range(n // 2)])
    assert len(made) == n // 2
    assert (made[0].initiator, made[0].responder) == (user("u0"), user("u1"))
    assert policy.comparisons[0] < 10 * n
