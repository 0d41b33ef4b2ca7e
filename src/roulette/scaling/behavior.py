"""HPA v2 ``behavior``: stabilization windows, rate policies and bounds on a raw proposal.

Order (as the HPA controller applies it): the raw proposal is recorded; stabilization takes,
for a scale-up, the *lowest* proposal of the scale-up window and, for a scale-down, the
*highest* of the scale-down window (so a dip must last the whole window before it removes an
instance); then the rate policies cap the change relative to the count at the start of each
policy's period (changes made within the period count against it); then min/max bounds.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "DEFAULT_BEHAVIOR",
    "Behavior",
    "Bounds",
    "Direction",
    "PolicyKind",
    "RatePolicy",
    "Recommendation",
    "ScaleChange",
    "SelectPolicy",
    "limit_rate",
    "stabilize",
]

MAX_PERIOD_SECONDS = 1800
"""HPA's ceiling for ``periodSeconds`` (half an hour)."""

MAX_WINDOW_SECONDS = 3600
"""HPA's ceiling for ``stabilizationWindowSeconds`` (one hour)."""


class PolicyKind(enum.Enum):
    """HPA policy types: a number of instances, or a percentage of the current count."""

    PODS = "Pods"
    PERCENT = "Percent"


class SelectPolicy(enum.Enum):
    """Which policy wins when several apply: the largest change, the smallest, or none."""

    MAX = "Max"
    MIN = "Min"
    DISABLED = "Disabled"


@dataclass(frozen=True, slots=True)
class RatePolicy:
    """At most ``value`` instances (or percent) of change per ``period_seconds``."""

    kind: PolicyKind
    value: int
    period_seconds: float

    def __post_init__(self) -> None:
        if self.value <= 0:
            raise ValueError(f"a {self.kind.value} policy's value must be > 0, not {self.value}")
        if not 0 < self.period_seconds <= MAX_PERIOD_SECONDS:
            raise ValueError(f"periodSeconds must be 1..{MAX_PERIOD_SECONDS}")


@dataclass(frozen=True, slots=True)
class Direction:
    """The settings of one direction (``scaleUp`` or ``scaleDown``)."""

    window_seconds: float
    policies: tuple[RatePolicy, ...]
    select: SelectPolicy = SelectPolicy.MAX

    def __post_init__(self) -> None:
        if not 0 <= self.window_seconds <= MAX_WINDOW_SECONDS:
            raise ValueError(f"stabilizationWindowSeconds must be 0..{MAX_WINDOW_SECONDS}")


@dataclass(frozen=True, slots=True)
class Behavior:
    """Both directions; the defaults are Kubernetes' own (``DEFAULT_BEHAVIOR``)."""

    up: Direction
    down: Direction

    @property
    def longest_memory(self) -> float:
        """How long recommendations and changes must be kept to apply every rule."""
        periods = [p.period_seconds for p in (*self.up.policies, *self.down.policies)]
        return max([self.up.window_seconds, self.down.window_seconds, *periods])


DEFAULT_BEHAVIOR = Behavior(
    up=Direction(
        0.0,
        (RatePolicy(PolicyKind.PERCENT, 100, 15.0), RatePolicy(PolicyKind.PODS, 4, 15.0)),
        SelectPolicy.MAX,
    ),
    down=Direction(300.0, (RatePolicy(PolicyKind.PERCENT, 100, 15.0),), SelectPolicy.MAX),
)


@dataclass(frozen=True, slots=True)
class Bounds:
    """``MIN_INSTANCES``..``MAX_INSTANCES``."""

    minimum: int
    maximum: int

    def __post_init__(self) -> None:
        if not 1 <= self.minimum <= self.maximum:
            raise ValueError(f"need 1 <= min ({self.minimum}) <= max ({self.maximum})")

    def clamp(self, count: int) -> int:
        """``count`` within the bounds."""
        return max(self.minimum, min(count, self.maximum))

    def __contains__(self, count: object) -> bool:
        return isinstance(count, int) and self.minimum <= count <= self.maximum


@dataclass(frozen=True, slots=True)
class Recommendation:
    """A raw proposal and when it was made."""

    at: float
    replicas: int


@dataclass(frozen=True, slots=True)
class ScaleChange:
    """A change that was carried out: ``delta`` instances (negative = removed) at ``at``."""

    at: float
    delta: int


def stabilize(
    raw: int, current: int, history: Iterable[Recommendation], behavior: Behavior, now: float
) -> int:
    """The stabilized recommendation (``history`` excludes ``raw`` itself).

    Scale-up follows the lowest proposal in the scale-up window, scale-down the highest in
    the scale-down window; the current count moves only if both agree it should.
    """
    up_floor = raw
    down_ceiling = raw
    for rec in history:
        if rec.at > now - behavior.up.window_seconds:
            up_floor = min(up_floor, rec.replicas)
        if rec.at > now - behavior.down.window_seconds:
            down_ceiling = max(down_ceiling, rec.replicas)
    return min(max(current, up_floor), down_ceiling)


def limit_rate(
    desired: int,
    current: int,
    *,
    changes: Iterable[ScaleChange],
    behavior: Behavior,
    bounds: Bounds,
    now: float,
) -> tuple[int, str | None]:
    """``desired`` capped by the rate policies of its direction and by the bounds.

    Returns:
        The allowed count and, when it differs from ``desired``, why.
    """
    changes = tuple(changes)
    if desired > current:
        limit = _up_limit(current, changes, behavior.up, now)
        allowed = min(desired, limit, bounds.maximum)
    elif desired < current:
        limit = _down_limit(current, changes, behavior.down, now)
        allowed = max(desired, limit, bounds.minimum)
    else:
        allowed = bounds.clamp(desired)
    if allowed == desired:
        return allowed, None
    if allowed == bounds.maximum and desired > bounds.maximum:
        return allowed, f"capped at MAX_INSTANCES={bounds.maximum}"
    if allowed == bounds.minimum and desired < bounds.minimum:
        return allowed, f"held at MIN_INSTANCES={bounds.minimum}"
    return allowed, f"rate policy allows {allowed} now (wanted {desired})"


def _up_limit(
    current: int, changes: tuple[ScaleChange, ...], direction: Direction, now: float
) -> int:
    if direction.select is SelectPolicy.DISABLED or not direction.policies:
        return current
    limits = []
    for policy in direction.policies:
        added = sum(c.delta for c in changes if c.delta > 0 and c.at > now - policy.period_seconds)
        start = current - added
        if policy.kind is PolicyKind.PODS:
            limits.append(start + policy.value)
        else:
            limits.append(math.ceil(start * (1 + policy.value / 100)))
    pick = max if direction.select is SelectPolicy.MAX else min
    return max(current, pick(limits))


def _down_limit(
    current: int, changes: tuple[ScaleChange, ...], direction: Direction, now: float
) -> int:
    if direction.select is SelectPolicy.DISABLED or not direction.policies:
        return current
    limits = []
    for policy in direction.policies:
        removed = -sum(
            c.delta for c in changes if c.delta < 0 and c.at > now - policy.period_seconds
        )
        start = current + removed
        if policy.kind is PolicyKind.PODS:
            limits.append(start - policy.value)
        else:
            limits.append(math.floor(start * (1 - policy.value / 100)))
    # "Max" selects the policy allowing the most change: here the lowest floor.
    pick = min if direction.select is SelectPolicy.MAX else max
    return min(current, pick(limits))
