"""The node's dashboard data: every worker's ``/dashboard/data`` merged into one.

Each worker samples its own figures (its monitor pass); the node's figure at a time is the
sum over workers for counts and rates (requests, sockets, relayed messages), the mean for
figures of the shared host (CPU, memory, load: every worker reads the same host) and for
sockets as a share of the cap (every worker has the same cap), and the worst worker's for
everything else (latencies, loop lag, error share, dependencies down). Workers sample at
different moments, so samples are aligned on a grid of the monitor interval, each worker's
newest sample carried forward for up to two steps. Pure: the answers and ``now`` come in.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Mapping
from typing import Any, Final

from roulette.observability.history import History

__all__ = ["MEAN_FIGURES", "SUM_FIGURES", "merge_workers"]

SUM_FIGURES: Final = frozenset({"http_rps", "connections", "relayed_per_second"})
MEAN_FIGURES: Final = frozenset({"cpu_percent", "memory_percent", "load1", "sockets_percent"})
_RANK: Final = {"ok": 0, "warning": 1, "critical": 2}
CARRY_STEPS: Final = 2.0
"""A worker's sample stands for it this many grid steps at most (then it counts as absent)."""

Rows = list[tuple[float, dict[str, float | None]]]


def merge_workers(answers: Mapping[str, dict[str, Any]], now: float) -> dict[str, Any]:
    """One ``/dashboard/data`` body for the node from each worker's (worker id → body)."""
    rows = {worker: _rows(body.get("series", {})) for worker, body in answers.items()}
    step = _step(rows)
    history = History()
    for at, figures in _aligned(rows, step):
        history.add(at, figures)
    since = min((r[0][0] for r in rows.values() if r), default=now) - 1.0
    events = [
        event | {"worker": worker}
        for worker, body in answers.items()
        for event in body.get("events", [])
    ]
    return {
        "now": now,
        "worker": f"node ({len(answers)}: {', '.join(sorted(answers))})",
        "workers": sorted(answers),
        "stepSeconds": step,
        "series": history.series(since),
        "aggregates": history.aggregates(now),
        "events": sorted(events, key=lambda e: float(e.get("at", 0.0))),
        "alerts": _worst(body.get("alerts", {}) for body in answers.values()),
        "levels": _worst(body.get("levels", {}) for body in answers.values()),
        "notReady": sorted({r for body in answers.values() for r in body.get("notReady", [])}),
    }


def _rows(series: Mapping[str, list[Any]]) -> Rows:
    times = series.get("t", [])
    names = [n for n in series if n != "t"]
    return [(float(t), {n: series[n][i] for n in names}) for i, t in enumerate(times)]


def _step(rows: Mapping[str, Rows]) -> float:
    """The monitor interval, as the workers' sample spacing shows it (1 s without samples)."""
    gaps = [b[0] - a[0] for r in rows.values() for a, b in itertools.pairwise(r)]
    return max(0.1, round(statistics.median(gaps), 3)) if gaps else 1.0


def _aligned(rows: Mapping[str, Rows], step: float) -> Rows:
    samples = sorted((at, worker, f) for worker, r in rows.items() for at, f in r)
    latest: dict[str, tuple[float, dict[str, float | None]]] = {}
    merged: Rows = []
    index = 0
    grid = sorted({_cell(at, step) for at, _, _ in samples})
    for cell in grid:
        while index < len(samples) and _cell(samples[index][0], step) <= cell:
            at, worker, figures = samples[index]
            latest[worker] = (at, figures)
            index += 1
        live = [f for at, f in latest.values() if cell - at <= CARRY_STEPS * step]
        merged.append((cell, _combine(live)))
    return merged


def _cell(at: float, step: float) -> float:
    return round(round(at / step) * step, 3)


def _combine(samples: list[dict[str, float | None]]) -> dict[str, float | None]:
    names = {name for figures in samples for name in figures}
    result: dict[str, float | None] = {}
    for name in sorted(names):
        values = [v for f in samples if (v := f.get(name)) is not None]
        if not values:
            result[name] = None
        elif name in SUM_FIGURES:
            result[name] = sum(values)
        elif name in MEAN_FIGURES:
            result[name] = sum(values) / len(values)
        else:
            result[name] = max(values)
    return result


def _worst(maps: Any) -> dict[str, str]:
    """Per name, the highest level label any worker reports."""
    result: dict[str, str] = {}
    for levels in maps:
        for name, label in levels.items():
            if _RANK.get(label, 0) >= _RANK.get(result.get(name, "ok"), 0):
                result[name] = label
    return result
