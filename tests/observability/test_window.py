"""Rolling latency windows and percentiles (pure, time passed in)."""

from __future__ import annotations

import pytest

from roulette.observability.window import BOUNDS_MS, MAX_KEYS, LatencyWindow, percentile


def test_percentiles_interpolate_within_buckets() -> None:
    buckets = [0] * (len(BOUNDS_MS) + 1)
    buckets[BOUNDS_MS.index(10.0)] = 100  # 100 observations in (5, 10] ms
    assert percentile(buckets, 0.5) == pytest.approx(7.5)
    assert percentile(buckets, 0.95) == pytest.approx(9.75)
    assert percentile([0] * len(buckets), 0.95) is None
    over = [0] * len(buckets)
    over[-1] = 3  # beyond the last bound
    assert percentile(over, 0.5) == BOUNDS_MS[-1]


def test_windows_forget_what_is_older_than_them() -> None:
    w = LatencyWindow()
    w.observe("/a", 5.0, now=1000.0)
    w.observe("/a", 700.0, now=1250.0, error=True)
    assert w.total(60.0, 1255.0).count == 1
    assert w.total(300.0, 1255.0).count == 2
    five = w.by_key(300.0, 1255.0)["/a"].summary(300.0)
    assert (five["errors"], five["maxMs"], five["errorPercent"]) == (1, 700.0, 50.0)
    assert w.total(3600.0, 1250.0 + 3700.0).count == 0  # over an hour later: gone


def test_keys_and_events_stay_bounded() -> None:
    w = LatencyWindow()
    for i in range(MAX_KEYS + 10):
        w.observe(f"/r{i}", 1.0, now=0.0)
        w.count(f"e{i}", now=0.0)
    keys = w.by_key(60.0, 0.0)
    assert len(keys) == MAX_KEYS + 1
    assert keys["other"].count == 10
    assert len(w.top_events(60.0, 0.0, n=1000)) == MAX_KEYS


def test_top_events_are_ordered_by_count() -> None:
    w = LatencyWindow()
    w.count("peer:not_found", 0.0, 3)
    w.count("service:state_unavailable", 0.0, 5)
    assert w.top_events(60.0, 1.0) == [("service:state_unavailable", 5), ("peer:not_found", 3)]
