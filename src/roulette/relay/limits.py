"""Per-socket rate limits, pure: a token bucket, a cooldown for ``next``, and the limiter that
tells a refusable burst from sustained abuse (closed with 1008, RFC 6455 §7.4.1).

Time comes in as ``now`` (seconds on any monotonic clock). A node holds one limiter and one
cooldown per socket (10,000+), so each class has ``__slots__`` and only float state.
"""

from __future__ import annotations

import enum
import math

__all__ = ["Cooldown", "MessageLimiter", "TokenBucket", "Verdict"]


class Verdict(enum.Enum):
    """What to do with one incoming message."""

    ALLOW = "allow"
    """Handle it."""
    REFUSE = "refuse"
    """Drop it and answer ``error {code: rate_limited}``; the socket stays open."""
    CLOSE = "close"
    """Sustained abuse: close the socket with 1008 (policy violation)."""


class TokenBucket:
    """A token bucket: up to ``capacity`` at once, refilled at ``rate`` per second.

    It starts full, so a fresh client may burst straight away.

    Args:
        capacity: the largest burst, in tokens.
        rate: tokens added per second.

    Raises:
        ValueError: ``capacity`` or ``rate`` is not positive.
    """

    __slots__ = ("_tokens", "_updated", "capacity", "rate")

    def __init__(self, capacity: float, rate: float) -> None:
        if not (capacity > 0 and rate > 0):
            raise ValueError(f"capacity and rate must be positive, got {capacity} and {rate}")
        self.capacity = float(capacity)
        self.rate = float(rate)
        self._tokens = self.capacity
        # Minus infinity: the first refill tops the bucket up whatever the clock's origin.
        self._updated = -math.inf

    def allow(self, now: float, cost: float = 1.0) -> bool:
        """Take ``cost`` tokens if there are that many.

        Args:
            now: the current time; a clock going backwards refills nothing.
            cost: tokens this action needs.

        Returns:
            True when the tokens were taken; False leaves the bucket as it was.
        """
        if now > self._updated:
            self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
        if self._tokens < cost:
            return False
        self._tokens -= cost
        return True


class Cooldown:
    """At most one action per ``interval`` seconds ("``next`` at most once per 2 s").

    A refused attempt does not restart the interval.

    Args:
        interval: the shortest time between two allowed actions, in seconds.
    """

    __slots__ = ("_last", "interval")

    def __init__(self, interval: float) -> None:
        self.interval = float(interval)
        self._last = -math.inf

    def allow(self, now: float) -> bool:
        """True, and the interval restarts, when ``interval`` has passed since the last one."""
        if now - self._last < self.interval:
            return False
        self._last = now
        return True


class MessageLimiter:
    """The per-socket message rate limit, and when to give up on the socket.

    Messages draw from a bucket of ``burst`` tokens refilled at ``per_second`` (issue 2:
    bursts of at least 60, 20/s sustained). A message over the limit is refused; each refusal
    draws from a second bucket of ``max_refusals`` strikes refilled over ``refusal_window``
    seconds, and a refusal with no strike left means sustained abuse. So a client that only
    bursts now and then is slowed down, and one that keeps pushing is closed: by default more
    than 50 refusals within a few seconds, or well over 25 messages/s for longer.

    Args:
        burst: messages accepted at once.
        per_second: messages accepted per second, sustained.
        max_refusals: refusals tolerated at once before closing.
        refusal_window: seconds to forgive ``max_refusals`` refusals.
    """

    __slots__ = ("_interval", "_reported", "_span", "_strikes", "_tat")

    def __init__(
        self,
        *,
        burst: float = 60.0,
        per_second: float = 20.0,
        max_refusals: float = 50.0,
        refusal_window: float = 10.0,
    ) -> None:
        if not (burst > 0 and per_second > 0):
            raise ValueError(f"burst and per_second must be positive, got {burst}, {per_second}")
        # The message bucket runs on every frame, so it is kept as GCRA (the "virtual
        # scheduling" form of a token bucket, ITU-T I.371): one float of state and one
        # comparison instead of a refill computation. A message is allowed while the
        # theoretical arrival time stays within burst/per_second seconds of now.
        self._interval = 1.0 / per_second
        self._span = burst / per_second
        self._tat = -math.inf
        self._reported = -math.inf
        self._strikes = TokenBucket(max_refusals, max_refusals / refusal_window)

    def record(self, now: float, cost: float = 1.0) -> Verdict:
        """Count one incoming message and judge it.

        Args:
            now: when the message arrived.
            cost: its weight in messages.

        Returns:
            ALLOW, REFUSE (answer ``rate_limited``) or CLOSE (close with 1008).
        """
        tat = self._tat if self._tat > now else now
        tat += cost * self._interval
        if tat - now <= self._span + 1e-9:  # tolerance: float sums of many intervals
            self._tat = tat
            return Verdict.ALLOW
        if self._strikes.allow(now):
            return Verdict.REFUSE
        return Verdict.CLOSE

    def debt(self, now: float) -> float:
        """Seconds until the budget is whole again (0: untouched): what a wallet owes.

        Written to the shared store when a socket ends (and while it spends heavily), so the
        wallet's next socket, on any worker, starts as far in debt (issue 10, hole 3).
        """
        return max(0.0, self._tat - now)

    def inherit(self, debt: float, now: float) -> None:
        """Owe at least ``debt`` seconds from ``now`` (a previous socket's :meth:`debt`).

        Never lowers what is owed already, so it may be applied late or twice.
        """
        if debt > 0.0:
            self._tat = max(self._tat, now + debt)

    def report_due(self, now: float) -> bool:
        """True (once) when the debt is worth sharing before the socket ends: more than half
        the burst is spent and a quarter of it more than when last reported.

        A socket's successor, on another worker, may sign in before this one is seen to close;
        a heavy sender's debt is therefore written as it grows, a light one's only at the end.
        """
        tat = self._tat
        if tat - now <= 0.5 * self._span or tat - self._reported <= 0.25 * self._span:
            return False
        self._reported = tat
        return True
