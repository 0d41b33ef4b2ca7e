"""A circuit breaker: closed until ``threshold`` failures in a row, then open. While open,
one caller at a time probes the dependency and every other caller fails at once; the first
probe that succeeds closes it. Pure: no clock, no I/O.

The pattern (Nygard, "Release It!") keeps a node from queueing every request behind a
dependency that is down or hanging. Probing with one caller instead of waiting out a fixed
reset period means the node heals as soon as the dependency answers again, while a hanging
dependency still holds at most one request at a time.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Breaker", "BreakerState"]


class BreakerState(enum.StrEnum):
    """What the breaker lets through."""

    CLOSED = "closed"
    OPEN = "open"


@dataclass(slots=True)
class Breaker:
    """One dependency's breaker.

    Args:
        name: the dependency (``redis``, ``sql``), for health and metrics.
        threshold: consecutive failures that open it.
    """

    name: str
    threshold: int = 5
    failures: int = 0
    opened: bool = False
    probing: bool = False
    opened_count: int = 0

    @property
    def state(self) -> BreakerState:
        """Closed or open."""
        return BreakerState.OPEN if self.opened else BreakerState.CLOSED

    def allow(self) -> bool:
        """May a call go through now? (While open: only when no probe is in flight.)"""
        if not self.opened:
            return True
        if self.probing:
            return False
        self.probing = True
        return True

    def success(self) -> None:
        """A call succeeded: close."""
        self.failures = 0
        self.opened = False
        self.probing = False

    def failure(self) -> None:
        """A call failed because of the dependency: count it, open at the threshold."""
        self.failures += 1
        self.probing = False
        if not self.opened and self.failures >= self.threshold:
            self.opened = True
            self.opened_count += 1

    def release(self) -> None:
        """A call ended for another reason (the caller's mistake, a cancel): no verdict."""
        self.probing = False
