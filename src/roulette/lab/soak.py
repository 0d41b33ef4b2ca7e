"""The soak: ``roulette loadtest`` for many minutes while every worker's resident memory is
sampled; it must stay flat (a leak shows as steady growth)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from roulette.lab import health
from roulette.lab.state import LabState

__all__ = ["SoakResult", "render_soak", "run_soak"]

SAMPLE_SECONDS = 30.0


@dataclass
class SoakResult:
    """RSS samples (MiB) per worker, keyed ``node/pid``."""

    minutes: float
    samples: dict[str, list[float]] = field(default_factory=dict)
    load_exit: int | None = None


def rss_mib(pid: int) -> float | None:
    """A process's resident set size in MiB (None when it is gone)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return None


def run_soak(state: LabState, minutes: float, users: int, say: Callable[[str], None]) -> SoakResult:
    """Load the lab for ``minutes`` with ``users`` users, sampling every worker's RSS."""
    result = SoakResult(minutes)
    argv = [sys.executable, "-m", "roulette", "loadtest", "--url", state.app_url]
    argv += ["--users", str(users), "--duration", str(minutes * 60), "--ramp", "10", "--no-live"]
    argv += ["--output", str(state.path / "reliability" / "soak.json")]
    load = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while load.poll() is None:
            _sample(state, result)
            say(f"   soak: {len(next(iter(result.samples.values()), []))} samples")
            with contextlib.suppress(subprocess.TimeoutExpired):
                load.wait(SAMPLE_SECONDS)
        _sample(state, result)
    finally:
        if load.poll() is None:
            load.terminate()
            load.wait()
    result.load_exit = load.returncode
    return result


def _sample(state: LabState, result: SoakResult) -> None:
    for node in state.nodes:
        with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
            for pid in health.worker_pids(state, node):
                rss = rss_mib(pid)
                if rss is not None:
                    result.samples.setdefault(f"{node.name}/{pid}", []).append(rss)


def render_soak(result: SoakResult) -> str:
    """The soak's section of ``docs/reliability.md``."""
    lines = [
        "",
        f"## Soak: {result.minutes:g} minutes under load",
        "",
        f"RSS sampled every {SAMPLE_SECONDS:.0f} s (loadtest exit code {result.load_exit}).",
        "",
        "| worker | samples | first MiB | last MiB | max MiB | growth |",
        "|---|---|---|---|---|---|",
    ]
    for worker, values in sorted(result.samples.items()):
        growth = values[-1] - values[0]
        lines.append(
            f"| {worker} | {len(values)} | {values[0]:.1f} | {values[-1]:.1f} | "
            f"{max(values):.1f} | {growth:+.1f} |"
        )
    return "\n".join(lines) + "\n"
