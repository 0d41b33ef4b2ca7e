"""Membership reaps a dead worker's sessions, but never right after the store was found
reset or after its own beats failed (issue 9, defect 8): every live worker must have had
time to beat again first."""

from __future__ import annotations

from gateway.test_hub import Socket
from roulette.gateway.hub import Hub
from roulette.identity import Address, SessionId, WorkerId
from roulette.matchmaking.lifecycle import Phase
from roulette.matchmaking.records import Session
from roulette.runtime.membership import (
    CONFIRM_SECONDS,
    NOTICE_SECONDS,
    RESET_HOLD_SECONDS,
    TTL_SECONDS,
    Membership,
)
from roulette.storage.memory_bus import MemoryWorkerRegistry
from roulette.storage.ports import WorkerInfo

A, B = Address("0xA"), Address("0xB")
SESSION = Session(SessionId("s1"), 1, A, B, WorkerId("here"), WorkerId("there"), 0.0)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def setup() -> tuple[Membership, MemoryWorkerRegistry, Socket, Clock]:
    clock = Clock()
    registry = MemoryWorkerRegistry(clock=clock)
    hub = Hub("here")
    a = Socket(A, session=SESSION, phase=Phase.PAIRED)
    hub.register(a)  # type: ignore[arg-type]
    return Membership(registry, hub, started_at=0.0, clock=clock), registry, a, clock


async def test_a_dead_peer_worker_is_reaped_after_the_start_up_hold() -> None:
    membership, _, a, clock = setup()
    assert await membership.beat_once() == 0  # just started: on hold
    clock.now += RESET_HOLD_SECONDS
    assert await membership.beat_once() == 0  # "there" never beat: missing, not yet for long
    clock.now += CONFIRM_SECONDS
    assert await membership.beat_once() == 1  # missing long enough: its users' peers are told
    assert a.told == [("gone", 0)]


async def test_a_worker_whose_beats_lapse_briefly_is_not_reaped() -> None:
    """A live worker's beats may fail for seconds while a Redis Cluster fails over: its key
    lapses, but it beats again before :data:`CONFIRM_SECONDS` pass (seen in the master-kill
    loop of tests/cluster/test_faults.py: a false ``peer-disconnected`` to live users)."""
    membership, registry, a, clock = setup()
    clock.now += RESET_HOLD_SECONDS
    await registry.beat(info("there"), ttl=TTL_SECONDS)
    assert await membership.beat_once() == 0
    clock.now += TTL_SECONDS + 0.5  # "there" missed its beats: its key expired
    assert await membership.beat_once() == 0  # missing, but only just
    clock.now += CONFIRM_SECONDS - 1.0
    assert await membership.beat_once() == 0
    await registry.beat(info("there"), ttl=TTL_SECONDS)  # its Redis client recovered
    clock.now += 1.0
    assert await membership.beat_once() == 0
    clock.now += CONFIRM_SECONDS
    await registry.beat(info("there"), ttl=TTL_SECONDS)
    assert await membership.beat_once() == 0  # the earlier absence does not count any more
    assert a.told == []


def info(worker_id: str) -> WorkerInfo:
    return WorkerInfo(worker_id=worker_id, host="h", pid=1, connections=0, started_at=0.0)


async def test_a_store_found_empty_holds_reaping_until_everyone_beat_again() -> None:
    membership, registry, a, clock = setup()
    clock.now += RESET_HOLD_SECONDS
    await registry.beat(info("there"), ttl=TTL_SECONDS)
    assert await membership.beat_once() == 0  # "there" is alive
    registry.forget_everything()  # Redis restarted empty: every membership key is gone
    assert await membership.beat_once() == 0  # "there" looks dead, but the reset was seen
    assert membership.resets == 1
    clock.now += 1.0
    assert await membership.beat_once() == 0  # still on hold
    clock.now += RESET_HOLD_SECONDS
    await registry.beat(info("there"), ttl=TTL_SECONDS)  # it noticed too, and beats again
    assert await membership.beat_once() == 0
    assert a.told == []  # no false peer-disconnected


async def test_sign_in_notices_go_to_every_worker_seen_lately_even_one_that_missed_beats() -> None:
    """Issue 10, hole 3: a worker that missed a beat or two (a loaded host) must still hear that
    a wallet signed in elsewhere, or it would keep the wallet's older socket open."""
    membership, registry, _, clock = setup()
    await registry.beat(info("there"), ttl=TTL_SECONDS)
    await membership.beat_once()
    assert membership.hub.workers == {"here", "there"}
    clock.now += TTL_SECONDS + 1.0  # "there" missed its beats: no longer alive ...
    await membership.beat_once()
    assert membership.hub.workers == {"here", "there"}  # ... but still told
    clock.now += NOTICE_SECONDS
    await membership.beat_once()
    assert membership.hub.workers == {"here"}  # gone for a minute: forgotten
