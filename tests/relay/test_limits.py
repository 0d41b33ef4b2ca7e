"""Per-socket limits: pure, table-driven, with time as an argument (no loop, no sleeps)."""

from __future__ import annotations

import tracemalloc

import pytest

import roulette.relay
from roulette.relay.limits import Cooldown, MessageLimiter, TokenBucket, Verdict

ALLOW, REFUSE, CLOSE = Verdict.ALLOW, Verdict.REFUSE, Verdict.CLOSE


def test_the_package_exports_the_limits() -> None:
    assert set(roulette.relay.__all__) >= {"Cooldown", "MessageLimiter", "TokenBucket", "Verdict"}
    assert roulette.relay.MessageLimiter is MessageLimiter


# ---------------------------------------------------------------- token bucket


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ([(0.0, 1.0)] * 4, [True, True, True, False]),
        ([(100.0, 3.0), (100.0, 1.0), (100.5, 1.0), (100.5, 1.0)], [True, False, True, False]),
        ([(0.0, 3.0), (1000.0, 3.0), (1000.0, 1.0)], [True, True, False]),
        ([(0.0, 2.0), (0.0, 2.0), (0.0, 1.0)], [True, False, True]),
        ([(0.0, 4.0)], [False]),
        ([(10.0, 3.0), (5.0, 1.0), (10.5, 1.0)], [True, False, True]),
        ([(0.0, 0.5)] * 7, [True] * 6 + [False]),
    ],
    ids=[
        "starts-full",
        "refills-at-its-rate",
        "never-beyond-capacity",
        "a-refused-cost-takes-nothing",
        "a-cost-over-capacity",
        "clock-going-back-refills-nothing",
        "fractional-costs",
    ],
)
def test_a_token_bucket_of_three_refilled_at_two_per_second(
    steps: list[tuple[float, float]], expected: list[bool]
) -> None:
    bucket = TokenBucket(capacity=3, rate=2)
    assert [bucket.allow(now, cost) for now, cost in steps] == expected


@pytest.mark.parametrize(("capacity", "rate"), [(0, 1), (1, 0), (-1, 1), (1, float("nan"))])
def test_a_token_bucket_needs_a_positive_capacity_and_rate(capacity: float, rate: float) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        TokenBucket(capacity, rate)


# ---------------------------------------------------------------- cooldown


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        ([0.0, 1.9, 2.0], [True, False, True]),
        ([5.0, 6.0, 6.9, 7.0], [True, False, False, True]),
        ([1e9, 1e9], [True, False]),
    ],
    ids=["at-most-once-per-interval", "refusals-do-not-restart-it", "any-clock-origin"],
)
def test_next_at_most_once_per_two_seconds(times: list[float], expected: list[bool]) -> None:
    cooldown = Cooldown(2.0)
    assert [cooldown.allow(now) for now in times] == expected


# ---------------------------------------------------------------- message limiter


def verdicts(limiter: MessageLimiter, times: list[float]) -> list[Verdict]:
    return [limiter.record(now) for now in times]


def test_a_burst_of_sixty_passes_then_the_next_is_refused() -> None:
    assert verdicts(MessageLimiter(), [0.0] * 61) == [ALLOW] * 60 + [REFUSE]


def test_twenty_messages_a_second_pass_for_a_minute() -> None:
    times = [n / 20 for n in range(20 * 60)]
    assert set(verdicts(MessageLimiter(), times)) == {ALLOW}


def test_a_burst_on_top_of_a_sustained_rate_passes() -> None:
    limiter = MessageLimiter()
    steady = verdicts(limiter, [n / 20 for n in range(200)])
    burst = verdicts(limiter, [10.0] * 59)
    assert set(steady + burst) == {ALLOW}


def test_a_flood_is_refused_fifty_times_then_closed() -> None:
    assert verdicts(MessageLimiter(), [0.0] * 112) == [ALLOW] * 60 + [REFUSE] * 50 + [CLOSE] * 2


def test_refusals_are_forgiven_over_the_window() -> None:
    limiter = MessageLimiter()
    verdicts(limiter, [0.0] * 110)
    assert verdicts(limiter, [10.0]) == [ALLOW]
    assert verdicts(limiter, [10.0] * 110) == [ALLOW] * 59 + [REFUSE] * 50 + [CLOSE]


@pytest.mark.parametrize(("rate", "closed"), [(24.0, False), (40.0, True)])
def test_only_sustained_excess_closes(rate: float, closed: bool) -> None:
    """Slightly over 20/s is only slowed down; twice the rate is closed within a minute."""
    times = [n / rate for n in range(int(rate * 60))]
    assert (CLOSE in verdicts(MessageLimiter(), times)) is closed


def test_the_limits_follow_the_configuration() -> None:
    limiter = MessageLimiter(burst=2, per_second=1, max_refusals=1, refusal_window=1)
    assert verdicts(limiter, [0.0] * 4 + [1.0, 2.0, 2.0]) == [
        ALLOW,
        ALLOW,
        REFUSE,
        CLOSE,
        ALLOW,
        ALLOW,
        REFUSE,
    ]


def test_a_message_may_weigh_more_than_one() -> None:
    limiter = MessageLimiter(burst=10, per_second=1)
    assert [limiter.record(0.0, cost=4.0) for _ in range(3)] == [ALLOW, ALLOW, REFUSE]


# ---------------------------------------------------------------- memory per socket


def test_per_socket_state_is_small() -> None:
    """A node holds one limiter and one cooldown per socket; 10,000 sockets stay under 5 MB."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        held = [(MessageLimiter(), Cooldown(2.0)) for _ in range(10_000)]
        for limiter, cooldown in held:
            limiter.record(1.0)
            cooldown.allow(1.0)
        per_socket = (tracemalloc.get_traced_memory()[0] - before) / len(held)
    finally:
        tracemalloc.stop()
    assert per_socket < 500
    assert not hasattr(held[0][0], "__dict__")
    assert not hasattr(held[0][1], "__dict__")


def test_a_spent_budget_owes_the_time_until_it_is_whole_again() -> None:
    limiter = MessageLimiter(burst=60, per_second=20)
    assert limiter.debt(10.0) == 0.0
    for _ in range(60):
        limiter.record(10.0)
    assert limiter.debt(10.0) == pytest.approx(3.0)
    assert limiter.debt(11.0) == pytest.approx(2.0)
    assert limiter.debt(14.0) == 0.0


def test_an_inherited_debt_refuses_what_the_old_socket_would_have() -> None:
    old, new = MessageLimiter(burst=60, per_second=20), MessageLimiter(burst=60, per_second=20)
    for _ in range(60):
        assert old.record(0.0) is Verdict.ALLOW
    new.inherit(old.debt(0.0), 500.0)  # another socket, another worker, another clock
    assert new.record(500.0) is Verdict.REFUSE
    assert new.record(500.1) is Verdict.ALLOW  # the sustained rate goes on: 20/s
    new.inherit(0.5, 500.1)  # a smaller (older) debt lowers nothing
    assert new.debt(500.1) == pytest.approx(2.95)


def test_a_heavy_senders_debt_is_reported_as_it_grows_a_light_ones_never() -> None:
    limiter = MessageLimiter(burst=60, per_second=20)
    due = [limiter.report_due(0.0) for _ in range(60) if limiter.record(0.0) is Verdict.ALLOW]
    # At half the burst (message 30: 30 × 0.05 s sums a hair over 1.5 s), then a quarter
    # further (message 46); messages 47-60 add less than another quarter.
    assert [n for n, report in enumerate(due, 1) if report] == [30, 46]
    light = MessageLimiter(burst=60, per_second=20)
    for n in range(600):  # 10 messages a second for a minute: never half spent
        light.record(n / 10)
        assert not light.report_due(n / 10)
