"""The scaling policy as configuration: HPA targets, tolerance, behavior and the guide's rules.

``SCALING_RULES_FILE`` names a YAML or JSON file (JSON is YAML). It is either the guide's plain
list of rules, or a mapping with any of ``targets``, ``tolerance``, ``behavior`` (HPA v2 field
names) and ``rules``; what it leaves out keeps the defaults below. Bad content raises
:class:`~roulette.errors.ConfigError` naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from roulette.errors import ConfigError
from roulette.scaling.behavior import (
    DEFAULT_BEHAVIOR,
    Behavior,
    Direction,
    PolicyKind,
    RatePolicy,
    SelectPolicy,
)
from roulette.scaling.hpa import DEFAULT_TOLERANCE, Target
from roulette.scaling.rules import DEFAULT_RULES, Action, Comparison, Rule
from roulette.scaling.signals import METRICS

__all__ = ["DEFAULT_TARGETS", "ScalingPolicy", "load_policy", "parse_policy"]

MAX_RULES = 32
MAX_FILE_BYTES = 65_536

DEFAULT_TARGETS = (Target("sockets", 60.0), Target("cpu", 70.0))
"""Sockets at 60 % of ``MAX_CONNECTIONS`` per worker, CPU at 70 % of a core: see
docs/scaling.md for the simulation runs that chose them."""


@dataclass(frozen=True, slots=True)
class ScalingPolicy:
    """Everything the autoscaler decides with, apart from the bounds."""

    targets: tuple[Target, ...] = DEFAULT_TARGETS
    tolerance: float = DEFAULT_TOLERANCE
    behavior: Behavior = DEFAULT_BEHAVIOR
    rules: tuple[Rule, ...] = field(default=DEFAULT_RULES)

    @classmethod
    def from_overrides(cls, *, scale_down_window: float) -> ScalingPolicy:
        """The defaults with another scale-down window (simulation sweeps, tests)."""
        down = replace(DEFAULT_BEHAVIOR.down, window_seconds=scale_down_window)
        return cls(behavior=replace(DEFAULT_BEHAVIOR, down=down))

    def describe(self) -> dict[str, Any]:
        """The policy in the file's own format."""
        return {
            "targets": [{"metric": t.metric, "averageValue": t.average} for t in self.targets],
            "tolerance": self.tolerance,
            "behavior": {
                "scaleUp": _describe_direction(self.behavior.up),
                "scaleDown": _describe_direction(self.behavior.down),
            },
            "rules": [r.describe() for r in self.rules],
        }


def _describe_direction(direction: Direction) -> dict[str, Any]:
    return {
        "stabilizationWindowSeconds": direction.window_seconds,
        "selectPolicy": direction.select.value,
        "policies": [
            {"type": p.kind.value, "value": p.value, "periodSeconds": p.period_seconds}
            for p in direction.policies
        ],
    }


def load_policy(path: Path | None) -> ScalingPolicy:
    """The policy in ``path`` (None: the defaults).

    Raises:
        ConfigError: unreadable, too large, or invalid; the message names the file and field.
    """
    if path is None:
        return ScalingPolicy()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"SCALING_RULES_FILE={path}: cannot read it: {exc}") from exc
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError(f"SCALING_RULES_FILE={path}: larger than {MAX_FILE_BYTES} B")
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise ConfigError(f"SCALING_RULES_FILE={path}: not YAML or JSON: {exc}") from exc
    try:
        return parse_policy(data)
    except ConfigError as exc:
        raise ConfigError(f"SCALING_RULES_FILE={path}: {exc.message}") from exc


def parse_policy(data: object) -> ScalingPolicy:
    """Build the policy from parsed YAML/JSON.

    Raises:
        ConfigError: a field is missing, of the wrong type or out of range.
    """
    if isinstance(data, list):
        data = {"rules": data}
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError("expected a list of rules or a mapping")
    unknown = set(data) - {"targets", "tolerance", "behavior", "rules"}
    if unknown:
        raise ConfigError(f"unknown field(s): {', '.join(sorted(map(str, unknown)))}")
    try:
        return ScalingPolicy(
            targets=_targets(data["targets"]) if "targets" in data else DEFAULT_TARGETS,
            tolerance=_tolerance(data.get("tolerance", DEFAULT_TOLERANCE)),
            behavior=_behavior(data.get("behavior") or {}),
            rules=_rules(data["rules"]) if "rules" in data else DEFAULT_RULES,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"invalid scaling policy: {_explain(exc)}") from exc


def _explain(exc: Exception) -> str:
    return f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)


def _tolerance(value: object) -> float:
    tolerance = _number(value, "tolerance")
    if not 0 <= tolerance < 1:
        raise ValueError("tolerance must be in 0..1 (0.1 = 10 %)")
    return tolerance


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{what} must be a number, not {value!r}")
    return float(value)


def _integer(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an integer, not {value!r}")
    return value


def _metric(value: object) -> str:
    if value not in METRICS:
        raise ValueError(f"metric {value!r} is not one of {', '.join(sorted(METRICS))}")
    assert isinstance(value, str)
    return value


def _targets(items: object) -> tuple[Target, ...]:
    if not isinstance(items, list):
        raise TypeError("targets must be a list")
    targets = []
    for item in items:
        average = item.get("averageValue", item.get("averageUtilization"))
        targets.append(Target(_metric(item["metric"]), _number(average, "averageValue")))
    return tuple(targets)


def _behavior(data: Mapping[str, Any]) -> Behavior:
    return Behavior(
        up=_direction(data.get("scaleUp"), DEFAULT_BEHAVIOR.up),
        down=_direction(data.get("scaleDown"), DEFAULT_BEHAVIOR.down),
    )


def _direction(data: Mapping[str, Any] | None, default: Direction) -> Direction:
    if not data:
        return default
    window = data.get("stabilizationWindowSeconds", default.window_seconds)
    policies = default.policies
    if "policies" in data:
        policies = tuple(
            RatePolicy(
                PolicyKind(p["type"]),
                _integer(p["value"], "policy value"),
                _number(p["periodSeconds"], "periodSeconds"),
            )
            for p in data["policies"]
        )
    select = SelectPolicy(data.get("selectPolicy", default.select.value))
    return Direction(_number(window, "stabilizationWindowSeconds"), policies, select)


def _rules(items: object) -> tuple[Rule, ...]:
    if not isinstance(items, list):
        raise TypeError("rules must be a list")
    if len(items) > MAX_RULES:
        raise ValueError(f"at most {MAX_RULES} rules")
    rules = tuple(_rule(item) for item in items)
    names = [r.name for r in rules]
    if len(set(names)) != len(names):
        raise ValueError("rule names must be unique")
    return rules


def _rule(item: Mapping[str, Any]) -> Rule:
    name = item["name"]
    if not isinstance(name, str) or not name:
        raise TypeError("a rule's name must be a non-empty string")
    return Rule(
        name=name,
        metric=_metric(item["metric"]),
        comparison=Comparison(item["operator"]),
        threshold=_number(item["threshold"], f"{name}.threshold"),
        action=Action(item["action"]),
        scale_amount=_integer(item["scaleAmount"], f"{name}.scaleAmount"),
        # The guide writes cooldownPeriod in milliseconds (300000 = 5 minutes).
        cooldown_seconds=_number(item["cooldownPeriod"], f"{name}.cooldownPeriod") / 1000,
        priority=_integer(item.get("priority", 0), f"{name}.priority"),
    )
