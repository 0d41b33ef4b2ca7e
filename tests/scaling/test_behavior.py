"""Stabilization windows, rate policies and bounds, with the documentation's examples."""

from __future__ import annotations

import pytest

from roulette.scaling.behavior import (
    DEFAULT_BEHAVIOR,
    Behavior,
    Bounds,
    Direction,
    PolicyKind,
    RatePolicy,
    Recommendation,
    ScaleChange,
    SelectPolicy,
    limit_rate,
    stabilize,
)

WIDE = Bounds(1, 1000)

DOCS_DOWN = Behavior(
    up=DEFAULT_BEHAVIOR.up,
    down=Direction(
        0.0,
        (RatePolicy(PolicyKind.PODS, 4, 60), RatePolicy(PolicyKind.PERCENT, 10, 60)),
        SelectPolicy.MAX,
    ),
)


def test_the_documented_scale_down_from_80_to_10_takes_8_then_8_then_4() -> None:
    """Docs, "Scaling policies": 80 replicas → 72 (10 %); at 72, 7.2 rounds up to 8 → 64; below
    40 replicas the Pods policy (4) allows more and applies."""
    steps, current, now = [], 80, 0.0
    while current > 10:
        current, _ = limit_rate(10, current, changes=(), behavior=DOCS_DOWN, bounds=WIDE, now=now)
        steps.append(current)
        now += 60
    assert steps == [72, 64, 57, 51, 45, 40, 36, 32, 28, 24, 20, 16, 12, 10]


def test_changes_within_the_period_count_against_the_policy() -> None:
    changes = [ScaleChange(50.0, -8)]  # 80 → 72 ten seconds ago
    allowed, reason = limit_rate(10, 72, changes=changes, behavior=DOCS_DOWN, bounds=WIDE, now=60.0)
    assert allowed == 72  # the period started at 80 and 10 % of it is already used
    assert reason is not None


@pytest.mark.parametrize(
    ("current", "desired", "expected"),
    [
        # Default scale-up: max(100 %, 4 pods) per 15 s.
        (1, 20, 5),  # 1 + 4 beats 2 × 1
        (10, 50, 20),  # 100 % beats 4
        (3, 4, 4),
    ],
)
def test_default_scale_up_policies(current: int, desired: int, expected: int) -> None:
    allowed, _ = limit_rate(
        desired, current, changes=(), behavior=DEFAULT_BEHAVIOR, bounds=WIDE, now=0
    )
    assert allowed == expected


def test_select_min_picks_the_smallest_change() -> None:
    up = Direction(
        0,
        (RatePolicy(PolicyKind.PODS, 4, 15), RatePolicy(PolicyKind.PERCENT, 100, 15)),
        SelectPolicy.MIN,
    )
    behavior = Behavior(up=up, down=DEFAULT_BEHAVIOR.down)
    assert limit_rate(50, 10, changes=(), behavior=behavior, bounds=WIDE, now=0)[0] == 14


def test_disabled_direction_never_moves() -> None:
    down = Direction(0, (RatePolicy(PolicyKind.PERCENT, 100, 15),), SelectPolicy.DISABLED)
    behavior = Behavior(up=DEFAULT_BEHAVIOR.up, down=down)
    assert limit_rate(1, 8, changes=(), behavior=behavior, bounds=WIDE, now=0)[0] == 8


@pytest.mark.parametrize(
    ("desired", "current", "expected", "reason"),
    [
        (12, 8, 10, "capped at MAX_INSTANCES=10"),
        (1, 3, 2, "held at MIN_INSTANCES=2"),
        (5, 5, 5, None),
        (1, 1, 2, "held at MIN_INSTANCES=2"),  # below the floor: raised to it
    ],
)
def test_bounds(desired: int, current: int, expected: int, reason: str | None) -> None:
    allowed, why = limit_rate(
        desired, current, changes=(), behavior=DEFAULT_BEHAVIOR, bounds=Bounds(2, 10), now=0
    )
    assert allowed == expected
    if reason is not None:
        assert why == reason


def test_scale_down_follows_the_highest_recommendation_of_its_window() -> None:
    history = [Recommendation(0, 8), Recommendation(100, 6), Recommendation(200, 5)]
    # Within 300 s of t=250 the highest was 8: stay at 8.
    assert stabilize(2, 8, history, DEFAULT_BEHAVIOR, now=250) == 8
    # At t=350, the 8 of t=0 has left the window: the highest is 6.
    assert stabilize(2, 8, history, DEFAULT_BEHAVIOR, now=350) == 6


def test_scale_up_is_immediate_with_the_default_zero_window() -> None:
    history = [Recommendation(0, 2), Recommendation(10, 2)]
    assert stabilize(9, 2, history, DEFAULT_BEHAVIOR, now=11) == 9


def test_a_scale_up_window_follows_the_lowest_recommendation() -> None:
    up = Direction(60, DEFAULT_BEHAVIOR.up.policies)
    behavior = Behavior(up=up, down=DEFAULT_BEHAVIOR.down)
    history = [Recommendation(0, 3), Recommendation(30, 7)]
    assert stabilize(9, 2, history, behavior, now=40) == 3
    assert stabilize(9, 2, history, behavior, now=70) == 7


@pytest.mark.parametrize(
    "make",
    [
        lambda: RatePolicy(PolicyKind.PODS, 0, 15),
        lambda: RatePolicy(PolicyKind.PODS, 1, 1801),
        lambda: Direction(-1, ()),
        lambda: Bounds(0, 3),
        lambda: Bounds(4, 3),
    ],
)
def test_invalid_settings_are_refused(make: object) -> None:
    with pytest.raises(ValueError, match=r"must be|need 1 <="):
        make()  # type: ignore[operator]


def test_bounds_membership() -> None:
    assert 3 in Bounds(1, 3)
    assert 4 not in Bounds(1, 3)
    assert "3" not in Bounds(1, 3)
