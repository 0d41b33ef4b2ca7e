"""Merging the workers' dashboard data: sums, means and worst values on one time grid."""

from __future__ import annotations

from typing import Any

from roulette.cluster.dashboard_merge import merge_workers


def body(times: list[float], **series: list[float | None]) -> dict[str, Any]:
    return {"series": {"t": times, **series}, "events": [], "alerts": {}, "levels": {}}


def test_counts_add_host_figures_average_latencies_take_the_worst() -> None:
    one = body(
        [100.1, 101.1, 102.1],
        connections=[3.0, 4.0, 5.0],
        cpu_percent=[40.0, 40.0, 40.0],
        http_p95_ms=[10.0, 12.0, 11.0],
    )
    two = body(
        [100.6, 101.6, 102.6],
        connections=[7.0, 7.0, 7.0],
        cpu_percent=[60.0, 60.0, 60.0],
        http_p95_ms=[30.0, 5.0, 5.0],
    )
    merged = merge_workers({"w-1": one, "w-2": two}, now=103.0)
    assert merged["workers"] == ["w-1", "w-2"]
    assert merged["stepSeconds"] == 1.0
    series = merged["series"]
    assert series["t"] == [100.0, 101.0, 102.0, 103.0]
    assert series["connections"] == [3.0, 11.0, 12.0, 12.0]
    assert series["cpu_percent"] == [40.0, 50.0, 50.0, 50.0]
    assert series["http_p95_ms"] == [10.0, 30.0, 11.0, 11.0]
    assert merged["aggregates"]["1m"]["connections"]["last"] == 12.0


def test_a_worker_silent_past_two_steps_no_longer_counts() -> None:
    one = body([10.0, 11.0, 12.0, 13.0, 14.0], connections=[1.0, 1.0, 1.0, 1.0, 1.0])
    two = body([10.0], connections=[5.0])
    series = merge_workers({"a": one, "b": two}, now=15.0)["series"]
    assert series["connections"] == [6.0, 6.0, 6.0, 1.0, 1.0]


def test_events_of_all_workers_in_time_order_and_the_worst_level_wins() -> None:
    one = body([1.0, 2.0]) | {
        "events": [{"at": 5.0, "kind": "alert", "name": "cpu firing", "detail": ""}],
        "alerts": {"cpu": "warning"},
        "levels": {"cpu": "warning", "memory": "critical"},
        "notReady": ["draining"],
    }
    two = body([1.0, 2.0]) | {
        "events": [{"at": 3.0, "kind": "recovery", "name": "shed", "detail": ""}],
        "alerts": {"cpu": "critical"},
        "levels": {"cpu": "critical", "memory": "ok"},
        "notReady": ["draining", "redis:down"],
    }
    merged = merge_workers({"a": one, "b": two}, now=6.0)
    assert [(e["at"], e["worker"]) for e in merged["events"]] == [(3.0, "b"), (5.0, "a")]
    assert merged["alerts"] == {"cpu": "critical"}
    assert merged["levels"] == {"cpu": "critical", "memory": "critical"}
    assert merged["notReady"] == ["draining", "redis:down"]
