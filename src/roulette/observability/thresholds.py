"""Warning and critical thresholds with hysteresis: a value in, a level out.

Theory of operation: a rule fires at ``warning`` or ``critical`` when its value reaches the
level's threshold, and steps down only when the value falls below the threshold times
``1 - hysteresis`` (a value hovering at the line does not flap). Boolean checks (a dependency
down) are values of 0.0 or 1.0 against a threshold of 1.0. Pure: no I/O, no clock.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Level", "Rule", "evaluate", "evaluate_all"]


class Level(enum.IntEnum):
    """Severity, ordered: a higher level is worse."""

    OK = 0
    WARNING = 1
    CRITICAL = 2

    @property
    def label(self) -> str:
        """The lowercase name used in notices, logs and Prometheus labels."""
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Rule:
    """One watched figure.

    Args:
        name: the alert name (snake_case, also the Prometheus rule's ``alert`` label).
        metric: the key of the sample the rule reads.
        warning: the value at which the rule is at ``WARNING`` (None: no warning level).
        critical: the value at which it is ``CRITICAL`` (None: no critical level).
        hysteresis: a fraction; a level clears below ``threshold * (1 - hysteresis)``.
        summary: what the alert means, for people.
    """

    name: str
    metric: str
    warning: float | None
    critical: float | None
    hysteresis: float = 0.1
    summary: str = ""

    def threshold(self, level: Level) -> float | None:
        """The value at which ``level`` starts (None for OK or an unset level)."""
        return {Level.WARNING: self.warning, Level.CRITICAL: self.critical}.get(level)


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
