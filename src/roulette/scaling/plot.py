"""A PNG of a simulation: load, instances, p95 latency, sockets per worker (matplotlib, Agg).

matplotlib is optional (the ``bench`` dependency group): without it no plot is drawn.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["write_plot"]


def write_plot(result: Mapping[str, Any], path: Path, *, socket_cap: int) -> bool:
    """Draw :func:`~roulette.scaling.simulation.simulate`'s result into ``path``.

    Returns:
        False when matplotlib is not installed (nothing written), else True.
    """
    try:
        matplotlib: Any = importlib.import_module("matplotlib")
    except ImportError:
        return False
    matplotlib.use("Agg")
    pyplot: Any = importlib.import_module("matplotlib.pyplot")
    series = result["series"]
    minutes = [row["t"] / 60 for row in series]
    figure, axes = pyplot.subplots(4, 1, figsize=(10, 11), sharex=True)
    load, instances, latency, sockets = axes
    figure.suptitle(f"roulette scaling simulate: {result['trace']}")
    load.plot(minutes, [row["users"] for row in series], label="users")
    load.set_ylabel("users")
    instances.plot(minutes, [row["instances"] for row in series], label="desired workers")
    instances.plot(minutes, [row["ready"] for row in series], "--", label="ready workers")
    instances.set_ylabel("workers")
    latency.plot(minutes, [max(row["p95_ms"], 1.0) for row in series], "r-", label="p95 ms")
    latency.set_yscale("log")
    latency.set_ylabel("p95 latency, ms")
    sockets.plot(minutes, [row["sockets_mean"] for row in series], label="mean per worker")
    sockets.plot(minutes, [row["sockets_max"] for row in series], ":", label="max per worker")
    sockets.axhline(socket_cap, color="k", linewidth=0.8, label="MAX_CONNECTIONS")
    sockets.set_ylabel("sockets")
    sockets.set_xlabel("minutes")
    for ax in axes:
        ax.legend(loc="upper right", fontsize="small")
        ax.grid(visible=True, alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    pyplot.close(figure)
    return True
