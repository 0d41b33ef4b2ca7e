"""Signal arithmetic: per-worker values, node and fleet aggregates, histogram quantiles."""

from __future__ import annotations

import pytest

from roulette.scaling.signals import NodeSignals, WorkerSignals, fleet_values, histogram_quantile

INF = float("inf")


@pytest.mark.parametrize(
    ("buckets", "expected"),
    [
        # 100 observations, 95th falls in (0.1, 0.25]: 0.1 + 0.15 × (95 − 90) / 10.
        ([(0.05, 50), (0.1, 90), (0.25, 100), (INF, 100)], 0.175),
        ([(0.05, 0), (INF, 0)], None),
        ([(0.05, 10), (INF, 100)], 0.05),  # in +Inf: the highest finite bound
        ([(0.1, 100), (INF, 100)], 0.095),
    ],
)
def test_histogram_quantile(buckets: list[tuple[float, float]], expected: float | None) -> None:
    result = histogram_quantile(0.95, buckets)
    assert result == (None if expected is None else pytest.approx(expected))


def node(node_id: str, *workers: WorkerSignals, **values: float) -> NodeSignals:
    return NodeSignals(node_id, 0.0, workers, values)


def test_worker_values_are_percent_of_the_cap_and_mib() -> None:
    w = WorkerSignals("a", True, sockets=50, socket_cap=200, cpu=30.0, rss_bytes=64 * 1024**2)
    assert w.values() == {"sockets": 25.0, "cpu": 30.0, "rss": 64.0}


def test_node_aggregates_mean_over_ready_and_worst_loop_lag() -> None:
    n = node(
        "n1",
        WorkerSignals("a", True, sockets=10, socket_cap=100, loop_lag_ms=5),
        WorkerSignals("b", True, sockets=30, socket_cap=100, loop_lag_ms=50),
        WorkerSignals("c", False, socket_cap=100),
        memory=40.0,
    )
    assert n.values() == {"sockets": 20.0, "loopLag": 50.0, "memory": 40.0}
    samples = n.samples()
    assert [s.ready for s in samples] == [True, True, False]
    assert samples[0].values["memory"] == 40.0  # node values are shared by ready workers
    assert samples[2].values == {}
    assert n.sockets == 40


def test_describe_and_parse_round_trip() -> None:
    n = node("n1", WorkerSignals("a", True, sockets=3, socket_cap=10, cpu=1.5), httpP95=12.0)
    assert NodeSignals.parse(n.describe()) == n


def test_fleet_values_weigh_workers_and_take_the_worst_node() -> None:
    a = node("a", WorkerSignals("a1", True, sockets=10, socket_cap=100), relayP95=10.0)
    b = node(
        "b",
        WorkerSignals("b1", True, sockets=40, socket_cap=100),
        WorkerSignals("b2", True, sockets=40, socket_cap=100),
        relayP95=80.0,
    )
    assert fleet_values([a, b]) == {"sockets": 30.0, "relayP95": 80.0}
