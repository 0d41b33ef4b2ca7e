"""render-hpa: a valid autoscaling/v2 HPA with the same windows and policies as the policy."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import yaml

from roulette.scaling.behavior import Bounds
from roulette.scaling.manifest import SOCKETS_METRIC, render_hpa
from roulette.scaling.settings import ScalingPolicy, parse_policy


def test_the_manifest_carries_the_policy_and_validates_strictly(tmp_path: Path) -> None:
    policy = parse_policy(
        {
            "behavior": {
                "scaleDown": {
                    "stabilizationWindowSeconds": 120,
                    "selectPolicy": "Min",
                    "policies": [
                        {"type": "Percent", "value": 10, "periodSeconds": 60},
                        {"type": "Pods", "value": 5, "periodSeconds": 60},
                    ],
                }
            }
        }
    )
    text = render_hpa(policy, Bounds(2, 12), socket_cap=19_000, name="chat", namespace="prod")
    hpa, adapter = list(yaml.safe_load_all(text))
    for document in (hpa, adapter):
        kubernetes_validate.validate(document, "1.30.0", strict=True)
    spec = hpa["spec"]
    assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 12)
    assert spec["scaleTargetRef"]["name"] == "chat"
    sockets, cpu = spec["metrics"]
    assert sockets["pods"]["metric"]["name"] == SOCKETS_METRIC
    assert sockets["pods"]["target"]["averageValue"] == "11400"  # 60 % of 19,000
    assert cpu["resource"]["target"]["averageUtilization"] == 70
    down = spec["behavior"]["scaleDown"]
    assert down == {
        "stabilizationWindowSeconds": 120,
        "selectPolicy": "Min",
        "policies": [
            {"type": "Percent", "value": 10, "periodSeconds": 60},
            {"type": "Pods", "value": 5, "periodSeconds": 60},
        ],
    }
    assert spec["behavior"]["scaleUp"]["stabilizationWindowSeconds"] == 0
    assert SOCKETS_METRIC in adapter["data"]["config.yaml"]


def test_the_default_rules_are_named_as_not_rendered() -> None:
    hpa = next(yaml.safe_load_all(render_hpa(ScalingPolicy(), Bounds(1, 10), socket_cap=100)))
    notes = hpa["metadata"]["annotations"]
    assert notes["roulette/step-rules-not-rendered"] == "high-cpu-scale-up, high-memory-scale-up"
    assert notes["roulette/targets-not-rendered"] == "none"
    lag = parse_policy({"targets": [{"metric": "loopLag", "averageValue": 50}]})
    hpa = next(yaml.safe_load_all(render_hpa(lag, Bounds(1, 10), socket_cap=100)))
    assert hpa["metadata"]["annotations"]["roulette/targets-not-rendered"] == "loopLag"
    assert hpa["spec"]["metrics"] == []
