"""The simulator with the real policy: a flash crowd is met within the windows, noisy steady
load does not flap, and a scale-down waits for its window."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from roulette.scaling.behavior import Bounds
from roulette.scaling.settings import ScalingPolicy
from roulette.scaling.simulation import Calibration, Trace, simulate

WIDE = Bounds(1, 20)
CAL = Calibration()


def shipped(name: str) -> Trace:
    text = (resources.files("roulette.scaling") / "traces" / f"{name}.json").read_text()
    return Trace.parse(json.loads(text))


def first_time(series: list[dict[str, float]], after: float, predicate: object) -> float:
    for row in series:
        if row["t"] >= after and predicate(row):  # type: ignore[operator]
            return row["t"]
    raise AssertionError("never")


def test_the_flash_crowd_is_scaled_up_within_the_windows() -> None:
    """×10 at t=600 s: with a 0 s scale-up window, 15 s evaluations and "4 pods or 100 % per
    15 s", the count needed for 100,000 users at 60 % of 19,000 (9) is decided within 90 s and
    serving (booted) 20 s later; latency is back under 100 ms once they serve."""
    result = simulate(shipped("flash-crowd"), ScalingPolicy(), WIDE)
    series = result["series"]
    needed = 9
    decided = first_time(series, 600, lambda r: r["instances"] >= needed)
    ready = first_time(series, 600, lambda r: r["ready"] >= needed)
    assert decided - 600 <= 90
    assert ready - decided == pytest.approx(CAL.boot_seconds, abs=1)
    settled = first_time(series, ready, lambda r: r["p95_ms"] < 100)
    assert settled - ready <= 90
    assert all(row["instances"] <= needed for row in series)  # no overshoot past the need


def test_noisy_steady_load_never_flaps() -> None:
    trace = Trace("steady", ((0, 40_000), (7200, 40_000)), noise=0.05)
    result = simulate(trace, ScalingPolicy(), WIDE, seed=7)
    assert result["summary"]["scale_events"] == 0
    assert result["summary"]["refused_user_seconds"] == 0


def test_scale_down_waits_for_its_window() -> None:
    """Load falls from t=1800 s (the last evaluation that saw it high): no worker is removed
    before the 300 s window has passed since."""
    trace = Trace("drop", ((0, 60_000), (1800, 60_000), (1810, 15_000), (4000, 15_000)))
    result = simulate(trace, ScalingPolicy(), WIDE)
    downs = [c for c in result["summary"]["changes"] if c["delta"] < 0]
    assert downs
    assert downs[0]["t"] >= 1800 + 300
    assert result["summary"]["direction_reversals"] == 0


def test_a_shorter_window_scales_down_sooner() -> None:
    trace = Trace("drop", ((0, 60_000), (1800, 60_000), (1810, 15_000), (4000, 15_000)))
    policy = ScalingPolicy.from_overrides(scale_down_window=60)
    downs = [c for c in simulate(trace, policy, WIDE)["summary"]["changes"] if c["delta"] < 0]
    assert 1800 + 60 <= downs[0]["t"] < 1800 + 300


@pytest.mark.parametrize("name", ["diurnal", "flash-crowd", "slow-leak"])
def test_shipped_traces_parse(name: str) -> None:
    trace = shipped(name)
    assert trace.duration > 0
    assert trace.description


@pytest.mark.parametrize(
    "data",
    [
        {"name": "x", "points": [[0, 1]]},
        {"name": "x", "points": [[10, 1], [5, 2]]},
        {"name": "x", "points": [[0, -1], [5, 2]]},
        {"points": [[0, 1], [5, 2]]},
    ],
)
def test_bad_traces_are_refused(data: dict[str, object]) -> None:
    with pytest.raises((KeyError, ValueError)):
        Trace.parse(data)
