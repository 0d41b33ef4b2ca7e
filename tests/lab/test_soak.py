"""The soak's verdict on memory: the least-squares slope after warm-up, not first vs last."""

from __future__ import annotations

import pytest

from roulette.lab.soak import FLAT_MIB_PER_HOUR, SoakResult, render_soak, slope_per_hour

MINUTES = 30.0
TIMES = [30.0 * i for i in range(61)]  # a sample every 30 s for 30 minutes


def test_a_steady_leak_is_measured_exactly_per_hour() -> None:
    values = [100 + 0.1 * (t / 60) for t in TIMES]  # 0.1 MiB a minute
    assert slope_per_hour(TIMES, values, MINUTES) == pytest.approx(6.0)


def test_warm_up_growth_and_a_sawtooth_do_not_count_as_a_leak() -> None:
    # +8 MiB in the first 5 minutes (caches fill), then a garbage-collection sawtooth.
    values = [100 + min(t, 300) / 300 * 8 + (1.5 if i % 4 == 0 else 0) for i, t in enumerate(TIMES)]
    slope = slope_per_hour(TIMES, values, MINUTES)
    assert slope is not None and abs(slope) < 1.0
    assert values[-1] - values[0] >= 8  # what "growth" (last - first) would have blamed


def test_too_few_samples_after_warm_up_give_no_verdict() -> None:
    assert slope_per_hour([0.0, 400.0, 800.0], [1.0, 2.0, 3.0], MINUTES) is None


def test_the_section_says_flat_or_not_per_worker() -> None:
    result = SoakResult(MINUTES, users=20, load_exit=0, load_average_start=(1.0, 2.0, 3.0))
    result.times = {"node1/1": TIMES, "node2/2": TIMES}
    result.samples = {
        "node1/1": [100.0 for _ in TIMES],
        "node2/2": [100 + (FLAT_MIB_PER_HOUR * 2) * t / 3600 for t in TIMES],
    }
    text = render_soak(result)
    assert "| node1/1 | 61 | 100.0 | 100.0 | 100.0 | +0.0 | +0.00 | yes |" in text
    assert "| node2/2 |" in text and "| **no** |" in text
    assert "Load average at the start 1.0, 2.0, 3.0" in text
