"""Token buckets per key (client IP, wallet) with a bounded number of keys, pure.

HTTP endpoints that cost us something (a nonce kept for five minutes, a signature recovery, a
stored report) are limited per client. The table of buckets is itself bounded: the least
recently seen keys are forgotten first, which at worst gives a forgotten key a fresh burst.
"""

from __future__ import annotations

from collections import OrderedDict

from roulette.relay.limits import TokenBucket

__all__ = ["KeyedLimiter"]


class KeyedLimiter:
    """One :class:`TokenBucket` per key, at most ``max_keys`` of them.

    Args:
        burst: requests allowed at once per key.
        per_second: sustained requests per second per key.
        max_keys: how many keys are remembered.
    """

    __slots__ = ("_buckets", "burst", "max_keys", "per_second")

    def __init__(self, *, burst: float, per_second: float, max_keys: int = 100_000) -> None:
        self.burst = burst
        self.per_second = per_second
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def allow(self, key: str, now: float) -> bool:
        """Take one token from ``key``'s bucket; False when it is empty."""
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self.burst, self.per_second)
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket.allow(now)

    def __len__(self) -> int:
        return len(self._buckets)
