"""Prometheus view of the node's protection: breaker states and the shedding flag."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from roulette.resilience.breaker import Breaker, BreakerState

__all__ = ["BreakerCollector"]


class BreakerCollector(Collector):
    """``roulette_circuit_breaker_state{name,state}`` (1 for the current state),
    ``roulette_circuit_breaker_opened`` (times opened) and ``roulette_load_shedding``."""

    def __init__(self, breakers: Sequence[Breaker], shedding: Callable[[], bool]) -> None:
        self._breakers = breakers
        self._shedding = shedding

    def collect(self) -> Iterator[Metric]:
        now = time.monotonic()
        state = GaugeMetricFamily(
            "roulette_circuit_breaker_state",
            "Circuit breaker of a dependency: 1 for its current state.",
            labels=["name", "state"],
        )
        opened = GaugeMetricFamily(
            "roulette_circuit_breaker_opened",
            "Times the breaker opened since start.",
            labels=["name"],
        )
        for breaker in self._breakers:
            current = breaker.state(now)
            for candidate in BreakerState:
                state.add_metric([breaker.name, candidate.value], float(candidate is current))
            opened.add_metric([breaker.name], float(breaker.opened_count))
        yield state
        yield opened
        yield GaugeMetricFamily(
            "roulette_load_shedding",
            "1 while the node refuses new handshakes and sign-ins.",
            value=float(self._shedding()),
        )
