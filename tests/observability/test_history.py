"""The dashboard's bounded history: series, 1m/5m/1h aggregates, events."""

from __future__ import annotations

from roulette.observability.history import Event, History
from roulette.observability.metrics import SCALING_EVENTS
from roulette.observability.vitals import Vitals


def test_aggregates_cover_each_window() -> None:
    h = History()
    h.add(0.0, {"cpu": 10.0, "p95": None})
    h.add(3000.0, {"cpu": 50.0})
    h.add(3590.0, {"cpu": 90.0})
    agg = h.aggregates(3600.0)
    assert agg["1m"]["cpu"] == {"min": 90.0, "mean": 90.0, "max": 90.0, "last": 90.0}
    assert agg["1h"]["cpu"] == {"min": 50.0, "mean": 70.0, "max": 90.0, "last": 90.0}
    assert "p95" not in agg["1h"]  # no value ever: no aggregate


def test_series_are_column_wise_and_bounded() -> None:
    h = History(max_samples=2)
    for t in range(3):
        h.add(float(t), {"cpu": t * 10.0})
    assert h.series(0.5) == {"t": [1.0, 2.0], "cpu": [10.0, 20.0]}


def test_events_after_a_time() -> None:
    h = History(max_events=2)
    for t in range(3):
        h.note(Event(float(t), "alert", f"a{t}", ""))
    assert [e["name"] for e in h.events(0.0)] == ["a1", "a2"]


def test_a_scaling_event_is_counted_and_charted() -> None:
    vitals = Vitals()
    before = SCALING_EVENTS.labels("up", "high-cpu")._value.get()
    vitals.scaling_event("up", "high-cpu", 10.0)
    assert SCALING_EVENTS.labels("up", "high-cpu")._value.get() - before == 1
    assert vitals.history.events(0.0) == [
        {"at": 10.0, "kind": "scaling", "name": "up", "detail": "high-cpu"}
    ]
