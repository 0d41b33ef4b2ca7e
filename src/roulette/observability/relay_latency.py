"""Relay latency, sampled: 1 relayed message in :data:`SAMPLE_EVERY` is timed.

The relay path runs hundreds of thousands of times a second per core, so it makes no
Prometheus call and reads no clock for most messages: the hub counts messages and times only
every 64th (a bit test). A timed message's latency runs from the moment its frame arrived at
the sender's socket (the connection's ``last_seen``, taken as the frame was read) to the
moment the frame was written to the peer's socket — on this worker directly (path ``local``);
through another worker (path ``bridge``), the envelope carries the arrival time on the wall
clock and the receiving worker observes on delivery (across hosts, clock skew adds in).

Samples wait in a bounded list until :class:`~roulette.observability.metrics.MetricsSync`
moves them into the ``roulette_relay_latency_seconds`` histogram, once a second; the last
:data:`MAX_RECENT` stay for the percentiles of ``/health/performance``. Pure: times come in.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Final

__all__ = ["MAX_PENDING", "MAX_RECENT", "SAMPLE_EVERY", "SAMPLE_MASK", "RelayLatency"]

SAMPLE_EVERY: Final = 64
"""One relayed message in this many is timed (a power of two: the hot path tests a mask)."""
SAMPLE_MASK: Final = SAMPLE_EVERY - 1
MAX_PENDING: Final = 8_192
"""Samples waiting for the next sync at most (more are counted in ``lost``)."""
MAX_RECENT: Final = 4_096
"""Samples kept per path for the percentiles (the newest; older ones fall out)."""

PATHS: Final = ("local", "bridge")


class RelayLatency:
    """Timed relay samples of one process, by path (``local`` or ``bridge``)."""

    __slots__ = ("lost", "pending", "recent")

    def __init__(self) -> None:
        self.pending: list[tuple[str, float]] = []
        self.recent: dict[str, deque[tuple[float, float]]] = {
            path: deque(maxlen=MAX_RECENT) for path in PATHS
        }
        self.lost = 0

    def record(self, path: str, seconds: float) -> None:
        """One timed message (negative latencies, from clock skew, count as 0)."""
        if len(self.pending) >= MAX_PENDING:
            self.lost += 1
            return
        self.pending.append((path, max(0.0, seconds)))

    def drain(self, now: float) -> list[tuple[str, float]]:
        """The samples since the last call; they join the recent ones, stamped ``now``."""
        samples, self.pending = self.pending, []
        for path, seconds in samples:
            self.recent[path].append((now, seconds))
        return samples

    def summary(self, seconds: float, now: float) -> dict[str, dict[str, float | int | None]]:
        """Per path: samples, p50/p95/p99/max in ms over the last ``seconds`` (recent ones)."""
        result: dict[str, dict[str, float | int | None]] = {}
        for path, recent in self.recent.items():
            values = sorted(s for at, s in recent if at > now - seconds)
            result[path] = {
                "samples": len(values),
                "p50": _ms(_quantile(values, 0.50)),
                "p95": _ms(_quantile(values, 0.95)),
                "p99": _ms(_quantile(values, 0.99)),
                "max": _ms(values[-1] if values else None),
            }
        return result

    def p95_ms(self, now: float, seconds: float = 60.0) -> float | None:
        """The worst path's p95 over the last ``seconds`` (ms), for the dashboard's chart."""
        p95s = [s["p95"] for s in self.summary(seconds, now).values() if s["p95"] is not None]
        return float(max(p95s)) if p95s else None


def _quantile(ordered: list[float], q: float) -> float | None:
    """The nearest-rank ``q`` quantile of sorted values."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000.0, 4)
