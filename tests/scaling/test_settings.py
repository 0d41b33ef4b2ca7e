"""SCALING_RULES_FILE: the guide's list, the full mapping, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from roulette.errors import ConfigError
from roulette.scaling.behavior import DEFAULT_BEHAVIOR, PolicyKind, SelectPolicy
from roulette.scaling.rules import DEFAULT_RULES
from roulette.scaling.settings import DEFAULT_TARGETS, ScalingPolicy, load_policy, parse_policy

GUIDE_RULE = {
    "name": "high-cpu-scale-up",
    "metric": "cpu",
    "operator": "gte",
    "threshold": 80,
    "action": "scale-up",
    "scaleAmount": 2,
    "cooldownPeriod": 300000,
}


def test_no_file_means_the_defaults() -> None:
    policy = load_policy(None)
    assert policy.rules == DEFAULT_RULES
    assert policy.targets == DEFAULT_TARGETS
    assert policy.behavior == DEFAULT_BEHAVIOR


def test_the_guides_plain_list_of_rules_in_json(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps([GUIDE_RULE]))
    policy = load_policy(path)
    assert policy.rules == DEFAULT_RULES[:1]
    assert policy.targets == DEFAULT_TARGETS


def test_a_full_yaml_policy(tmp_path: Path) -> None:
    path = tmp_path / "scaling.yaml"
    path.write_text(
        """
targets:
  - {metric: sockets, averageUtilization: 50}
tolerance: 0.05
behavior:
  scaleDown:
    stabilizationWindowSeconds: 60
    selectPolicy: Min
    policies: [{type: Pods, value: 1, periodSeconds: 30}]
rules:
  - {name: lag, metric: loopLag, operator: gt, threshold: 100, action: scale-up,
     scaleAmount: 1, cooldownPeriod: 60000, priority: 5}
"""
    )
    policy = load_policy(path)
    assert policy.targets[0].metric == "sockets"
    assert policy.targets[0].average == 50
    assert policy.tolerance == 0.05
    assert policy.behavior.up == DEFAULT_BEHAVIOR.up
    assert policy.behavior.down.window_seconds == 60
    assert policy.behavior.down.select is SelectPolicy.MIN
    assert policy.behavior.down.policies[0].kind is PolicyKind.PODS
    assert policy.rules[0].cooldown_seconds == 60
    assert policy.rules[0].priority == 5


def test_describe_round_trips() -> None:
    policy = ScalingPolicy()
    assert parse_policy(policy.describe()) == policy


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("just text", "expected a list of rules or a mapping"),
        ({"rulez": []}, "unknown field(s): rulez"),
        ([{**GUIDE_RULE, "metric": "disk"}], "metric 'disk' is not one of"),
        ([{**GUIDE_RULE, "operator": "~"}], "'~' is not a valid Comparison"),
        ([{**GUIDE_RULE, "scaleAmount": "2"}], "scaleAmount must be an integer"),
        ([{k: v for k, v in GUIDE_RULE.items() if k != "threshold"}], "missing field"),
        ([GUIDE_RULE, GUIDE_RULE], "rule names must be unique"),
        ({"tolerance": 1.5}, "tolerance must be in 0..1"),
        ({"targets": [{"metric": "cpu", "averageValue": 0}]}, "must be > 0"),
        ({"behavior": {"scaleUp": {"stabilizationWindowSeconds": 7200}}}, "0..3600"),
    ],
)
def test_bad_policies_name_the_problem(data: object, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_policy(data)
    assert message in caught.value.message


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=r"nope\.yaml: cannot read it"):
        load_policy(missing)
    broken = tmp_path / "broken.yaml"
    broken.write_text("rules: [")
    with pytest.raises(ConfigError, match="not YAML or JSON"):
        load_policy(broken)
    big = tmp_path / "big.yaml"
    big.write_text("#" * 70_000)
    with pytest.raises(ConfigError, match="larger than"):
        load_policy(big)
    bad = tmp_path / "bad.yaml"
    bad.write_text("tolerance: 3")
    with pytest.raises(ConfigError, match=r"bad\.yaml: invalid scaling policy"):
        load_policy(bad)
