"""``roulette loadtest``: start the client processes, gather their numbers, report the run.

The parent holds no sockets: it spawns ``processes`` client processes (each at most
15,000 users, so under the 20,000 open files a process may have), shows the live view, and
at the end prints a JSON summary, writes the full report (with a one-second timeline) and a PNG.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import platform
import queue
import sys
import time
from collections.abc import Iterator
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from typing import Any, Final

import httpx
from rich.console import Console, RenderableType
from rich.live import Live

from roulette.loadtest import scenario as sc
from roulette.loadtest.display import render
from roulette.loadtest.options import LoadtestOptions
from roulette.loadtest.plot import write_plot
from roulette.loadtest.stats import Aggregate, Snapshot
from roulette.loadtest.worker import WorkerSpec, worker_main

__all__ = ["run_loadtest"]

STARTUP_SECONDS: Final = 2.0
"""Time for client processes to start before the run's clock begins."""
STARTUP_PER_USER: Final = 0.0002
"""Extra start-up time per user of a process (deriving its wallets)."""
STOP_GRACE: Final = 20.0
"""How long after the deadline the parent waits for the processes' final numbers."""
EXIT_OK, EXIT_ERRORS, EXIT_UNREACHABLE = 0, 1, 2


def run_loadtest(options: LoadtestOptions) -> int:
    """Run one load test against ``options.url`` and report it.

    Prints a JSON summary on stdout; writes the full JSON report to ``options.output`` and a
    PNG to ``options.plot`` when given.

    Args:
        options: the run (checked with :meth:`LoadtestOptions.validate`).

    Returns:
        0 when the run had no errors, 1 when it had some, 2 when the service is unreachable.
    """
    console = Console(stderr=True)
    try:
        httpx.get(f"{options.url}/config", timeout=5.0).raise_for_status()
    except httpx.HTTPError as exc:
        console.print(f"[red]roulette loadtest: {options.url}/config: {exc}[/red]")
        return EXIT_UNREACHABLE
    per_process = -(-options.users // options.process_count)
    started_at = time.time() + STARTUP_SECONDS + STARTUP_PER_USER * per_process
    aggregate = Aggregate()
    with _client_processes(options, started_at) as (processes, out):
        _collect(options, started_at, aggregate, processes=processes, out=out, console=console)
    report = _report(options, aggregate)
    return _publish(report, options, console)


@contextlib.contextmanager
def _client_processes(
    options: LoadtestOptions, started_at: float
) -> Iterator[tuple[list[BaseProcess], Queue[Snapshot]]]:
    """The client processes, started; on exit, stopped (terminated if they outstay)."""
    context = multiprocessing.get_context("spawn")
    out: Queue[Snapshot] = context.Queue(maxsize=10_000)
    processes: list[BaseProcess] = [
        context.Process(
            target=worker_main,
            args=(WorkerSpec(number, options, started_at), out),
            name=f"loadtest-{number}",
            daemon=True,
        )
        for number in range(options.process_count)
    ]
    for process in processes:
        process.start()
    try:
        yield processes, out
    finally:
        for process in processes:
            process.join(timeout=5.0)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5.0)
        out.close()


def _collect(
    options: LoadtestOptions,
    started_at: float,
    aggregate: Aggregate,
    *,
    processes: list[BaseProcess],
    out: Queue[Snapshot],
    console: Console,
) -> None:
    """Merge snapshots until every process sent its final one (or the grace ran out)."""
    hard_stop = started_at + options.duration + STOP_GRACE
    finals = 0

    def view() -> RenderableType:
        return render(aggregate, time.time() - started_at, options.duration)

    live = Live(view(), console=console, refresh_per_second=4) if options.live else None
    with live if live is not None else contextlib.nullcontext():
        while finals < len(processes) and time.time() < hard_stop:
            try:
                snapshot = out.get(timeout=0.25)
            except queue.Empty:
                if not any(process.is_alive() for process in processes):
                    break
            else:
                aggregate.add(snapshot)
                finals += snapshot.final
            if live is not None:
                live.update(view())
    if finals < len(processes):
        aggregate.errors["client_process_lost"] += len(processes) - finals


def _report(options: LoadtestOptions, aggregate: Aggregate) -> dict[str, Any]:
    idle = sum(sc.is_idle(index, options.idle_fraction) for index in range(options.users))
    return {
        "benchmark": "loadtest",
        "url": options.url,
        "users": options.users,
        "active_users": options.users - idle,
        "idle_users": idle,
        "processes": options.process_count,
        "source_addresses": options.source_count,
        "ramp_s": options.ramp,
        "duration_s": options.duration,
        "think_s": [options.think_min, options.think_max],
        "seed": options.seed,
        **aggregate.summary(options.duration),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "timeline": aggregate.timeline(),
    }


def _publish(report: dict[str, Any], options: LoadtestOptions, console: Console) -> int:
    summary = {key: value for key, value in report.items() if key != "timeline"}
    sys.stdout.write(json.dumps(summary) + "\n")
    if options.output is not None:
        options.output.parent.mkdir(parents=True, exist_ok=True)
        options.output.write_text(json.dumps(report, indent=2) + "\n")
    if options.plot is not None:
        title = f"roulette loadtest: {options.users} users, {options.duration:.0f} s"
        if not write_plot(report["timeline"], options.plot, title):
            console.print("[yellow]--plot needs matplotlib (the bench dependency group)[/yellow]")
    return EXIT_OK if report["errors"] == 0 else EXIT_ERRORS
