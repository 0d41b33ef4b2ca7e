"""The circuit breaker state machine, the guard around a store, and the shedding rule."""

from __future__ import annotations

import asyncio

import pytest

from roulette.errors import Unavailable
from roulette.resilience.breaker import Breaker, BreakerState
from roulette.resilience.guard import Guard, guarded
from roulette.resilience.shedding import LoopLag, ShedPolicy, should_shed


def state_of(breaker: Breaker) -> BreakerState:
    """The breaker's state, read afresh (a call in between may have changed it)."""
    return breaker.state


def test_opens_at_threshold_then_one_probe_at_a_time() -> None:
    breaker = Breaker("redis", threshold=3)
    for _ in range(2):
        breaker.failure()
        assert state_of(breaker) is BreakerState.CLOSED
    breaker.failure()
    assert state_of(breaker) is BreakerState.OPEN
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # everyone else fails fast meanwhile
    breaker.failure()  # the probe failed: still open, the next caller probes
    assert state_of(breaker) is BreakerState.OPEN
    assert breaker.allow()
    breaker.success()
    assert state_of(breaker) is BreakerState.CLOSED
    assert breaker.allow()
    assert breaker.opened_count == 1


def test_a_probe_ended_by_the_caller_frees_the_slot() -> None:
    breaker = Breaker("sql", threshold=1)
    breaker.failure()
    assert breaker.allow()
    breaker.release()
    assert breaker.allow()
    assert state_of(breaker) is BreakerState.OPEN


def test_success_resets_the_count() -> None:
    breaker = Breaker("redis", threshold=2)
    breaker.failure()
    breaker.success()
    breaker.failure()
    assert state_of(breaker) is BreakerState.CLOSED


class _Store:
    """A store whose dependency can be made to fail."""

    def __init__(self) -> None:
        self.down = False
        self.calls = 0
        self.label = "store"

    async def get(self, key: str) -> str:
        self.calls += 1
        if self.down:
            raise Unavailable("down", code="state_unavailable")
        return key.upper()

    async def bad_input(self) -> None:
        raise ValueError("the caller's mistake")


async def test_guard_fails_fast_while_open_and_recovers() -> None:
    store = _Store()
    guard = Guard(Breaker("redis", 2), (Unavailable,), "state_unavailable")
    proxy = guarded(store, guard)
    assert await proxy.get("a") == "A"
    assert proxy.label == "store"  # plain attributes pass through
    store.down = True
    for _ in range(2):
        with pytest.raises(Unavailable):
            await proxy.get("a")
    assert state_of(guard.breaker) is BreakerState.OPEN

    # A slow probe in flight: every other caller fails at once, without touching the store.
    store.down = False
    gate = asyncio.Event()

    async def slow() -> str:
        await gate.wait()
        return "slow"

    probe = asyncio.create_task(guard.call(slow))
    await asyncio.sleep(0)
    calls = store.calls
    with pytest.raises(Unavailable, match="redis is unavailable"):
        await proxy.get("a")
    assert store.calls == calls
    gate.set()
    assert await probe == "slow"  # the probe succeeded: closed
    assert state_of(guard.breaker) is BreakerState.CLOSED
    assert await proxy.get("b") == "B"
    for _ in range(3):  # a caller's mistake never opens it
        with pytest.raises(ValueError, match="mistake"):
            await proxy.bad_input()
    assert state_of(guard.breaker) is BreakerState.CLOSED


@pytest.mark.parametrize(
    ("lag", "in_use", "capacity", "shed"),
    [
        (0.0, 0, 100, False),
        (0.6, 0, 100, True),
        (0.0, 94, 100, False),
        (0.0, 95, 100, True),
        (0.0, 5, 0, False),
    ],
)
def test_should_shed(lag: float, in_use: int, capacity: int, shed: bool) -> None:
    policy = ShedPolicy(max_lag_seconds=0.5, socket_fraction=0.95)
    assert should_shed(policy, lag_seconds=lag, in_use=in_use, capacity=capacity) is shed


def test_lag_is_smoothed() -> None:
    lag = LoopLag(smoothing=0.5)
    lag.observe(1.0)
    assert lag.seconds == 0.5
    lag.observe(-0.1)  # early wake-ups count as no lag
    assert lag.seconds == 0.25
