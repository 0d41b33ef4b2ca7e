"""What an alert rule is: a severity :class:`Level` and a watched figure's :class:`Rule`.

Plain data, below :mod:`roulette.config` (which reads the rules' thresholds from the
environment); their evaluation lives in :mod:`roulette.observability.thresholds`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Level", "Rule"]


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
