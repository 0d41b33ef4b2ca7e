"""The live view renders what the client processes reported."""

from __future__ import annotations

import io

from rich.console import Console

from roulette.loadtest import stats
from roulette.loadtest.display import render


def test_the_live_view_shows_levels_rates_latencies_and_errors() -> None:
    recorder = stats.Recorder()
    recorder.level(stats.CONNECTED, 12)
    recorder.count(stats.RELAYED, 340)
    recorder.observe(stats.RELAY_LATENCY, 0.004)
    recorder.error("http_503")
    aggregate = stats.Aggregate()
    aggregate.add(recorder.take(worker=0, at=1.0))
    console = Console(file=io.StringIO(), width=100)
    console.print(render(aggregate, elapsed=1.5, duration=10.0))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "users connected" in text
    assert "12" in text
    assert "340/s" in text
    assert "http_503" in text
