"""What the autoscaler sees: per-worker and per-node signals, their aggregates, and p95s.

Plain data and arithmetic; sampling them from processes and files is
:mod:`roulette.scaling.sampler`'s job. Metric names (the rules' ``metric`` field):

    cpu           % of one core, per worker              (psutil)
    rss           MiB resident, per worker               (psutil)
    sockets       % of MAX_CONNECTIONS in use, per worker (heartbeat)
    loopLag       ms of event-loop lag, per worker        (heartbeat arrival gaps)
    errorRate     % of handshakes refused, per worker     (heartbeat counters)
    memory        % of the machine's memory in use        (psutil)
    handshakeP95 / relayP95 / queueWait / httpP95: ms, p95 of the node's histograms
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from roulette.scaling.hpa import WorkerSample

__all__ = [
    "METRICS",
    "NODE_METRICS",
    "WORKER_METRICS",
    "NodeSignals",
    "WorkerSignals",
    "fleet_values",
    "histogram_quantile",
]

WORKER_METRICS = frozenset({"cpu", "rss", "sockets", "loopLag", "errorRate"})
NODE_METRICS = frozenset({"memory", "handshakeP95", "relayP95", "queueWait", "httpP95"})
METRICS = WORKER_METRICS | NODE_METRICS

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class WorkerSignals:
    """One worker's sample; None = not measured this time."""

    worker_id: str
    ready: bool
    sockets: int | None = None
    socket_cap: int = 1
    cpu: float | None = None
    rss_bytes: int | None = None
    loop_lag_ms: float | None = None
    error_rate: float | None = None

    def values(self) -> dict[str, float]:
        """The per-worker metrics this sample has."""
        values = {
            "cpu": self.cpu,
            "rss": None if self.rss_bytes is None else self.rss_bytes / MIB,
            "sockets": None if self.sockets is None else 100.0 * self.sockets / self.socket_cap,
            "loopLag": self.loop_lag_ms,
            "errorRate": self.error_rate,
        }
        return {k: v for k, v in values.items() if v is not None}


@dataclass(frozen=True, slots=True)
class NodeSignals:
    """One node's sample: its workers plus node-wide values (ms latencies, % memory)."""

    node_id: str
    at: float
    workers: tuple[WorkerSignals, ...] = ()
    node: Mapping[str, float] = field(default_factory=dict)

    def samples(self) -> list[WorkerSample]:
        """One HPA sample per worker; node-wide values are shared by every ready worker."""
        return [
            WorkerSample(w.ready, {**w.values(), **(self.node if w.ready else {})})
            for w in self.workers
        ]

    def values(self) -> dict[str, float]:
        """Aggregates for the rules: means over ready workers, the worst loop lag, node values."""
        ready = [w.values() for w in self.workers if w.ready]
        values: dict[str, float] = {}
        for metric in sorted(WORKER_METRICS):
            seen = [v[metric] for v in ready if metric in v]
            if seen:
                values[metric] = max(seen) if metric == "loopLag" else sum(seen) / len(seen)
        values.update(self.node)
        return values

    @property
    def sockets(self) -> int:
        """Sockets in use on the node."""
        return sum(w.sockets or 0 for w in self.workers)

    def describe(self) -> dict[str, Any]:
        """JSON for the status page and for the fleet hash in Redis."""
        return {
            "nodeId": self.node_id,
            "at": self.at,
            "workers": [asdict(w) for w in self.workers],
            "node": dict(self.node),
            "values": {k: round(v, 3) for k, v in self.values().items()},
        }

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> NodeSignals:
        """The inverse of :meth:`describe` (a peer node's published sample).

        Raises:
            KeyError, TypeError, ValueError: malformed data.
        """
        workers = tuple(WorkerSignals(**w) for w in data["workers"])
        node = {str(k): float(v) for k, v in dict(data["node"]).items()}
        return cls(str(data["nodeId"]), float(data["at"]), workers, node)


def fleet_values(nodes: Sequence[NodeSignals]) -> dict[str, float]:
    """Fleet-wide aggregates: worker means weighted by workers, the worst node for the rest.

    p95s of different nodes cannot be merged exactly; the worst node's is the safe choice.
    """
    ready = [w.values() for n in nodes for w in n.workers if w.ready]
    values: dict[str, float] = {}
    for metric in sorted(WORKER_METRICS):
        seen = [v[metric] for v in ready if metric in v]
        if seen:
            values[metric] = max(seen) if metric == "loopLag" else sum(seen) / len(seen)
    for metric in sorted(NODE_METRICS):
        seen = [n.node[metric] for n in nodes if metric in n.node]
        if seen:
            values[metric] = max(seen)
    return values


def histogram_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """The ``q`` quantile of a cumulative histogram, as Prometheus' ``histogram_quantile``.

    Args:
        q: 0..1.
        buckets: ``(upper bound, cumulative count)`` pairs, the last one ``+Inf``.

    Returns:
        Linear interpolation inside the bucket holding the rank; the highest finite bound if
        the rank falls in ``+Inf``; None without observations.
    """
    ordered = sorted(buckets)
    if not ordered or ordered[-1][1] <= 0:
        return None
    rank = q * ordered[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in ordered:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (
                count - lower_count
            )
        lower_bound, lower_count = bound, count
    return lower_bound
