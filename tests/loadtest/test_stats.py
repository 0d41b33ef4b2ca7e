"""Load-test numbers: histograms, recorders and the run's aggregate."""

from __future__ import annotations

import math
import pickle
import random

import pytest

from roulette.loadtest import stats


def _exact(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(len(ordered) * q / 100)) - 1]


@pytest.mark.parametrize("q", [50, 95, 99, 100])
def test_a_percentile_is_within_the_bucket_resolution(q: float) -> None:
    rng = random.Random(1)
    values = [rng.lognormvariate(-6, 1.5) for _ in range(5000)]
    histogram = stats.Histogram()
    for value in values:
        histogram.add(value)
    assert histogram.percentile(q) == pytest.approx(_exact(values, q), rel=0.025)


def test_an_empty_histogram_reports_zeros() -> None:
    summary = stats.Histogram().summary_ms()
    assert summary == {"count": 0, "mean": 0.0, "p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}


def test_tiny_and_negative_values_count_as_zero() -> None:
    histogram = stats.Histogram()
    histogram.add(-0.5)  # a clock step between processes
    histogram.add(1e-9)
    assert histogram.count == 2
    assert histogram.percentile(99) == 0.0


def test_merging_equals_adding_everything_to_one() -> None:
    values = [0.001 * i for i in range(1, 400)]
    one, left, right = stats.Histogram(), stats.Histogram(), stats.Histogram()
    for index, value in enumerate(values):
        one.add(value)
        (left if index % 2 else right).add(value)
    left.merge(right)
    assert left.summary_ms() == one.summary_ms()


def test_a_summary_is_in_milliseconds() -> None:
    histogram = stats.Histogram()
    for value in (0.010, 0.020, 0.030):
        histogram.add(value)
    summary = histogram.summary_ms()
    assert summary["count"] == 3
    assert summary["mean"] == pytest.approx(20.0)
    assert summary["max"] == pytest.approx(30.0)
    assert summary["p50"] == pytest.approx(20.0, rel=0.025)


def test_taking_a_snapshot_resets_the_deltas_but_keeps_the_levels() -> None:
    recorder = stats.Recorder()
    recorder.count(stats.LOGINS)
    recorder.count(stats.RELAYED, 5)
    recorder.error("http_503")
    recorder.observe(stats.RELAY_LATENCY, 0.002)
    recorder.level(stats.CONNECTED, 3)
    first = recorder.take(worker=0, at=1.0)
    assert first.counters == {stats.LOGINS: 1, stats.RELAYED: 5}
    assert first.errors == {"http_503": 1}
    assert first.histograms[stats.RELAY_LATENCY].count == 1
    second = recorder.take(worker=0, at=2.0, final=True)
    assert (second.counters, second.errors, second.histograms) == ({}, {}, {})
    assert second.gauges == {stats.CONNECTED: 3}
    assert second.final


def test_a_snapshot_survives_the_trip_between_processes() -> None:
    recorder = stats.Recorder()
    recorder.observe(stats.TIME_TO_MATCH, 0.5)
    snapshot = recorder.take(worker=1, at=1.0)
    copy = pickle.loads(pickle.dumps(snapshot))
    assert (
        copy.histograms[stats.TIME_TO_MATCH].summary_ms()
        == snapshot.histograms[stats.TIME_TO_MATCH].summary_ms()
    )


def _snapshot(worker: int, at: float, connected: int, relayed: int) -> stats.Snapshot:
    recorder = stats.Recorder()
    recorder.count(stats.RELAYED, relayed)
    recorder.count(stats.MATCHES)
    recorder.observe(stats.RELAY_LATENCY, 0.001 * (worker + 1))
    recorder.level(stats.CONNECTED, connected)
    return recorder.take(worker=worker, at=at)


def test_the_aggregate_bins_snapshots_by_second_and_sums_processes() -> None:
    aggregate = stats.Aggregate()
    for second in (1, 2):
        aggregate.add(_snapshot(0, second + 0.01, connected=10, relayed=100))
        aggregate.add(_snapshot(1, second - 0.02, connected=5, relayed=50))
    rows = aggregate.timeline()
    assert [row["t"] for row in rows] == [1, 2]
    assert rows[0]["connected"] == 15
    assert rows[0]["relayed_per_s"] == 150
    assert rows[0]["matches_per_s"] == 2
    assert aggregate.level(stats.CONNECTED) == 15
    assert aggregate.latest_rates() == rows[0]


def test_the_summary_gives_rates_over_the_run_and_the_peaks() -> None:
    aggregate = stats.Aggregate()
    aggregate.add(_snapshot(0, 1.0, connected=10, relayed=100))
    aggregate.add(_snapshot(0, 2.0, connected=20, relayed=300))
    summary = aggregate.summary(4.0)
    assert summary["relayed_msgs_per_s"] == 100.0
    assert summary["matches_per_s"] == 0.5
    assert summary["peak_per_s"]["relayed_per_s"] == 300
    assert summary["peak_connected"] == 20
    assert summary["relay_latency_ms"]["count"] == 2
    assert summary["errors"] == 0


def test_the_latest_rates_of_an_empty_or_young_run() -> None:
    aggregate = stats.Aggregate()
    assert aggregate.latest_rates() == {}
    aggregate.add(_snapshot(0, 1.0, connected=1, relayed=1))
    assert aggregate.latest_rates()["relayed_per_s"] == 1


def test_a_process_missing_from_a_second_keeps_its_last_levels() -> None:
    aggregate = stats.Aggregate()
    aggregate.add(_snapshot(0, 1.0, connected=10, relayed=1))
    aggregate.add(_snapshot(1, 1.0, connected=5, relayed=1))
    aggregate.add(_snapshot(0, 2.0, connected=10, relayed=1))  # process 1 is late
    assert [row["connected"] for row in aggregate.timeline()] == [15, 15]
