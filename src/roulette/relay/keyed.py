"""Rate limits per key (client IP, wallet) with a bounded number of keys, pure.

Endpoints that cost us something (a nonce kept for five minutes, a signature recovery, an RPC
call for a contract wallet, a stored report) are limited per client. Each key is a GCRA cell
(the "virtual scheduling" form of a token bucket, ITU-T I.371): one float of state. The table
is bounded: the least recently seen keys are forgotten first, which at worst gives a forgotten
key a fresh burst.
"""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["KeyedLimiter"]


class KeyedLimiter:
    """A token bucket of ``burst`` refilled at ``per_second`` per key, at most ``max_keys`` keys.

    Args:
        burst: requests allowed at once per key.
        per_second: sustained requests per second per key.
        max_keys: how many keys are remembered.

    Raises:
        ValueError: ``burst`` or ``per_second`` is not positive.
    """

    __slots__ = ("_interval", "_max_keys", "_tat", "_tolerance")

    def __init__(self, *, burst: float, per_second: float, max_keys: int = 100_000) -> None:
        if not (burst > 0 and per_second > 0):
            raise ValueError(f"burst and per_second must be positive, got {burst}, {per_second}")
        self._interval = 1.0 / per_second
        self._tolerance = self._interval * (burst - 1)
        self._max_keys = max_keys
        self._tat: OrderedDict[str, float] = OrderedDict()

    def allow(self, key: str, now: float) -> bool:
        """Take one unit for ``key``; False (and nothing taken) when its bucket is empty."""
        tat = max(self._tat.pop(key, now), now)
        if tat - now > self._tolerance + 1e-9:  # tolerance: float sums of many intervals
            self._tat[key] = tat
            return False
        self._tat[key] = tat + self._interval
        while len(self._tat) > self._max_keys:
            self._tat.popitem(last=False)
        return True

    def retry_after(self, key: str, now: float) -> float:
        """Seconds until ``key`` may take a unit again (0 when it may now)."""
        tat = self._tat.get(key)
        if tat is None:
            return 0.0
        return max(0.0, tat - self._tolerance - now)

    def debt(self, key: str, now: float) -> float:
        """Seconds until ``key``'s bucket is full again (0: untouched or forgotten)."""
        return max(0.0, self._tat.get(key, now) - now)

    def inherit(self, key: str, debt: float, now: float) -> None:
        """``key`` owes at least ``debt`` seconds from ``now`` (carried from another worker).

        Never lowers what is owed already, so it may be applied late or twice.
        """
        if debt <= 0.0:
            return
        self._tat[key] = max(self._tat.pop(key, now), now + debt)
        while len(self._tat) > self._max_keys:
            self._tat.popitem(last=False)

    def __len__(self) -> int:
        return len(self._tat)
