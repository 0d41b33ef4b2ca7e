"""Pure moderation rules: when reports suspend a user, and when a new wallet may queue.

A report flood from fresh wallets (made minutes ago, for free) must not be able to take an
honest user offline, so reporters younger than ``min_age`` only count alongside established
ones: each established reporter lets at most one fresh reporter count with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["SuspendRule", "cooldown_left", "effective_reporters", "should_suspend"]


@dataclass(frozen=True, slots=True)
class SuspendRule:
    """Auto-suspension: ``threshold`` distinct reporters within ``window`` seconds.

    Attributes:
        threshold: effective distinct reporters that suspend (0: never).
        window: how far back reports count, in seconds.
        min_age: a reporter first seen less than this long ago is "fresh".
    """

    threshold: int
    window: float
    min_age: float


def _is_fresh(first_seen: float | None, now: float, min_age: float) -> bool:
    return first_seen is None or now - first_seen < min_age


def effective_reporters(first_seen: Iterable[float | None], *, now: float, min_age: float) -> int:
    """How many distinct reporters count: every established one, and as many fresh ones.

    Args:
        first_seen: the first-seen time of each distinct reporter (None: never signed in).
        now: the current time.
        min_age: the age below which a reporter is fresh.
    """
    ages = list(first_seen)
    fresh = sum(1 for seen in ages if _is_fresh(seen, now, min_age))
    established = len(ages) - fresh
    return established + min(fresh, established)


def should_suspend(first_seen: Iterable[float | None], *, now: float, rule: SuspendRule) -> bool:
    """True when the distinct reporters within the window suspend the user pending review.

    Args:
        first_seen: first-seen times of the distinct reporters within ``rule.window``.
        now: the current time.
        rule: the thresholds.
    """
    if rule.threshold <= 0:
        return False
    return effective_reporters(first_seen, now=now, min_age=rule.min_age) >= rule.threshold


def cooldown_left(first_seen: float | None, *, now: float, cooldown: float) -> float:
    """Seconds a wallet first seen at ``first_seen`` must still wait to queue (0: it may).

    A wallet never seen (no sign-in recorded) is treated as seen ``now``.
    """
    if cooldown <= 0:
        return 0.0
    seen = now if first_seen is None else first_seen
    return max(0.0, seen + cooldown - now)
