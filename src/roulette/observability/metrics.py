"""Prometheus metrics: names declared once here (base units, ``_total`` for counters).

Hot paths bump plain integers (:mod:`roulette.observability.counters`); :class:`MetricsSync`
moves their deltas into ``prometheus_client`` metrics once a second and before every scrape.
Under ``roulette cluster`` the workers share ``PROMETHEUS_MULTIPROC_DIR``, so any worker's
``/metrics`` shows the whole node (prometheus_client multiprocess mode). Host figures
(:mod:`roulette.observability.system`), queue lengths and live sessions are read at scrape
time. Labels are bounded sets (route templates, status codes, error codes, statement kinds,
hosts) — never an address or a session id.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

import psutil
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import REGISTRY, Collector

from roulette.observability.counters import Counters
from roulette.observability.system import SystemCollector
from roulette.resilience.metrics import BreakerCollector
from roulette.storage.ports import LobbyStats, WorkerInfo

if TYPE_CHECKING:
    from roulette.config import Config
    from roulette.observability.figures import HubFigures
    from roulette.resilience.breaker import Breaker
    from roulette.storage.ports import Lobby, WorkerRegistry

__all__ = [
    "DEPENDENCY_PROBE",
    "DEPENDENCY_UP",
    "ERRORS",
    "EVENT_LOOP_LAG",
    "HANDSHAKE_DURATION",
    "HTTP_CONNECTIONS",
    "HTTP_IN_FLIGHT",
    "HTTP_LATENCY",
    "REDIS_LATENCY",
    "RELAY_LATENCY",
    "SCALING_EVENTS",
    "SESSION_LENGTH",
    "SQL_LATENCY",
    "TIME_TO_MATCH",
    "TIPS",
    "MetricsSync",
    "render_metrics",
]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

# -- application -------------------------------------------------------------------------------
HTTP_LATENCY = Histogram(
    "roulette_http_request_duration_seconds",
    "HTTP request latency by method, route template and status.",
    ["method", "route", "status"],
    buckets=_LATENCY_BUCKETS[:-1],
)
HTTP_IN_FLIGHT = Gauge(
    "roulette_http_requests_in_flight", "HTTP requests being served.", multiprocess_mode="livesum"
)
HTTP_CONNECTIONS = Gauge(
    "roulette_http_connections", "TCP connections open on the HTTP listener.",
    multiprocess_mode="livesum",
)  # fmt: skip
RELAY_LATENCY = Histogram(
    "roulette_relay_latency_seconds",
    "Relay latency, frame in at the sender's socket to out at the peer's (1 message in 64), "
    "by path (local: same worker; bridge: through another worker).",
    ["path"],
    buckets=(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
             0.25, 1.0),
)  # fmt: skip
ERRORS = Counter(
    "roulette_errors", "Errors answered, by type (peer, service, unexpected) and code.",
    ["type", "code"],
)  # fmt: skip
SQL_LATENCY = Histogram(
    "roulette_sql_query_duration_seconds",
    "SQL statement latency by kind (select, insert, update, delete, other).",
    ["statement"],
    buckets=_LATENCY_BUCKETS,
)
EVENT_LOOP_LAG = Histogram(
    "roulette_event_loop_lag_seconds",
    "How late a timer of the event loop fires (sampled 4 times a second).",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
REDIS_LATENCY = Histogram(
    "roulette_redis_command_duration_seconds",
    "Redis call latency by command (PIPELINE for a pipeline; retries included).",
    ["command"],
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5),
)
DEPENDENCY_UP = Gauge(
    "roulette_dependency_up", "1 when the dependency answered its last probe.",
    ["dependency"], multiprocess_mode="livemin",
)  # fmt: skip
DEPENDENCY_PROBE = Histogram(
    "roulette_dependency_probe_duration_seconds",
    "Round trip of the readiness probe of each dependency (SQL SELECT 1, Redis PING, RPC).",
    ["dependency"],
    buckets=_LATENCY_BUCKETS,
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
        ("connections_closed", "roulette_ws_connections_closed", "WebSockets closed."),
        ("skips", "roulette_skips", "Sessions a user left with next."),
        ("reports", "roulette_reports", "Reports filed."),
        ("blocks", "roulette_blocks", "Blocks added."),
    )
}
_RELAYED = Counter("roulette_relayed_messages", "Signals and chat lines relayed.")
_CONNECTIONS = Gauge(
    "roulette_ws_connections", "Open authenticated WebSockets.", multiprocess_mode="livesum"
)
_CONNECTIONS_LIMIT = Gauge(
    "roulette_ws_connections_limit", "The node's socket cap (MAX_CONNECTIONS per process).",
    multiprocess_mode="livesum",
)  # fmt: skip

# -- business ----------------------------------------------------------------------------------
TIPS = Counter("roulette_tips", "Tips recorded, by status (pending, confirmed).", ["status"])
TIME_TO_MATCH = Histogram(
    "roulette_time_to_match_seconds",
    "Per user: from joining the queue to the match-found notice.",
    buckets=(0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0),
)
HANDSHAKE_DURATION = Histogram(
    "roulette_ws_handshake_duration_seconds",
    "Per accepted WebSocket: the sign-in check after the upgrade (revocation, ban), to connected.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
SESSION_LENGTH = Histogram(
    "roulette_session_duration_seconds",
    "How long 1:1 sessions lasted.",
    buckets=(5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0),
)

# -- system: this process ---------------------------------------------------------------------
_PROCESS_STARTS = Counter("roulette_process_starts", "Worker (or serve) processes started.")
_PROCESS_RSS = Gauge(
    "roulette_process_resident_memory_bytes", "Resident memory of the node's serving processes.",
    multiprocess_mode="livesum",
)  # fmt: skip
_PROCESS_CPU = Counter("roulette_process_cpu_seconds", "CPU time of the serving processes.")
_PROCESS_UPTIME = Gauge(
    "roulette_process_uptime_seconds", "Age of the oldest live serving process.",
    multiprocess_mode="livemax",
)  # fmt: skip

# -- scaling (the autoscaler increments SCALING_EVENTS; the monitor RECOVERY_ACTIONS) ---------
SCALING_EVENTS = Counter(
    "roulette_scaling_events", "Scaling decisions carried out, by direction and reason.",
    ["direction", "reason"],
)  # fmt: skip
RECOVERY_ACTIONS = Counter(
    "roulette_recovery_actions", "Automated recovery actions taken by the health monitor.",
    ["action"],
)  # fmt: skip
ALERT_NOTICES = Counter(
    "roulette_alert_notices", "Alert notices produced, by alert and kind (firing, resolved).",
    ["alert", "kind"],
)  # fmt: skip
ALERT_DELIVERIES = Counter(
    "roulette_alert_deliveries", "Alert messages handed to a channel, by channel and outcome.",
    ["channel", "outcome"],
)  # fmt: skip
ALERT_LEVEL = Gauge(
    "roulette_alert_level", "Each alert's level now: 0 ok, 1 warning, 2 critical.",
    ["alert"], multiprocess_mode="livemax",
)  # fmt: skip


class MetricSources(Protocol):
    """What :func:`render_metrics` reads of the node's services (a Protocol: observability
    names no runtime type)."""

    @property
    def config(self) -> Config: ...
    @property
    def lobby(self) -> Lobby: ...
    @property
    def workers(self) -> WorkerRegistry | None: ...
    @property
    def breakers(self) -> Sequence[Breaker]: ...
    @property
    def shedding(self) -> Callable[[], bool]: ...


class MetricsSync:
    """Moves the hot-path counters of this process into the Prometheus metrics."""

    def __init__(self, counters: Counters, hub: HubFigures, *, socket_limit: int = 0) -> None:
        self._counters = counters
        _CONNECTIONS_LIMIT.set(socket_limit)
        self._hub = hub
        self._seen: dict[str, int] = dict.fromkeys(_COUNTERS, 0)
        self._relayed = 0
        self._process = psutil.Process()
        self._cpu_seen = 0.0
        _PROCESS_STARTS.inc()

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
        for path, seconds in self._hub.latency.drain(time.time()):
            RELAY_LATENCY.labels(path).observe(seconds)
        self._sync_process()

    def _sync_process(self) -> None:
        with self._process.oneshot():
            _PROCESS_RSS.set(self._process.memory_info().rss)
            times = self._process.cpu_times()
            _PROCESS_UPTIME.set(time.time() - self._process.create_time())
        cpu = times.user + times.system
        if cpu > self._cpu_seen:
            _PROCESS_CPU.inc(cpu - self._cpu_seen)
            self._cpu_seen = cpu


class _SharedCollector(Collector):
    """The shared lobby's and worker registry's numbers, read once per scrape."""

    def __init__(
        self,
        stats: LobbyStats | None,
        chain_ids: tuple[int, ...],
        workers: list[WorkerInfo] | None,
    ) -> None:
        self._stats = stats
        self._chain_ids = chain_ids
        self._workers = workers

    def collect(self) -> Iterator[Metric]:
        if self._stats is not None:
            yield from _lobby(self._stats, self._chain_ids)
        if self._workers is not None:
            yield from _fleet(self._workers)


def _lobby(stats: LobbyStats, chain_ids: tuple[int, ...]) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "roulette_active_sessions", "Live 1:1 sessions.", value=stats.active_sessions
    )
    queue = GaugeMetricFamily(
        "roulette_queue_length", "Users waiting, by chain.", labels=["chain_id"]
    )
    for chain in sorted(set(chain_ids) | set(stats.queued)):
        queue.add_metric([str(chain)], stats.queued.get(chain, 0))
    yield queue


def _fleet(workers: list[WorkerInfo]) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "roulette_instances", "Live workers in the fleet (heartbeat registry).", value=len(workers)
    )
    by_host: dict[str, int] = {}
    for info in workers:
        by_host[info.host] = by_host.get(info.host, 0) + info.connections
    total = sum(by_host.values())
    share = GaugeMetricFamily(
        "roulette_socket_share_ratio", "Each node's share of the fleet's sockets.", labels=["node"]
    )
    for host, count in sorted(by_host.items()):
        share.add_metric([host], count / total if total else 0.0)
    yield share


async def _shared_figures(svc: MetricSources) -> tuple[LobbyStats | None, list[WorkerInfo] | None]:
    """The lobby's and registry's figures; None for what shared state cannot give now.

    With Redis down the scrape still answers (``roulette_dependency_up`` says why), so
    Prometheus keeps the node's own figures instead of marking the whole target down.
    """
    try:
        async with asyncio.timeout(svc.config.monitor.probe_timeout_seconds):
            stats = await svc.lobby.stats()
            workers = await svc.workers.alive() if svc.workers is not None else None
    except Exception:  # TimeoutError included: a scrape must answer within its own timeout
        return None, None
    return stats, workers


async def render_metrics(svc: MetricSources, sync: MetricsSync) -> tuple[bytes, str]:
    """The exposition text of this node (all workers in cluster mode) and its content type."""
    sync.sync()
    shared = CollectorRegistry()
    stats, workers = await _shared_figures(svc)
    shared.register(_SharedCollector(stats, svc.config.chain_ids, workers))
    shared.register(SystemCollector())
    shared.register(BreakerCollector(svc.breakers, svc.shedding))
    if svc.config.prometheus_multiproc_dir is not None:
        node = CollectorRegistry()
        MultiProcessCollector(node, path=str(svc.config.prometheus_multiproc_dir))  # type: ignore[no-untyped-call]
        body = generate_latest(node)
    else:
        body = generate_latest(REGISTRY)
    return body + generate_latest(shared), CONTENT_TYPE_LATEST
