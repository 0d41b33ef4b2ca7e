"""Pure policies of the chain client: retry backoff and the contract-signature rate limit."""

from __future__ import annotations

import random
from collections import OrderedDict

__all__ = ["RateLimit", "backoff_delays"]


def backoff_delays(retries: int, *, base: float, cap: float, rng: random.Random) -> list[float]:
    """The sleeps between attempts: exponential with "full jitter", capped.

    Full jitter (a uniform draw below the exponential bound) spreads the retries of many
    callers hit by the same outage, so they do not return in lockstep.

    Args:
        retries: how many retries follow the first attempt.
        base: the bound of the first sleep, in seconds; each next one doubles.
        cap: the largest bound.
        rng: the randomness (injected so that tests are exact).

    Returns:
        ``retries`` delays in seconds.
    """
    return [rng.uniform(0, min(cap, base * 2**attempt)) for attempt in range(retries)]


class RateLimit:
    """A per-key GCRA limit (a token bucket of ``burst`` refilled at ``per_second``).

    Used for the tighter limit on contract-wallet signature checks (EIP-1271, EIP-6492),
    each of which costs us one or more RPC calls. Bounded: the keys least recently seen
    are forgotten first, and a forgotten key starts again with a full bucket.

    Args:
        burst: how many checks may come at once.
        per_second: the sustained rate.
        max_keys: how many keys are remembered.
    """

    def __init__(self, *, burst: int, per_second: float, max_keys: int = 100_000) -> None:
        self._interval = 1.0 / per_second
        self._tolerance = self._interval * (burst - 1)
        self._max_keys = max_keys
        self._tat: OrderedDict[str, float] = OrderedDict()

    def allow(self, key: str, *, now: float) -> bool:
        """Take one unit for ``key``; False (and nothing taken) when the limit is reached."""
        tat = max(self._tat.pop(key, now), now)
        if tat - now > self._tolerance:
            self._tat[key] = tat
            return False
        self._tat[key] = tat + self._interval
        while len(self._tat) > self._max_keys:
            self._tat.popitem(last=False)
        return True
