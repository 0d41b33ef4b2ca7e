"""The guide's threshold rules: conditions, priorities, cooldowns, reasons."""

from __future__ import annotations

from typing import Any

import pytest

from roulette.scaling.rules import DEFAULT_RULES, Action, Comparison, Rule, evaluate_rules


def rule(name: str, metric: str = "cpu", **kw: object) -> Rule:
    fields: dict[str, object] = {
        "comparison": Comparison.GTE,
        "threshold": 80.0,
        "action": Action.SCALE_UP,
        "scale_amount": 2,
        "cooldown_seconds": 300.0,
        "priority": 0,
    }
    fields.update(kw)
    return Rule(name, metric, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("values", "fired", "proposal"),
    [
        ({"cpu": 80.0, "memory": 10.0}, ["high-cpu-scale-up"], 5),
        ({"cpu": 79.9, "memory": 85.0}, ["high-memory-scale-up"], 4),
        ({"cpu": 10.0, "memory": 10.0}, [], None),
        ({}, [], None),
    ],
)
def test_the_guides_default_rules(
    values: dict[str, float], fired: list[str], proposal: int | None
) -> None:
    outcomes = evaluate_rules(DEFAULT_RULES, values, 3, {}, now=0)
    assert [o.rule for o in outcomes if o.fired] == fired
    assert next((o.replicas for o in outcomes if o.fired), None) == proposal


def test_both_defaults_match_but_only_the_first_of_equal_priority_fires() -> None:
    outcomes = evaluate_rules(DEFAULT_RULES, {"cpu": 95, "memory": 95}, 3, {}, now=0)
    assert [o.fired for o in outcomes] == [True, False]
    assert "ranks higher" in outcomes[1].reason


def test_higher_priority_wins_regardless_of_order() -> None:
    rules = [rule("low", priority=1), rule("high", scale_amount=5, priority=9)]
    outcomes = evaluate_rules(rules, {"cpu": 90}, 2, {}, now=0)
    assert [(o.rule, o.fired, o.replicas) for o in outcomes] == [
        ("low", False, None),
        ("high", True, 7),
    ]


def test_a_rule_in_cooldown_does_not_fire_and_the_next_one_may() -> None:
    rules = [rule("a", priority=2), rule("b", scale_amount=1, priority=1)]
    outcomes = evaluate_rules(rules, {"cpu": 90}, 2, {"a": 100.0}, now=200.0)
    assert not outcomes[0].fired
    assert "cooling down 200 s more" in outcomes[0].reason
    assert outcomes[1].fired
    assert outcomes[1].replicas == 3
    # Once the cooldown is over, it fires again.
    assert evaluate_rules(rules, {"cpu": 90}, 2, {"a": 100.0}, now=400.0)[0].fired


@pytest.mark.parametrize(
    ("comparison", "value", "holds"),
    [
        (Comparison.GT, 80, False),
        (Comparison.GT, 81, True),
        (Comparison.LT, 79, True),
        (Comparison.LTE, 80, True),
        (Comparison.EQ, 80, True),
        (Comparison.EQ, 80.5, False),
    ],
)
def test_operators(comparison: Comparison, value: float, holds: bool) -> None:
    outcome = evaluate_rules([rule("r", comparison=comparison)], {"cpu": value}, 2, {}, 0)[0]
    assert outcome.fired is holds


def test_a_scale_down_rule_never_proposes_zero() -> None:
    down = rule("idle", comparison=Comparison.LT, threshold=10, action=Action.SCALE_DOWN)
    assert evaluate_rules([down], {"cpu": 1}, 1, {}, 0)[0].replicas == 1
    assert evaluate_rules([down], {"cpu": 1}, 5, {}, 0)[0].replicas == 3


def test_a_rule_describes_itself_in_the_guides_form() -> None:
    assert DEFAULT_RULES[0].describe() == {
        "name": "high-cpu-scale-up",
        "metric": "cpu",
        "operator": "gte",
        "threshold": 80,
        "action": "scale-up",
        "scaleAmount": 2,
        "cooldownPeriod": 300000,
        "priority": 0,
    }


@pytest.mark.parametrize("kw", [{"scale_amount": 0}, {"cooldown_seconds": -1.0}])
def test_invalid_rules_are_refused(kw: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must be >= "):
        rule("bad", **kw)
