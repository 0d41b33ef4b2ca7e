"""Load-test numbers: mergeable latency histograms, per-process recorders, the run's aggregate.

Pure: no clock (times come in as arguments) and no I/O. Client processes send
:class:`Snapshot` deltas about once a second; the parent merges them into totals and a
one-second timeline, from which the report and the plot are drawn.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "CONNECTED",
    "HEARTBEAT_RTT",
    "IN_SESSION",
    "LOGINS",
    "LOGIN_TIME",
    "MATCHES",
    "RECONNECTS",
    "RELAYED",
    "RELAY_LATENCY",
    "SENT",
    "STALE",
    "TIME_TO_MATCH",
    "Aggregate",
    "Histogram",
    "Recorder",
    "Snapshot",
]

# Counters (events since the last snapshot).
LOGINS: Final = "logins"
MATCHES: Final = "matches"
RELAYED: Final = "relayed_msgs"
SENT: Final = "sent_msgs"
STALE: Final = "stale_session_msgs"
RECONNECTS: Final = "reconnects"
# Gauges (levels now).
CONNECTED: Final = "connected"
IN_SESSION: Final = "in_session"
# Histograms (seconds).
TIME_TO_MATCH: Final = "time_to_match"
RELAY_LATENCY: Final = "relay_latency"
HEARTBEAT_RTT: Final = "heartbeat_rtt"
LOGIN_TIME: Final = "login_time"

_PER_OCTAVE: Final = 16
"""Buckets per doubling: a bucket is 4.4% wide, so a percentile is within ±2.2% of the truth."""
_FLOOR: Final = 1e-6
"""Values below 1 µs share bucket 0."""
_PERCENTILES: Final = (50, 95, 99)


class Histogram:
    """A log-bucketed histogram of non-negative values (seconds), cheap to merge and to ship."""

    __slots__ = ("buckets", "count", "maximum", "total")

    def __init__(self) -> None:
        """An empty histogram."""
        self.buckets: Counter[int] = Counter()
        self.count = 0
        self.total = 0.0
        self.maximum = 0.0

    def add(self, value: float) -> None:
        """Record one value; negative values (clock skew) count as zero."""
        value = max(value, 0.0)
        index = 0 if value <= _FLOOR else int(math.log2(value / _FLOOR) * _PER_OCTAVE)
        self.buckets[index] += 1
        self.count += 1
        self.total += value
        self.maximum = max(self.maximum, value)

    def merge(self, other: Histogram) -> None:
        """Add every value of ``other`` to this histogram."""
        self.buckets.update(other.buckets)
        self.count += other.count
        self.total += other.total
        self.maximum = max(self.maximum, other.maximum)

    def percentile(self, q: float) -> float:
        """The nearest-rank ``q``-th percentile (0 < q ≤ 100), or 0.0 when empty."""
        if self.count == 0:
            return 0.0
        rank = max(1, math.ceil(self.count * q / 100))
        seen = 0
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if seen >= rank:
                middle = _FLOOR * 2 ** ((index + 0.5) / _PER_OCTAVE) if index else 0.0
                return min(middle, self.maximum)
        return self.maximum  # pragma: no cover - the ranks always add up to count

    def summary_ms(self) -> dict[str, float]:
        """Count, mean, p50/p95/p99 and max, in milliseconds."""
        result: dict[str, float] = {"count": self.count}
        result["mean"] = round(1000 * self.total / self.count, 3) if self.count else 0.0
        for q in _PERCENTILES:
            result[f"p{q}"] = round(1000 * self.percentile(q), 3)
        result["max"] = round(1000 * self.maximum, 3)
        return result


@dataclass(slots=True)
class Snapshot:
    """What one client process saw since its previous snapshot.

    Attributes:
        worker: the client process's number.
        at: seconds since the run's start when it was taken.
        counters: event counts since the previous snapshot.
        errors: error counts by kind since the previous snapshot.
        histograms: latencies observed since the previous snapshot.
        gauges: levels at ``at`` (connected users, users in a session).
        final: the process's last snapshot.
    """

    worker: int
    at: float
    counters: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    histograms: dict[str, Histogram] = field(default_factory=dict)
    gauges: dict[str, int] = field(default_factory=dict)
    final: bool = False


class Recorder:
    """The numbers of one client process: counts, errors, latencies, levels."""

    __slots__ = ("counters", "errors", "gauges", "histograms")

    def __init__(self) -> None:
        """Nothing recorded yet."""
        self.counters: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.histograms: dict[str, Histogram] = {}
        self.gauges: Counter[str] = Counter()

    def count(self, name: str, amount: int = 1) -> None:
        """Add ``amount`` to counter ``name``."""
        self.counters[name] += amount

    def error(self, kind: str) -> None:
        """Count one error of ``kind`` (``http_429``, ``ws_closed_1008``, ``timeout_answer``, …)."""
        self.errors[kind] += 1

    def observe(self, name: str, seconds: float) -> None:
        """Record one latency into histogram ``name``."""
        histogram = self.histograms.get(name)
        if histogram is None:
            histogram = self.histograms[name] = Histogram()
        histogram.add(seconds)

    def level(self, name: str, delta: int) -> None:
        """Move gauge ``name`` by ``delta``."""
        self.gauges[name] += delta

    def take(self, worker: int, at: float, *, final: bool = False) -> Snapshot:
        """The deltas since the previous call (then reset), with the gauges' levels now."""
        snapshot = Snapshot(
            worker=worker,
            at=at,
            counters=dict(self.counters),
            errors=dict(self.errors),
            histograms=self.histograms,
            gauges=dict(self.gauges),
            final=final,
        )
        self.counters.clear()
        self.errors.clear()
        self.histograms = {}
        return snapshot


@dataclass(slots=True)
class _Bin:
    counters: Counter[str] = field(default_factory=Counter)
    errors: int = 0
    histograms: dict[str, Histogram] = field(default_factory=dict)
    gauges: dict[int, dict[str, int]] = field(default_factory=dict)


def _merge_into(target: dict[str, Histogram], source: dict[str, Histogram]) -> None:
    for name, histogram in source.items():
        target.setdefault(name, Histogram()).merge(histogram)


class Aggregate:
    """All snapshots of a run: totals, the latest levels and a one-second timeline."""

    def __init__(self) -> None:
        """No snapshot yet."""
        self.counters: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.histograms: dict[str, Histogram] = {}
        self.gauges: dict[int, dict[str, int]] = {}
        self.peaks: Counter[str] = Counter()
        self.last_at = 0.0
        self._bins: dict[int, _Bin] = {}

    def add(self, snapshot: Snapshot) -> None:
        """Merge one client process's snapshot."""
        self.counters.update(snapshot.counters)
        self.errors.update(snapshot.errors)
        _merge_into(self.histograms, snapshot.histograms)
        self.gauges[snapshot.worker] = snapshot.gauges
        self.last_at = max(self.last_at, snapshot.at)
        self.peaks[CONNECTED] = max(self.peaks[CONNECTED], self.level(CONNECTED))
        slot = self._bins.setdefault(max(1, round(snapshot.at)), _Bin())
        slot.counters.update(snapshot.counters)
        slot.errors += sum(snapshot.errors.values())
        _merge_into(slot.histograms, snapshot.histograms)
        slot.gauges[snapshot.worker] = snapshot.gauges

    def level(self, name: str) -> int:
        """The sum of gauge ``name`` over client processes, as last reported."""
        return sum(gauges.get(name, 0) for gauges in self.gauges.values())

    def timeline(self) -> list[dict[str, float]]:
        """One row per second of the run: levels, rates per second, latency percentiles (ms)."""
        rows = []
        levels: dict[int, dict[str, int]] = {}  # a late process's last levels carry forward
        for second in sorted(self._bins):
            slot = self._bins[second]
            levels.update(slot.gauges)
            relay = slot.histograms.get(RELAY_LATENCY, Histogram())
            match = slot.histograms.get(TIME_TO_MATCH, Histogram())
            rows.append(
                {
                    "t": second,
                    "connected": sum(g.get(CONNECTED, 0) for g in levels.values()),
                    "logins_per_s": slot.counters[LOGINS],
                    "matches_per_s": slot.counters[MATCHES],
                    "relayed_per_s": slot.counters[RELAYED],
                    "errors": slot.errors,
                    "relay_p50_ms": round(1000 * relay.percentile(50), 3),
                    "relay_p99_ms": round(1000 * relay.percentile(99), 3),
                    "match_p50_ms": round(1000 * match.percentile(50), 3),
                    "match_p99_ms": round(1000 * match.percentile(99), 3),
                }
            )
        return rows

    def latest_rates(self) -> dict[str, float]:
        """The rates of the last complete second (for the live view)."""
        rows = self.timeline()
        return rows[-2] if len(rows) > 1 else (rows[-1] if rows else {})

    def summary(self, seconds: float) -> dict[str, Any]:
        """Totals, rates over ``seconds`` and latency percentiles: the report's core."""
        seconds = max(seconds, 1e-9)
        rows = self.timeline()
        return {
            "totals": dict(sorted(self.counters.items())),
            "logins_per_s": round(self.counters[LOGINS] / seconds, 2),
            "matches_per_s": round(self.counters[MATCHES] / seconds, 2),
            "relayed_msgs_per_s": round(self.counters[RELAYED] / seconds, 2),
            "peak_per_s": {
                key: max((row[key] for row in rows), default=0)
                for key in ("logins_per_s", "matches_per_s", "relayed_per_s")
            },
            "peak_connected": self.peaks[CONNECTED],
            "time_to_match_ms": self._summary_ms(TIME_TO_MATCH),
            "relay_latency_ms": self._summary_ms(RELAY_LATENCY),
            "heartbeat_rtt_ms": self._summary_ms(HEARTBEAT_RTT),
            "login_time_ms": self._summary_ms(LOGIN_TIME),
            "errors": sum(self.errors.values()),
            "errors_by_kind": dict(sorted(self.errors.items())),
        }

    def _summary_ms(self, name: str) -> dict[str, float]:
        return self.histograms.get(name, Histogram()).summary_ms()
