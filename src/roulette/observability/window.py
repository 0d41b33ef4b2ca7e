"""Rolling in-process aggregates: latency percentiles, rates and errors over 1 min, 5 min, 1 h.

Observations land in time slots of :data:`SLOT_SECONDS`; a ring of slots covers the longest
window, so memory is bounded by (slots × keys × buckets) whatever the traffic. Keys are route
templates, statement kinds and error codes — bounded sets, never addresses. Percentiles are
estimated from fixed buckets by linear interpolation (as Prometheus' ``histogram_quantile``).
Pure: time comes in as ``now``.
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field

__all__ = ["BOUNDS_MS", "WINDOWS", "LatencyWindow", "Stats", "percentile"]

SLOT_SECONDS = 10.0
WINDOWS = {"1m": 60.0, "5m": 300.0, "1h": 3600.0}
BOUNDS_MS = (1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0)
MAX_KEYS = 256
"""Distinct keys per slot at most; more are folded into ``other`` (cardinality stays bounded)."""


def percentile(buckets: list[int], q: float) -> float | None:
    """The ``q`` quantile (0..1) in ms from bucket counts (the last bucket is +Inf)."""
    total = sum(buckets)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for i, count in enumerate(buckets):
        if count and seen + count >= rank:
            low = BOUNDS_MS[i - 1] if i > 0 else 0.0
            if i >= len(BOUNDS_MS):
                return BOUNDS_MS[-1]  # beyond the last bound: its value is the best we know
            return low + (BOUNDS_MS[i] - low) * (rank - seen) / count
        seen += count
    return BOUNDS_MS[-1]


@dataclass(slots=True)
class Stats:
    """Counts, errors and a latency histogram of one key."""

    count: int = 0
    errors: int = 0
    total_ms: float = 0.0
    max_ms: float = 0.0
    buckets: list[int] = field(default_factory=lambda: [0] * (len(BOUNDS_MS) + 1))

    def add(self, ms: float, error: bool) -> None:
        """One observation."""
        self.count += 1
        self.errors += error
        self.total_ms += ms
        self.max_ms = max(self.max_ms, ms)
        self.buckets[bisect.bisect_left(BOUNDS_MS, ms)] += 1

    def merge(self, other: Stats) -> None:
        """Add ``other`` into this one."""
        self.count += other.count
        self.errors += other.errors
        self.total_ms += other.total_ms
        self.max_ms = max(self.max_ms, other.max_ms)
        self.buckets = [a + b for a, b in zip(self.buckets, other.buckets, strict=True)]

    def summary(self, seconds: float) -> dict[str, float | int | None]:
        """JSON-ready figures over a window of ``seconds``."""
        return {
            "count": self.count,
            "perSecond": round(self.count / seconds, 3),
            "errors": self.errors,
            "errorPercent": round(100.0 * self.errors / self.count, 3) if self.count else 0.0,
            "meanMs": round(self.total_ms / self.count, 3) if self.count else None,
            "p50Ms": _round(percentile(self.buckets, 0.50)),
            "p95Ms": _round(percentile(self.buckets, 0.95)),
            "p99Ms": _round(percentile(self.buckets, 0.99)),
            "maxMs": round(self.max_ms, 3),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


@dataclass(slots=True)
class _Slot:
    start: float
    keys: dict[str, Stats] = field(default_factory=dict)
    events: Counter[str] = field(default_factory=Counter)


class LatencyWindow:
    """Per-key latency and error aggregates, plus counted events, over rolling windows."""

    def __init__(self, horizon: float = WINDOWS["1h"]) -> None:
        self._slots: list[_Slot] = []
        self._keep = int(horizon // SLOT_SECONDS) + 1

    def _slot(self, now: float) -> _Slot:
        start = now - now % SLOT_SECONDS
        if not self._slots or self._slots[-1].start != start:
            self._slots.append(_Slot(start))
            del self._slots[: -self._keep]
        return self._slots[-1]

    def observe(self, key: str, ms: float, now: float, *, error: bool = False) -> None:
        """One timed operation of ``key`` (a route template, a statement kind)."""
        keys = self._slot(now).keys
        if key not in keys and len(keys) >= MAX_KEYS:
            key = "other"
        keys.setdefault(key, Stats()).add(ms, error)

    def count(self, event: str, now: float, n: int = 1) -> None:
        """Count an event (an error code, a slow query's statement)."""
        events = self._slot(now).events
        if event in events or len(events) < MAX_KEYS:
            events[event] += n

    def _recent(self, seconds: float, now: float) -> list[_Slot]:
        return [s for s in self._slots if s.start > now - seconds - SLOT_SECONDS]

    def by_key(self, seconds: float, now: float) -> dict[str, Stats]:
        """Merged stats per key over the last ``seconds``."""
        merged: dict[str, Stats] = {}
        for slot in self._recent(seconds, now):
            for key, stats in slot.keys.items():
                merged.setdefault(key, Stats()).merge(stats)
        return merged

    def total(self, seconds: float, now: float) -> Stats:
        """All keys merged over the last ``seconds``."""
        merged = Stats()
        for stats in self.by_key(seconds, now).values():
            merged.merge(stats)
        return merged

    def top_events(self, seconds: float, now: float, n: int = 10) -> list[tuple[str, int]]:
        """The ``n`` most counted events over the last ``seconds``."""
        merged: Counter[str] = Counter()
        for slot in self._recent(seconds, now):
            merged.update(slot.events)
        return merged.most_common(n)
