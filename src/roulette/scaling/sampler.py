"""Sampling a node's signals from the supervisor: psutil, heartbeats and histogram files.

Runs in the supervisor's thread between reconcile passes and never blocks for long: psutil
reads ``/proc``; the histograms come from the Prometheus multiprocess directory the workers
write (the same files ``/metrics`` reads), and a p95 is taken over what was observed since the
previous sample (bucket deltas), as ``histogram_quantile(0.95, rate(...))`` would.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from roulette.scaling.signals import NodeSignals, WorkerSignals, histogram_quantile

__all__ = ["HISTOGRAMS", "HistogramDeltas", "NodeSampler", "WorkerReport"]

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL = 1.0
"""Seconds between a worker's heartbeats (``roulette.runtime.worker``); a longer gap is lag."""

HISTOGRAMS = {
    "httpP95": "roulette_http_request_duration_seconds",
    "handshakeP95": "roulette_ws_handshake_duration_seconds",
    "relayP95": "roulette_relay_latency_seconds",
    "queueWait": "roulette_time_to_match_seconds",
}
"""Signal name → Prometheus histogram read from the workers' files; absent ones are no data."""

Buckets = dict[float, float]


@dataclass(frozen=True, slots=True)
class WorkerReport:
    """What the supervisor knows of one worker (from its heartbeats)."""

    pid: int
    worker_id: str
    ready: bool
    connections: int
    counters: Mapping[str, int]
    beat_gap: float | None
    """The longest gap between two heartbeats since the last sample (seconds)."""


@dataclass
class HistogramDeltas:
    """Cumulative bucket counts per histogram at the previous sample, to take deltas."""

    previous: dict[str, Buckets] = field(default_factory=dict)

    def p95s(self, current: Mapping[str, Buckets]) -> dict[str, float]:
        """Milliseconds at the 95th percentile of what each histogram saw since last time."""
        values = {}
        for signal, name in HISTOGRAMS.items():
            now = current.get(name)
            if now is None:
                continue
            before = self.previous.get(name, {})
            delta = [(le, count - before.get(le, 0.0)) for le, count in now.items()]
            p95 = histogram_quantile(0.95, delta)
            if p95 is not None:
                values[signal] = p95 * 1000
        self.previous = {k: dict(v) for k, v in current.items()}
        return values


def read_histograms(directory: Path) -> dict[str, Buckets]:
    """Cumulative ``le`` → count of each histogram in the multiprocess files, labels summed."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    wanted = set(HISTOGRAMS.values())
    found: dict[str, Buckets] = {}
    for metric in registry.collect():
        if metric.name not in wanted:
            continue
        buckets = found.setdefault(metric.name, {})
        for sample in metric.samples:
            if sample.name.endswith("_bucket"):
                le = float(sample.labels["le"])
                buckets[le] = buckets.get(le, 0.0) + sample.value
    return found


class NodeSampler:
    """Turns worker reports into :class:`NodeSignals`, keeping what deltas need.

    Args:
        node_id: this node's id in samples.
        socket_cap: ``MAX_CONNECTIONS``, the per-worker socket cap.
        metrics_dir: the workers' Prometheus multiprocess directory, or None.
    """

    def __init__(self, node_id: str, socket_cap: int, metrics_dir: Path | None) -> None:
        self.node_id = node_id
        self.socket_cap = socket_cap
        self.metrics_dir = metrics_dir
        self._processes: dict[int, psutil.Process] = {}
        self._counters: dict[int, Mapping[str, int]] = {}
        self._lag_ms: dict[int, float] = {}
        self._histograms = HistogramDeltas()

    def sample(self, reports: Iterable[WorkerReport], now: float) -> NodeSignals:
        """One sample of every worker and of the node (``now``: epoch seconds)."""
        reports = list(reports)
        live = {r.pid for r in reports}
        for pid in (set(self._processes) | set(self._counters) | set(self._lag_ms)) - live:
            self._processes.pop(pid, None)
            self._counters.pop(pid, None)
            self._lag_ms.pop(pid, None)
        workers = tuple(self._worker(r) for r in reports)
        node: dict[str, float] = {"memory": float(psutil.virtual_memory().percent)}
        if self.metrics_dir is not None:
            try:
                node.update(self._histograms.p95s(read_histograms(self.metrics_dir)))
            except (OSError, ValueError) as exc:  # a file being written or removed
                log.debug("histograms_unreadable error=%s", exc)
        return NodeSignals(self.node_id, now, workers, node)

    def _worker(self, report: WorkerReport) -> WorkerSignals:
        if not report.ready:
            return WorkerSignals(report.worker_id, False, socket_cap=self.socket_cap)
        cpu, rss = self._usage(report.pid)
        if report.beat_gap is not None:
            # Sampled more often than the worker beats: keep the last gap seen until a new one.
            self._lag_ms[report.pid] = max(0.0, report.beat_gap - HEARTBEAT_INTERVAL) * 1000
        return WorkerSignals(
            worker_id=report.worker_id,
            ready=True,
            sockets=report.connections,
            socket_cap=self.socket_cap,
            cpu=cpu,
            rss_bytes=rss,
            loop_lag_ms=self._lag_ms.get(report.pid),
            error_rate=self._error_rate(report),
        )

    def _usage(self, pid: int) -> tuple[float | None, int | None]:
        try:
            process = self._processes.get(pid)
            if process is None:
                process = self._processes[pid] = psutil.Process(pid)
                process.cpu_percent(None)  # the first call only starts the measurement
                return None, process.memory_info().rss
            return process.cpu_percent(None), process.memory_info().rss
        except psutil.Error:
            return None, None

    def _error_rate(self, report: WorkerReport) -> float | None:
        """% of WebSocket handshakes refused since the previous sample."""
        before = self._counters.get(report.pid)
        self._counters[report.pid] = dict(report.counters)
        if before is None:
            return None
        refused = report.counters.get("handshakes_refused", 0) - before.get("handshakes_refused", 0)
        opened = report.counters.get("connections_opened", 0) - before.get("connections_opened", 0)
        attempts = refused + opened
        return 0.0 if attempts <= 0 else 100.0 * refused / attempts
