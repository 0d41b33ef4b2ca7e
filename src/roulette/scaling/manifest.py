"""``roulette scaling render-hpa``: the same policy as a Kubernetes HPA v2 manifest.

The HPA gets the targets (sockets as a per-pod average of ``roulette_ws_connections`` through
prometheus-adapter, CPU as a resource utilization), the bounds, the tolerance-free behavior
(Kubernetes' tolerance is a controller flag) and the same windows and policies. The guide's
step rules have no HPA equivalent and are listed in an annotation only. A second document is the
prometheus-adapter rule that exposes the socket metric to the custom metrics API.
"""

from __future__ import annotations

from typing import Any

import yaml

from roulette.scaling.behavior import Bounds, Direction
from roulette.scaling.settings import ScalingPolicy

__all__ = ["SOCKETS_METRIC", "render_hpa"]

SOCKETS_METRIC = "roulette_ws_connections"
"""The gauge each worker exports (``observability/metrics.py``): open authenticated sockets."""


def render_hpa(
    policy: ScalingPolicy,
    bounds: Bounds,
    *,
    socket_cap: int,
    name: str = "roulette",
    namespace: str = "default",
) -> str:
    """Two YAML documents: the HorizontalPodAutoscaler and the adapter rule it needs.

    Args:
        policy: targets and behavior.
        bounds: minReplicas/maxReplicas.
        socket_cap: ``MAX_CONNECTIONS`` (a sockets target is a percentage of it).
        name: the Deployment (and HPA) name.
        namespace: their namespace.
    """
    documents = [_hpa(policy, bounds, socket_cap, name, namespace), _adapter(namespace)]
    return yaml.safe_dump_all(documents, sort_keys=False)


def _metrics(policy: ScalingPolicy, socket_cap: int) -> list[dict[str, Any]]:
    """The HPA ``metrics`` for the targets it can express (sockets, CPU)."""
    metrics: list[dict[str, Any]] = []
    for target in policy.targets:
        if target.metric == "sockets":
            average = round(socket_cap * target.average / 100)
            metrics.append(
                {
                    "type": "Pods",
                    "pods": {
                        "metric": {"name": SOCKETS_METRIC},
                        "target": {"type": "AverageValue", "averageValue": str(average)},
                    },
                }
            )
        elif target.metric == "cpu":
            utilization = {"type": "Utilization", "averageUtilization": round(target.average)}
            metrics.append({"type": "Resource", "resource": {"name": "cpu", "target": utilization}})
    return metrics


def _hpa(
    policy: ScalingPolicy, bounds: Bounds, socket_cap: int, name: str, namespace: str
) -> dict[str, Any]:
    rules = ", ".join(r.name for r in policy.rules) or "none"
    unexpressed = [t.metric for t in policy.targets if t.metric not in {"sockets", "cpu"}]
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "annotations": {
                "roulette/step-rules-not-rendered": rules,
                "roulette/targets-not-rendered": ", ".join(unexpressed) or "none",
                "roulette/tolerance": f"{policy.tolerance:g} (kube-controller-manager flag)",
            },
        },
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": bounds.minimum,
            "maxReplicas": bounds.maximum,
            "metrics": _metrics(policy, socket_cap),
            "behavior": {
                "scaleUp": _direction(policy.behavior.up),
                "scaleDown": _direction(policy.behavior.down),
            },
        },
    }


def _direction(direction: Direction) -> dict[str, Any]:
    return {
        "stabilizationWindowSeconds": round(direction.window_seconds),
        "selectPolicy": direction.select.value,
        "policies": [
            {"type": p.kind.value, "value": p.value, "periodSeconds": round(p.period_seconds)}
            for p in direction.policies
        ],
    }


def _adapter(namespace: str) -> dict[str, Any]:
    rule = {
        "seriesQuery": f'{SOCKETS_METRIC}{{namespace!="",pod!=""}}',
        "resources": {
            "overrides": {"namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}}
        },
        "name": {"as": SOCKETS_METRIC},
        "metricsQuery": "sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)",
    }
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "roulette-prometheus-adapter-rules", "namespace": namespace},
        "data": {"config.yaml": yaml.safe_dump({"rules": [rule]}, sort_keys=False)},
    }
