"""The live view of a load test (rich): levels, rates of the last second, latencies, errors."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.progress_bar import ProgressBar
from rich.table import Table

from roulette.loadtest.stats import (
    CONNECTED,
    HEARTBEAT_RTT,
    IN_SESSION,
    LOGINS,
    MATCHES,
    RELAY_LATENCY,
    RELAYED,
    TIME_TO_MATCH,
    Aggregate,
    Histogram,
)

__all__ = ["render"]

_TOP_ERRORS = 4


def render(aggregate: Aggregate, elapsed: float, duration: float) -> RenderableType:
    """The live view after ``elapsed`` of ``duration`` seconds.

    Args:
        aggregate: everything the client processes reported so far.
        elapsed: seconds since the run's start.
        duration: the run's length in seconds.

    Returns:
        A progress bar over a table.
    """
    last = aggregate.latest_rates()
    table = Table(title=f"roulette loadtest — {max(elapsed, 0):.0f} s / {duration:.0f} s")
    table.add_column("metric")
    table.add_column("last second", justify="right")
    table.add_column("run total", justify="right")
    table.add_row(
        "users connected", f"{aggregate.level(CONNECTED):,}", f"peak {aggregate.peaks[CONNECTED]:,}"
    )
    table.add_row("users in a session", f"{aggregate.level(IN_SESSION):,}", "")
    table.add_row(
        "logins", f"{last.get('logins_per_s', 0):,.0f}/s", f"{aggregate.counters[LOGINS]:,}"
    )
    table.add_row(
        "matches", f"{last.get('matches_per_s', 0):,.0f}/s", f"{aggregate.counters[MATCHES]:,}"
    )
    table.add_row(
        "relayed msgs", f"{last.get('relayed_per_s', 0):,.0f}/s", f"{aggregate.counters[RELAYED]:,}"
    )
    for label, name in (
        ("relay latency p50/p99", RELAY_LATENCY),
        ("time to match p50/p99", TIME_TO_MATCH),
        ("heartbeat RTT p50/p99", HEARTBEAT_RTT),
    ):
        histogram = aggregate.histograms.get(name, Histogram())
        table.add_row(
            label, "", f"{_ms(histogram.percentile(50))} / {_ms(histogram.percentile(99))}"
        )
    table.add_row("errors", f"{last.get('errors', 0):,.0f}", f"{sum(aggregate.errors.values()):,}")
    for kind, count in aggregate.errors.most_common(_TOP_ERRORS):
        table.add_row(f"  {kind}", "", f"{count:,}")
    bar = ProgressBar(total=duration, completed=min(max(elapsed, 0.0), duration))
    return Group(bar, table)


def _ms(seconds: float) -> str:
    return f"{1000 * seconds:.1f} ms"
