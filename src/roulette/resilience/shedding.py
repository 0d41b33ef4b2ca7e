"""Load shedding: refuse new work (503 + ``Retry-After``) before the node falls over.

:func:`should_shed` is the pure rule; :class:`LoopLag` measures how late the event loop runs
a timer (a saturated loop delays every socket, so new handshakes and sign-ins go elsewhere).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

__all__ = ["RETRY_AFTER_SECONDS", "LoopLag", "ShedPolicy", "should_shed"]

RETRY_AFTER_SECONDS = 5
"""What ``Retry-After`` tells a client refused while the node sheds load."""


@dataclass(frozen=True, slots=True)
class ShedPolicy:
    """When to shed.

    Attributes:
        max_lag_seconds: the event loop's smoothed lag above which we shed.
        socket_fraction: shed when sockets in use reach this fraction of capacity.
    """

    max_lag_seconds: float = 0.5
    socket_fraction: float = 0.95


def should_shed(policy: ShedPolicy, *, lag_seconds: float, in_use: int, capacity: int) -> bool:
    """Whether to refuse new handshakes and sign-ins now."""
    if lag_seconds > policy.max_lag_seconds:
        return True
    return capacity > 0 and in_use >= policy.socket_fraction * capacity


class LoopLag:
    """The event loop's lag: how late a ``sleep(interval)`` wakes, smoothed (EWMA)."""

    def __init__(self, interval: float = 0.1, smoothing: float = 0.3) -> None:
        self.interval = interval
        self.smoothing = smoothing
        self.seconds = 0.0
        self._stopped = asyncio.Event()

    def observe(self, late: float) -> None:
        """Fold one measurement in."""
        self.seconds += self.smoothing * (max(0.0, late) - self.seconds)

    async def run(self) -> None:
        """Measure until :meth:`stop`."""
        while not self._stopped.is_set():
            started = time.monotonic()
            await asyncio.sleep(self.interval)
            self.observe(time.monotonic() - started - self.interval)

    def stop(self) -> None:
        """End :meth:`run` after its current sleep."""
        self._stopped.set()
