"""Prometheus metrics: names declared once here, values read at scrape time.

Names follow Prometheus conventions (base units, ``_total`` for counters).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from roulette.storage.ports import LobbyStats

if TYPE_CHECKING:
    from roulette.runtime.services import Services

__all__ = ["HTTP_LATENCY", "REGISTRY", "render_metrics"]

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_LATENCY = Histogram(
    "roulette_http_request_duration_seconds",
    "HTTP request latency by route and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)

_COUNTERS = {
    "auth_success": ("roulette_auth_success_total", "Successful SIWE sign-ins."),
    "auth_failure": ("roulette_auth_failures_total", "Failed sign-ins and refused tokens."),
    "matches": ("roulette_matches_total", "Sessions created by matching."),
    "sessions_ended": ("roulette_sessions_ended_total", "Sessions ended for any reason."),
    "connections_opened": (
        "roulette_ws_connections_opened_total",
        "WebSocket handshakes accepted.",
    ),
    "handshakes_refused": ("roulette_ws_handshakes_refused_total", "WebSocket handshakes refused."),
    "rate_limited": ("roulette_ws_rate_limited_total", "Messages refused by rate limits."),
    "slow_readers": ("roulette_ws_slow_readers_total", "Sockets dropped for not reading."),
    "relay_dropped": ("roulette_relay_dropped_total", "Relayed messages whose peer was gone."),
}


class _NodeCollector(Collector):
    """Reads the hot-path counters and the lobby snapshot when Prometheus scrapes."""

    def __init__(self, svc: Services, stats: LobbyStats) -> None:
        self._svc = svc
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        counts = self._svc.counters.as_dict()
        for key, (name, doc) in _COUNTERS.items():
            yield CounterMetricFamily(name.removesuffix("_total"), doc, value=counts[key])
        yield CounterMetricFamily(
            "roulette_relayed_messages",
            "Signals and chat lines relayed.",
            value=self._svc.hub.relayed,
        )
        yield GaugeMetricFamily(
            "roulette_ws_connections", "Open authenticated WebSockets.", value=len(self._svc.hub)
        )
        yield GaugeMetricFamily(
            "roulette_active_sessions", "Live 1:1 sessions.", value=self._stats.active_sessions
        )
        queue = GaugeMetricFamily(
            "roulette_queue_length", "Users waiting, by chain.", labels=["chain_id"]
        )
        for chain in sorted(set(self._svc.config.chain_ids) | set(self._stats.queued)):
            queue.add_metric([str(chain)], self._stats.queued.get(chain, 0))
        yield queue


async def render_metrics(svc: Services) -> tuple[bytes, str]:
    """The exposition text of this process and its content type."""
    stats = await svc.lobby.stats()
    registry = CollectorRegistry()
    registry.register(_NodeCollector(svc, stats))
    return generate_latest(REGISTRY) + generate_latest(registry), CONTENT_TYPE_LATEST
