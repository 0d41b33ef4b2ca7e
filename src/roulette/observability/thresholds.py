"""Warning and critical thresholds with hysteresis: a value in, a level out.

Theory of operation: a rule fires at ``warning`` or ``critical`` when its value reaches the
level's threshold, and steps down only when the value falls below the threshold times
``1 - hysteresis`` (a value hovering at the line does not flap). Boolean checks (a dependency
down) are values of 0.0 or 1.0 against a threshold of 1.0. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping

from roulette.alert_rule import Level, Rule

__all__ = ["Level", "Rule", "evaluate", "evaluate_all"]


def _reached(rule: Rule, value: float) -> Level:
    """The highest level whose threshold ``value`` reaches, ignoring history."""
    for level in (Level.CRITICAL, Level.WARNING):
        threshold = rule.threshold(level)
        if threshold is not None and value >= threshold:
            return level
    return Level.OK


def _holds(rule: Rule, level: Level, value: float) -> bool:
    """Whether a rule already at ``level`` stays there: the value is above the clear line."""
    threshold = rule.threshold(level)
    return threshold is not None and value >= threshold * (1.0 - rule.hysteresis)


def evaluate(rule: Rule, previous: Level, value: float | None) -> Level:
    """The rule's level now, given its level at the last evaluation.

    Args:
        rule: the thresholds.
        previous: the level the last evaluation returned.
        value: the sample (None: no data this time; the previous level is kept).

    Returns:
        A level at least as high as the thresholds reached, kept at ``previous`` while the
        value stays within the hysteresis band below its threshold.
    """
    if value is None:
        return previous
    reached = _reached(rule, value)
    level = previous
    while level > reached and not _holds(rule, level, value):
        level = Level(level - 1)
    return max(level, reached)


def evaluate_all(
    rules: tuple[Rule, ...], previous: Mapping[str, Level], sample: Mapping[str, float | None]
) -> dict[str, Level]:
    """Every rule's level for one sample (rule name → level)."""
    return {
        rule.name: evaluate(rule, previous.get(rule.name, Level.OK), sample.get(rule.metric))
        for rule in rules
    }
