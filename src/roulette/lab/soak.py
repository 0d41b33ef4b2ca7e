"""The soak: ``roulette loadtest`` for many minutes while every worker's resident memory is
sampled; it must stay flat. A leak shows as a steady slope, so flatness is judged by the
least-squares slope of RSS over time after a warm-up (allocator arenas and caches fill first),
not by the difference of two samples, which one garbage collection can swing either way."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from roulette.lab import health
from roulette.lab.state import LabState

__all__ = ["FLAT_MIB_PER_HOUR", "SoakResult", "render_soak", "run_soak", "slope_per_hour"]

SAMPLE_SECONDS = 30.0
WARMUP_FRACTION = 1 / 6
"""The first sixth of the soak (5 min of 30) is warm-up, left out of the slope."""
FLAT_MIB_PER_HOUR = 4.0
"""A worker's RSS is flat when it grows by less than this per hour after warm-up (a leak this
small would take a day to cost 100 MiB)."""


@dataclass
class SoakResult:
    """RSS samples (MiB) per worker, keyed ``node/pid``, with their times (s from the start)."""

    minutes: float
    users: int = 0
    samples: dict[str, list[float]] = field(default_factory=dict)
    times: dict[str, list[float]] = field(default_factory=dict)
    load_exit: int | None = None
    load_average_start: tuple[float, ...] = ()
    load_average_end: tuple[float, ...] = ()
    load_totals: dict[str, object] = field(default_factory=dict)


def rss_mib(pid: int) -> float | None:
    """A process's resident set size in MiB (None when it is gone)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return None


def slope_per_hour(times: list[float], values: list[float], minutes: float) -> float | None:
    """Least-squares slope of ``values`` (MiB) over ``times`` (s), in MiB/hour, after warm-up.

    None when fewer than three samples remain after warm-up.
    """
    cut = minutes * 60 * WARMUP_FRACTION
    points = [(t, v) for t, v in zip(times, values, strict=True) if t >= cut]
    if len(points) < 3:
        return None
    mean_t = sum(t for t, _ in points) / len(points)
    mean_v = sum(v for _, v in points) / len(points)
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    if spread == 0:
        return None
    slope = sum((t - mean_t) * (v - mean_v) for t, v in points) / spread
    return slope * 3600


def run_soak(state: LabState, minutes: float, users: int, say: Callable[[str], None]) -> SoakResult:
    """Load the lab for ``minutes`` with ``users`` users, sampling every worker's RSS."""
    result = SoakResult(minutes, users, load_average_start=os.getloadavg())
    report = state.path / "reliability" / "soak.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "roulette", "loadtest", "--url", state.app_url]
    argv += ["--users", str(users), "--duration", str(minutes * 60), "--ramp", "10", "--no-live"]
    argv += ["--output", str(report)]
    started = time.monotonic()
    load = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while load.poll() is None:
            _sample(state, result, time.monotonic() - started)
            say(f"   soak: {len(next(iter(result.samples.values()), []))} samples")
            with contextlib.suppress(subprocess.TimeoutExpired):
                load.wait(SAMPLE_SECONDS)
        _sample(state, result, time.monotonic() - started)
    finally:
        if load.poll() is None:
            load.terminate()
            load.wait()
    result.load_exit = load.returncode
    result.load_average_end = os.getloadavg()
    with contextlib.suppress(OSError, ValueError):
        data = json.loads(report.read_text())
        result.load_totals = {**data.get("totals", {}), "errors": data.get("errors", 0)}
    (report.parent / "soak-samples.json").write_text(json.dumps(asdict(result), indent=1))
    return result


def _sample(state: LabState, result: SoakResult, elapsed: float) -> None:
    for node in state.nodes:
        with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
            for pid in health.worker_pids(state, node):
                rss = rss_mib(pid)
                if rss is not None:
                    result.samples.setdefault(f"{node.name}/{pid}", []).append(rss)
                    result.times.setdefault(f"{node.name}/{pid}", []).append(elapsed)


def _loadavg(values: tuple[float, ...]) -> str:
    return ", ".join(f"{x:.1f}" for x in values) or "?"


def render_soak(result: SoakResult) -> str:
    """The soak's section of ``docs/reliability.md``."""
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    totals = result.load_totals
    lines = [
        "",
        f"## Soak: {result.minutes:g} minutes under load",
        "",
        f"Ended {when}; `roulette loadtest` with {result.users} users (exit code "
        f"{result.load_exit}; sign-ins {totals.get('logins', '?')}, matches "
        f"{totals.get('matches', '?')}, relayed messages {totals.get('relayed_msgs', '?')}, "
        f"errors {totals.get('errors', '?')}). Load average at the start "
        f"{_loadavg(result.load_average_start)}, at the end {_loadavg(result.load_average_end)} "
        "(a shared 2-core machine). RSS sampled every "
        f"{SAMPLE_SECONDS:.0f} s; *slope*: least-squares fit after the first "
        f"{result.minutes * WARMUP_FRACTION:g} minutes (warm-up); *flat* when it is under "
        f"{FLAT_MIB_PER_HOUR:g} MiB/hour.",
        "",
        "| worker | samples | first MiB | last MiB | max MiB | growth | slope MiB/h | flat |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for worker, values in sorted(result.samples.items()):
        slope = slope_per_hour(result.times[worker], values, result.minutes)
        flat = "?" if slope is None else ("yes" if slope < FLAT_MIB_PER_HOUR else "**no**")
        slope_text = "?" if slope is None else f"{slope:+.2f}"
        lines.append(
            f"| {worker} | {len(values)} | {values[0]:.1f} | {values[-1]:.1f} | "
            f"{max(values):.1f} | {values[-1] - values[0]:+.1f} | {slope_text} | {flat} |"
        )
    return "\n".join(lines) + "\n"
