"""Threshold levels with hysteresis: a value in, a level out (pure, table-driven)."""

from __future__ import annotations

import pytest

from roulette.observability.thresholds import Level, Rule, evaluate, evaluate_all

CPU = Rule("cpu", "cpu_percent", warning=80.0, critical=95.0, hysteresis=0.1)
DOWN = Rule("redis_down", "redis_down", warning=None, critical=1.0, hysteresis=0.0)

OK, W, C = Level.OK, Level.WARNING, Level.CRITICAL


@pytest.mark.parametrize(
    ("previous", "value", "expected"),
    [
        (OK, 10.0, OK),
        (OK, 79.9, OK),
        (OK, 80.0, W),  # the threshold itself fires
        (OK, 95.0, C),  # straight to critical
        (W, 75.0, W),  # within 10 % below 80: held
        (W, 72.0, W),  # 72 = 80 × 0.9 is the last value held
        (W, 71.9, OK),
        (C, 90.0, C),  # within 10 % below 95 (85.5): held
        (C, 85.0, W),  # below 85.5 but above the warning line
        (C, 75.0, W),  # below critical's band, within warning's band
        (C, 50.0, OK),
        (W, None, W),  # no data: keep the level
        (C, None, C),
    ],
)
def test_levels_step_up_at_thresholds_and_down_below_the_band(
    previous: Level, value: float | None, expected: Level
) -> None:
    assert evaluate(CPU, previous, value) is expected


@pytest.mark.parametrize(
    ("previous", "value", "expected"),
    [(OK, 0.0, OK), (OK, 1.0, C), (C, 1.0, C), (C, 0.0, OK)],
)
def test_a_dependency_check_is_critical_at_once_and_clears_at_once(
    previous: Level, value: float, expected: Level
) -> None:
    assert evaluate(DOWN, previous, value) is expected


def test_a_rule_without_a_warning_level_skips_it_on_the_way_down() -> None:
    rule = Rule("x", "x", warning=None, critical=10.0, hysteresis=0.5)
    assert evaluate(rule, C, 6.0) is C
    assert evaluate(rule, C, 4.0) is OK


def test_evaluate_all_reads_each_rules_metric_and_defaults_to_ok() -> None:
    levels = evaluate_all((CPU, DOWN), {"cpu": W}, {"cpu_percent": 76.0, "redis_down": 1.0})
    assert levels == {"cpu": W, "redis_down": C}
    assert evaluate_all((CPU,), {}, {}) == {"cpu": OK}


def test_levels_have_lowercase_labels_and_order() -> None:
    assert [lv.label for lv in (OK, W, C)] == ["ok", "warning", "critical"]
    assert CPU.threshold(OK) is None
