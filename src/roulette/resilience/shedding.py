"""Load shedding: refuse new work (503 + ``Retry-After``) before the node falls over.

:func:`should_shed` is the pure rule; :class:`LoopLag` measures how late the event loop runs
a timer (a saturated loop delays every socket, so new handshakes and sign-ins go elsewhere).
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass

__all__ = ["RETRY_AFTER_SECONDS", "LoopLag", "ShedPolicy", "should_shed", "should_shed_sign_in"]

RETRY_AFTER_SECONDS = 5
"""What ``Retry-After`` tells a client refused while the node sheds load."""


@dataclass(frozen=True, slots=True)
class ShedPolicy:
    """When to shed.

    Attributes:
        max_lag_seconds: the event loop's smoothed lag above which we shed.
        socket_fraction: shed when sockets in use reach this fraction of capacity.
        max_sign_in_lag_seconds: the loop's current lag above which sign-ins alone are shed.
        sign_in_min_sockets: that early threshold holds only while the node has at least this
            many sockets open: it exists to keep their heartbeats fast, and a node with few
            has little to protect (the general rule still covers it).
    """

    max_lag_seconds: float = 0.5
    socket_fraction: float = 0.95
    max_sign_in_lag_seconds: float = 0.05
    sign_in_min_sockets: int = 1000


def should_shed(policy: ShedPolicy, *, lag_seconds: float, in_use: int, capacity: int) -> bool:
    """Whether to refuse new handshakes and sign-ins now."""
    if lag_seconds > policy.max_lag_seconds:
        return True
    return capacity > 0 and in_use >= policy.socket_fraction * capacity


def should_shed_sign_in(
    policy: ShedPolicy,
    *,
    lag_seconds: float,
    current_lag_seconds: float,
    in_use: int,
    capacity: int,
    early: bool = True,
) -> bool:
    """Whether to refuse a sign-in request (nonce, verify, refresh) now: whenever new work is
    shed at all, and — when ``early`` and the node holds ``sign_in_min_sockets`` sockets — as
    soon as the loop's *current* lag (not the smoothed one: a storm must be met within a loop
    turn or two, not after the average catches up) passes the sign-in threshold."""
    if (
        early
        and in_use >= policy.sign_in_min_sockets
        and current_lag_seconds > policy.max_sign_in_lag_seconds
    ):
        return True
    return should_shed(policy, lag_seconds=lag_seconds, in_use=in_use, capacity=capacity)


class LoopLag:
    """The event loop's lag: how late a ``sleep(interval)`` wakes, smoothed (EWMA), and as
    of now (:meth:`current`)."""

    def __init__(self, interval: float = 0.1, smoothing: float = 0.3) -> None:
        self.interval = interval
        self.smoothing = smoothing
        self.seconds = 0.0
        self.last = 0.0
        """The latest measurement, unsmoothed."""
        self._due = math.inf
        """When the pending measurement's sleep should end (monotonic)."""
        self._stopped = asyncio.Event()

    def observe(self, late: float) -> None:
        """Fold one measurement in."""
        self.last = max(0.0, late)
        self.seconds += self.smoothing * (self.last - self.seconds)

    def current(self, now: float) -> float:
        """The lag as of ``now`` (monotonic): the latest measurement's, or more when the
        pending timer is already overdue — a loop busy with a burst says so while the burst
        is still running, not once it ends."""
        return max(self.last, now - self._due)

    async def run(self) -> None:
        """Measure until :meth:`stop`."""
        try:
            while not self._stopped.is_set():
                self._due = time.monotonic() + self.interval
                await asyncio.sleep(self.interval)
                self.observe(time.monotonic() - self._due)
        finally:
            self._due = math.inf  # no measurement pending: nothing is overdue

    def stop(self) -> None:
        """End :meth:`run` after its current sleep."""
        self._stopped.set()
