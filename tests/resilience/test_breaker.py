"""The circuit breaker state machine, the guard around a store, and the shedding rule."""

from __future__ import annotations

import pytest

from roulette.errors import Unavailable
from roulette.resilience.breaker import Breaker, BreakerState
from roulette.resilience.guard import Guard, guarded
from roulette.resilience.shedding import LoopLag, ShedPolicy, should_shed


def test_opens_at_threshold_and_half_opens_after_reset() -> None:
    breaker = Breaker("redis", threshold=3, reset_seconds=10)
    for now in (0, 1):
        breaker.failure(now)
        assert breaker.state(now) is BreakerState.CLOSED
    breaker.failure(2)
    assert breaker.state(2) is BreakerState.OPEN
    assert not breaker.allow(5)
    assert breaker.state(12) is BreakerState.HALF_OPEN
    assert breaker.allow(12)  # one trial
    assert not breaker.allow(12)  # only one
    breaker.success()
    assert breaker.state(12) is BreakerState.CLOSED
    assert breaker.opened_count == 1


def test_a_failed_trial_opens_again_for_a_full_period() -> None:
    breaker = Breaker("sql", threshold=1, reset_seconds=10)
    breaker.failure(0)
    assert breaker.allow(10)
    breaker.failure(10)
    assert breaker.state(15) is BreakerState.OPEN
    assert breaker.state(20) is BreakerState.HALF_OPEN
    assert breaker.opened_count == 2


def test_success_resets_the_count() -> None:
    breaker = Breaker("redis", threshold=2)
    breaker.failure(0)
    breaker.success()
    breaker.failure(1)
    assert breaker.state(1) is BreakerState.CLOSED


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
    clock = [0.0]
    store = _Store()
    guard = Guard(Breaker("redis", 2, 5.0), (Unavailable,), lambda: clock[0], "state_unavailable")
    proxy = guarded(store, guard)
    assert await proxy.get("a") == "A"
    assert proxy.label == "store"  # plain attributes pass through
    store.down = True
    for _ in range(2):
        with pytest.raises(Unavailable):
            await proxy.get("a")
    calls = store.calls
    with pytest.raises(Unavailable, match="redis is unavailable"):
        await proxy.get("a")
    assert store.calls == calls  # open: the store was not called
    store.down = False
    clock[0] = 5.0
    assert await proxy.get("b") == "B"  # the half-open trial succeeds
    assert guard.breaker.state(clock[0]) is BreakerState.CLOSED
    for _ in range(3):  # a caller's mistake never opens it
        with pytest.raises(ValueError, match="mistake"):
            await proxy.bad_input()
    assert guard.breaker.state(clock[0]) is BreakerState.CLOSED


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
