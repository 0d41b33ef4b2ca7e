"""Prometheus metrics: names declared once here (base units, ``_total`` for counters).

Hot paths bump plain integers (:mod:`roulette.observability.counters`); :class:`MetricsSync`
moves their deltas into ``prometheus_client`` metrics once a second and before every scrape.
Under ``roulette cluster`` the workers share ``PROMETHEUS_MULTIPROC_DIR``, so any worker's
``/metrics`` shows the whole node (prometheus_client multiprocess mode). Queue lengths and
live sessions come from the shared lobby at scrape time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import REGISTRY, Collector

from roulette.observability.counters import Counters
from roulette.resilience.metrics import BreakerCollector
from roulette.storage.ports import LobbyStats

if TYPE_CHECKING:
    from roulette.gateway.hub import Hub
    from roulette.runtime.services import Services

__all__ = ["HTTP_LATENCY", "MetricsSync", "render_metrics"]

HTTP_LATENCY = Histogram(
    "roulette_http_request_duration_seconds",
    "HTTP request latency by route and status.",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)

_COUNTERS: dict[str, Counter] = {
    key: Counter(name, doc)
    for key, name, doc in (
        ("auth_success", "roulette_auth_success", "Successful SIWE sign-ins."),
        ("auth_failure", "roulette_auth_failures", "Failed sign-ins and refused tokens."),
        ("matches", "roulette_matches", "Sessions created by matching."),
        ("sessions_ended", "roulette_sessions_ended", "Sessions ended for any reason."),
        ("connections_opened", "roulette_ws_connections_opened", "WebSocket handshakes accepted."),
        ("handshakes_refused", "roulette_ws_handshakes_refused", "WebSocket handshakes refused."),
        ("rate_limited", "roulette_ws_rate_limited", "Messages refused by rate limits."),
        ("slow_readers", "roulette_ws_slow_readers", "Sockets dropped for not reading."),
        ("relay_dropped", "roulette_relay_dropped", "Relayed messages whose peer was gone."),
    )
}
_RELAYED = Counter("roulette_relayed_messages", "Signals and chat lines relayed.")
_CONNECTIONS = Gauge(
    "roulette_ws_connections", "Open authenticated WebSockets.", multiprocess_mode="livesum"
)


class MetricsSync:
    """Moves the hot-path counters of this process into the Prometheus metrics."""

    def __init__(self, counters: Counters, hub: Hub) -> None:
        self._counters = counters
        self._hub = hub
        self._seen: dict[str, int] = dict.fromkeys(_COUNTERS, 0)
        self._relayed = 0

    def sync(self) -> None:
        """Add what happened since the last call."""
        now = self._counters.as_dict()
        for key, metric in _COUNTERS.items():
            delta = now[key] - self._seen[key]
            if delta:
                metric.inc(delta)
                self._seen[key] = now[key]
        relayed = self._hub.relayed
        if relayed > self._relayed:
            _RELAYED.inc(relayed - self._relayed)
            self._relayed = relayed
        _CONNECTIONS.set(len(self._hub))


class _LobbyCollector(Collector):
    """The shared lobby's numbers, read once per scrape."""

    def __init__(self, stats: LobbyStats, chain_ids: tuple[int, ...]) -> None:
        self._stats = stats
        self._chain_ids = chain_ids

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "roulette_active_sessions", "Live 1:1 sessions.", value=self._stats.active_sessions
        )
        queue = GaugeMetricFamily(
            "roulette_queue_length", "Users waiting, by chain.", labels=["chain_id"]
        )
        for chain in sorted(set(self._chain_ids) | set(self._stats.queued)):
            queue.add_metric([str(chain)], self._stats.queued.get(chain, 0))
        yield queue


async def render_metrics(svc: Services, sync: MetricsSync) -> tuple[bytes, str]:
    """The exposition text of this node (all workers in cluster mode) and its content type."""
    sync.sync()
    lobby = CollectorRegistry()
    lobby.register(_LobbyCollector(await svc.lobby.stats(), svc.config.chain_ids))
    lobby.register(BreakerCollector(svc.breakers, svc.shedding))
    if svc.config.prometheus_multiproc_dir is not None:
        node = CollectorRegistry()
        MultiProcessCollector(node, path=str(svc.config.prometheus_multiproc_dir))  # type: ignore[no-untyped-call]
        body = generate_latest(node)
    else:
        body = generate_latest(REGISTRY)
    return body + generate_latest(lobby), CONTENT_TYPE_LATEST
