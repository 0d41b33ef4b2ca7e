"""A circuit breaker: closed, open after ``threshold`` failures in a row, half-open after
``reset_seconds`` (one trial call), closed again on its success. Pure: time is passed in.

The pattern (Nygard, "Release It!") keeps a node from queueing every request behind a
dependency that is down: while open, callers fail at once with a clear 503 instead.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Breaker", "BreakerState"]


class BreakerState(enum.StrEnum):
    """What the breaker lets through."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


@dataclass(slots=True)
class Breaker:
    """One dependency's breaker.

    Args:
        name: the dependency (``redis``, ``sql``), for health and metrics.
        threshold: consecutive failures that open it.
        reset_seconds: how long it stays open before one trial call.
    """

    name: str
    threshold: int = 5
    reset_seconds: float = 5.0
    failures: int = 0
    opened_at: float | None = None
    trial_running: bool = False
    opened_count: int = 0

    def state(self, now: float) -> BreakerState:
        """The state at ``now``."""
        if self.opened_at is None:
            return BreakerState.CLOSED
        if now - self.opened_at >= self.reset_seconds:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def allow(self, now: float) -> bool:
        """May a call go through now? (Half-open lets exactly one trial through.)"""
        state = self.state(now)
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self.trial_running:
            self.trial_running = True
            return True
        return False

    def success(self) -> None:
        """A call succeeded: close."""
        self.failures = 0
        self.opened_at = None
        self.trial_running = False

    def failure(self, now: float) -> None:
        """A call failed: count it; open at the threshold, or again after a failed trial."""
        self.failures += 1
        if self.trial_running or (self.opened_at is None and self.failures >= self.threshold):
            self.opened_at = now
            self.opened_count += 1
        self.trial_running = False
