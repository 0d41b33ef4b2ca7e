"""Pure policies of the chain client: retry backoff (the rate limit is relay.keyed)."""

from __future__ import annotations

import random

__all__ = ["backoff_delays"]


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
