"""A PNG of a load-test run: users, throughput and latency over time (matplotlib, Agg).

matplotlib is optional (the ``bench`` dependency group): without it no plot is drawn.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["write_plot"]


def write_plot(timeline: Sequence[dict[str, float]], path: Path, title: str) -> bool:
    """Draw the run's timeline into ``path``.

    Args:
        timeline: one row per second (see :meth:`~roulette.loadtest.stats.Aggregate.timeline`).
        path: the PNG file to write.
        title: the figure's title.

    Returns:
        False when matplotlib is not installed (nothing written), else True.
    """
    try:
        matplotlib: Any = importlib.import_module("matplotlib")
    except ImportError:
        return False
    matplotlib.use("Agg")
    pyplot: Any = importlib.import_module("matplotlib.pyplot")
    t = [row["t"] for row in timeline]
    figure, (users, rates, latency) = pyplot.subplots(3, 1, figsize=(10, 9), sharex=True)
    figure.suptitle(title)
    users.plot(t, [row["connected"] for row in timeline], label="connected users")
    users.set_ylabel("users")
    rates.plot(t, [row["relayed_per_s"] for row in timeline], label="relayed msgs/s")
    rates.set_ylabel("relayed msgs/s")
    events = rates.twinx()
    events.plot(t, [row["matches_per_s"] for row in timeline], "g-", label="matches/s")
    events.plot(t, [row["logins_per_s"] for row in timeline], "r:", label="logins/s")
    events.set_ylabel("matches/s, logins/s")
    for key, style in (
        ("relay_p50_ms", "b-"),
        ("relay_p99_ms", "b--"),
        ("match_p50_ms", "m-"),
        ("match_p99_ms", "m--"),
    ):
        # A second without samples is a gap, not a zero (the axis is logarithmic).
        values = [row[key] if row[key] > 0 else float("nan") for row in timeline]
        latency.plot(t, values, style, label=key)
    latency.set_yscale("log")
    latency.set_ylabel("ms")
    latency.set_xlabel("seconds since start")
    for axes in (users, rates, events, latency):
        axes.legend(loc="upper left" if axes is not events else "upper right", fontsize="small")
        if axes is not events:
            axes.grid(visible=True, alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
    return True
