"""Relay latency samples: bounded while waiting, percentiles per path over a window."""

from __future__ import annotations

import pytest

from roulette.observability.match_wait import MAX_WAITING, MatchWaits
from roulette.observability.relay_latency import MAX_PENDING, MAX_RECENT, RelayLatency


def test_samples_wait_bounded_and_drain_into_the_recent_ones() -> None:
    latency = RelayLatency()
    for _ in range(MAX_PENDING + 10):
        latency.record("local", 0.001)
    assert latency.lost == 10
    assert len(latency.drain(100.0)) == MAX_PENDING
    assert latency.drain(101.0) == []
    assert len(latency.recent["local"]) == MAX_RECENT


def test_percentiles_by_path_over_the_window_only() -> None:
    latency = RelayLatency()
    latency.record("bridge", 5.0)  # old: outside the 1 min window below
    latency.drain(0.0)
    for ms in range(1, 101):
        latency.record("local", ms / 1000.0)
    latency.record("bridge", -0.002)  # clock skew between hosts: counts as 0
    latency.drain(1000.0)
    summary = latency.summary(60.0, 1000.5)
    assert summary["local"] == {"samples": 100, "p50": 50.0, "p95": 95.0, "p99": 99.0, "max": 100.0}
    assert summary["bridge"] == {"samples": 1, "p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}
    assert latency.summary(3600.0, 1000.5)["bridge"]["max"] == 5000.0
    assert latency.p95_ms(1000.5) == 95.0  # the worse path's p95 over the last minute
    assert RelayLatency().p95_ms(0.0) is None


def test_each_wait_is_observed_once_and_the_notes_are_bounded() -> None:
    waits = MatchWaits()
    waits.joined("0xa", 10.0)
    waits.joined("0xa", 12.0)  # joined again: the new join counts
    assert waits.matched("0xa", 15.5) == pytest.approx(3.5)
    assert waits.matched("0xa", 16.0) is None  # a repeated notice
    assert waits.matched("0xb", 16.0) is None  # never joined here
    for i in range(MAX_WAITING + 1):
        waits.joined(f"0x{i}", 1.0)
    assert waits.matched("0x0", 2.0) is None  # the oldest note went first
    assert waits.matched("0x1", 2.0) == 1.0
    assert waits.observed == 2
