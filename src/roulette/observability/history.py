"""The monitor's memory for the dashboard: sampled figures and notable events, bounded.

Each monitor pass appends one sample (figure name → value); aggregates give min, mean, max
and last over 1 min, 5 min and 1 h. Events (alerts, recovery actions, scaling requests) are
kept in a bounded ring. Long history belongs to Prometheus. Pure: time comes in as ``at``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from roulette.observability.window import WINDOWS

__all__ = ["Event", "History"]

MAX_SAMPLES = 3600
"""One hour at one sample a second; at the default 5 s interval, five hours' worth."""
MAX_EVENTS = 500


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened: ``kind`` is alert, recovery or scaling."""

    at: float
    kind: str
    name: str
    detail: str


class History:
    """Bounded series of samples and events."""

    def __init__(self, max_samples: int = MAX_SAMPLES, max_events: int = MAX_EVENTS) -> None:
        self._samples: deque[tuple[float, dict[str, float | None]]] = deque(maxlen=max_samples)
        self._events: deque[Event] = deque(maxlen=max_events)

    def add(self, at: float, figures: Mapping[str, float | None]) -> None:
        """Record one sample taken at ``at``."""
        self._samples.append((at, dict(figures)))

    def note(self, event: Event) -> None:
        """Record one event."""
        self._events.append(event)

    def series(self, since: float) -> dict[str, Any]:
        """Samples taken after ``since``, column-wise: ``{"t": [...], "<figure>": [...]}``."""
        rows = [(at, f) for at, f in self._samples if at > since]
        names = sorted({name for _, f in rows for name in f})
        return {"t": [at for at, _ in rows]} | {n: [f.get(n) for _, f in rows] for n in names}

    def aggregates(self, now: float) -> dict[str, dict[str, dict[str, float | None]]]:
        """Per window (1m, 5m, 1h), per figure: min, mean, max, last."""
        result: dict[str, dict[str, dict[str, float | None]]] = {}
        for label, seconds in WINDOWS.items():
            rows = [f for at, f in self._samples if at > now - seconds]
            columns: dict[str, list[float]] = {}
            for figures in rows:
                for name, value in figures.items():
                    if value is not None:
                        columns.setdefault(name, []).append(value)
            result[label] = {name: _aggregate(values) for name, values in sorted(columns.items())}
        return result

    def events(self, since: float) -> list[dict[str, Any]]:
        """Events after ``since``, oldest first."""
        return [
            {"at": e.at, "kind": e.kind, "name": e.name, "detail": e.detail}
            for e in self._events
            if e.at > since
        ]


def _aggregate(values: list[float]) -> dict[str, float | None]:
    return {
        "min": round(min(values), 3),
        "mean": round(sum(values) / len(values), 3),
        "max": round(max(values), 3),
        "last": round(values[-1], 3),
    }
