"""The guide's threshold rules: ``{name, metric, operator, threshold, action, scaleAmount,
cooldownPeriod}``, with priorities and per-rule cooldowns.

Each evaluation checks every rule against the node's aggregate values. Among the rules whose
condition holds and whose cooldown is over, the one with the highest ``priority`` (ties: the
earlier in the list) fires and proposes ``current ± scaleAmount``; that proposal then competes
with the HPA targets' proposals like any other metric (the largest wins).
"""

from __future__ import annotations

import enum
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["DEFAULT_RULES", "Action", "Comparison", "Rule", "RuleEvaluation", "evaluate_rules"]


class Comparison(enum.Enum):
    """The guide's operators."""

    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    EQ = "eq"

    @property
    def holds(self) -> Callable[[float, float], bool]:
        """The comparison as a function ``(value, threshold) -> bool``."""
        return _COMPARE[self]

    @property
    def symbol(self) -> str:
        """How reasons print it."""
        return {"gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "eq": "=="}[self.value]


_COMPARE: dict[Comparison, Callable[[float, float], bool]] = {
    Comparison.GT: operator.gt,
    Comparison.GTE: operator.ge,
    Comparison.LT: operator.lt,
    Comparison.LTE: operator.le,
    Comparison.EQ: operator.eq,
}


class Action(enum.Enum):
    """What a rule does when it fires."""

    SCALE_UP = "scale-up"
    SCALE_DOWN = "scale-down"


@dataclass(frozen=True, slots=True)
class Rule:
    """One threshold rule. ``cooldown_seconds`` is the guide's ``cooldownPeriod`` / 1000."""

    name: str
    metric: str
    comparison: Comparison
    threshold: float
    action: Action
    scale_amount: int
    cooldown_seconds: float
    priority: int = 0

    def __post_init__(self) -> None:
        if self.scale_amount < 1:
            raise ValueError(f"rule {self.name}: scaleAmount must be >= 1")
        if self.cooldown_seconds < 0:
            raise ValueError(f"rule {self.name}: cooldownPeriod must be >= 0")

    def describe(self) -> dict[str, object]:
        """The rule in the guide's JSON form."""
        return {
            "name": self.name,
            "metric": self.metric,
            "operator": self.comparison.value,
            "threshold": self.threshold,
            "action": self.action.value,
            "scaleAmount": self.scale_amount,
            "cooldownPeriod": int(self.cooldown_seconds * 1000),
            "priority": self.priority,
        }


DEFAULT_RULES = (
    Rule("high-cpu-scale-up", "cpu", Comparison.GTE, 80, Action.SCALE_UP, 2, 300.0, 0),
    Rule("high-memory-scale-up", "memory", Comparison.GTE, 85, Action.SCALE_UP, 1, 300.0, 0),
)
"""The guide's two rules (section 4, "Scaling Rules"), verbatim."""


@dataclass(frozen=True, slots=True)
class RuleEvaluation:
    """One rule's outcome: the value seen, whether it fired, and why (not)."""

    rule: str
    value: float | None
    fired: bool
    reason: str
    replicas: int | None = None

    def describe(self) -> dict[str, object]:
        """The JSON shape of ``GET /scaling/status``."""
        return {
            "rule": self.rule,
            "value": self.value,
            "fired": self.fired,
            "reason": self.reason,
            "proposal": self.replicas,
        }


def evaluate_rules(
    rules: Sequence[Rule],
    values: Mapping[str, float],
    current: int,
    last_fired: Mapping[str, float],
    now: float,
) -> list[RuleEvaluation]:
    """Evaluate every rule; at most one fires (the highest priority whose cooldown is over).

    Args:
        rules: the configured rules, in file order.
        values: the node's aggregate metric values (absent = no data).
        current: the instance count in force.
        last_fired: when each rule last fired (monotonic seconds).
        now: monotonic seconds.
    """
    ranked = sorted(range(len(rules)), key=lambda i: (-rules[i].priority, i))
    winner: str | None = None
    outcomes: dict[int, RuleEvaluation] = {}
    for i in ranked:
        rule = rules[i]
        outcome = _check(rule, values, last_fired, now)
        if outcome.fired and winner is not None:
            outcome = RuleEvaluation(
                rule.name, outcome.value, False, f"{outcome.reason}, but {winner} ranks higher"
            )
        elif outcome.fired:
            winner = rule.name
            step = rule.scale_amount if rule.action is Action.SCALE_UP else -rule.scale_amount
            outcome = RuleEvaluation(
                rule.name, outcome.value, True, outcome.reason, max(1, current + step)
            )
        outcomes[i] = outcome
    return [outcomes[i] for i in range(len(rules))]


def _check(
    rule: Rule, values: Mapping[str, float], last_fired: Mapping[str, float], now: float
) -> RuleEvaluation:
    value = values.get(rule.metric)
    if value is None:
        return RuleEvaluation(rule.name, None, False, f"no data for {rule.metric}")
    condition = f"{rule.metric} {value:.4g} {rule.comparison.symbol} {rule.threshold:g}"
    if not rule.comparison.holds(value, rule.threshold):
        return RuleEvaluation(rule.name, value, False, f"not {condition}")
    fired_at = last_fired.get(rule.name)
    if fired_at is not None and now - fired_at < rule.cooldown_seconds:
        remaining = rule.cooldown_seconds - (now - fired_at)
        return RuleEvaluation(
            rule.name, value, False, f"{condition}, but cooling down {remaining:.0f} s more"
        )
    return RuleEvaluation(
        rule.name, value, True, f"{condition}: {rule.action.value} by {rule.scale_amount}"
    )
