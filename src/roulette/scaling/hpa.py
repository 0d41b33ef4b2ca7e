"""Kubernetes HPA's proportional rule: ``desired = ceil(current × value / target)``.

Theory of operation (Kubernetes docs, "Horizontal Pod Autoscaling", *Algorithm details*):
the ratio of the average metric value to its target is computed over the ready instances that
reported a value. Inside the tolerance (10 %) nothing changes. Instances without a value
("missing") and instances not yet ready are set aside; if any were, the average is recomputed
conservatively — missing ones count as 0 % of the target on a scale-up and as 100 % on a
scale-down, not-yet-ready ones count as 0 % on a scale-up and are ignored on a scale-down — and
if the new ratio reverses the direction or falls inside the tolerance, nothing changes. With
several metrics, the largest proposal wins; if a metric has no proposal and the others suggest
a scale-down, nothing changes (the controller cannot rule out that the missing one wants more).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["DEFAULT_TOLERANCE", "Proposal", "Target", "WorkerSample", "combine", "propose"]

DEFAULT_TOLERANCE = 0.1
"""``--horizontal-pod-autoscaler-tolerance``'s default: ratios in 0.9..1.1 change nothing."""


@dataclass(frozen=True, slots=True)
class WorkerSample:
    """What one instance reported: its readiness and its metric values (absent = missing)."""

    ready: bool
    values: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class Target:
    """Keep the per-instance average of ``metric`` at ``average`` (HPA ``averageValue``)."""

    metric: str
    average: float

    def __post_init__(self) -> None:
        if not self.average > 0:
            raise ValueError(f"the target of {self.metric} must be > 0, not {self.average}")


@dataclass(frozen=True, slots=True)
class Proposal:
    """One metric's proposal; ``replicas`` is None when the metric gave no usable value."""

    metric: str
    replicas: int | None
    value: float | None
    """The raw average over ready instances with a value (what HPA reports in its status)."""
    reason: str


def propose(
    current: int,
    samples: Sequence[WorkerSample],
    target: Target,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
) -> Proposal:
    """The instance count ``target`` asks for, given one sample per current instance.

    Args:
        current: the instance count in force (HPA's ``currentReplicas``).
        samples: one per live instance; instances that exist but sent nothing may be omitted,
            they count as missing (``current - len(samples)`` of them).
        target: the metric and its per-instance target average.
        tolerance: the dead band around a ratio of 1.0.

    Returns:
        The proposal, with a sentence saying why.
    """
    name = target.metric
    reported = [s.values[name] for s in samples if s.ready and name in s.values]
    unready = sum(1 for s in samples if not s.ready and name in s.values)
    missing = max(0, current - len(reported) - unready)
    if not reported:
        return Proposal(name, None, None, "no ready instance reported it")
    average = sum(reported) / len(reported)
    ratio = average / target.average
    scale_up_with_unready = unready > 0 and ratio > 1.0
    if not scale_up_with_unready and missing == 0:
        if abs(1.0 - ratio) <= tolerance:
            return Proposal(name, current, average, _within(average, target, tolerance))
        replicas = math.ceil(ratio * len(reported))
        return Proposal(name, replicas, average, _ratio_reason(average, target, ratio))
    return _conservative(
        current,
        reported=reported,
        unready=unready,
        missing=missing,
        average=average,
        target=target,
        tolerance=tolerance,
    )


def _conservative(
    current: int,
    *,
    reported: list[float],
    unready: int,
    missing: int,
    average: float,
    target: Target,
    tolerance: float,
) -> Proposal:
    """The recomputation with set-aside instances filled in (scale-up 0 %, scale-down 100 %)."""
    ratio = average / target.average
    filled = list(reported)
    if ratio > 1.0:
        filled += [0.0] * (missing + unready)
    elif ratio < 1.0:
        filled += [target.average] * missing  # unready ones are ignored on a scale-down
    new_ratio = sum(filled) / len(filled) / target.average
    name = target.metric
    note = f"{missing} missing, {unready} not ready"
    if abs(1.0 - new_ratio) <= tolerance or (ratio - 1.0) * (new_ratio - 1.0) < 0:
        reason = f"{_ratio_reason(average, target, ratio)}, but with {note} it is {new_ratio:.2f}"
        return Proposal(name, current, average, reason + ": hold")
    replicas = math.ceil(new_ratio * len(filled))
    if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
        return Proposal(name, current, average, f"conservative ratio {new_ratio:.2f}: hold")
    reason = f"{_ratio_reason(average, target, ratio)}; {note}: ratio {new_ratio:.2f}"
    return Proposal(name, replicas, average, reason)


def _ratio_reason(average: float, target: Target, ratio: float) -> str:
    return f"average {average:.4g} / target {target.average:.4g} = {ratio:.2f}"


def _within(average: float, target: Target, tolerance: float) -> str:
    return f"average {average:.4g} within {tolerance:.0%} of target {target.average:.4g}: hold"


def combine(current: int, proposals: Sequence[Proposal]) -> tuple[int, str]:
    """The largest proposal; a missing metric blocks a scale-down (HPA's rule).

    Returns:
        The count and which metric decided it.
    """
    usable = [p for p in proposals if p.replicas is not None]
    if not usable:
        return current, "no metric has data: hold"
    best = max(usable, key=lambda p: p.replicas or 0)
    assert best.replicas is not None
    if best.replicas < current and len(usable) < len(proposals):
        blind = ", ".join(p.metric for p in proposals if p.replicas is None)
        return current, f"scale-down suggested but {blind} has no data: hold"
    return best.replicas, f"{best.metric}: {best.reason}"
