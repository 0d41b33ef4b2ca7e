"""A load trace replayed through the real :class:`~roulette.scaling.autoscaler.Autoscaler` and
a queueing model of workers calibrated from docs/performance.md.

The model, per one-second step: users arrive (the trace's growth plus churn) and each signs in
(3.65 ms of a worker's CPU) and opens one WebSocket; arrivals spread evenly over the ready
workers that have room (``MAX_CONNECTIONS``, 19,000), the rest are refused and retry. Sockets
are long-lived, so a new worker only takes new arrivals. A worker has one core; relaying costs
1/203,953 CPU-s per message (0.94 messages per user per second in the load test), an idle
socket ~1.6 µs per second. CPU beyond a core becomes a backlog; p95 latency is the measured
idle p95 (22.7 ms) stretched by 1/(1 − ρ), plus the backlog. New workers are ready after
``boot_seconds``; a stopped worker's users reconnect elsewhere. The autoscaler sees what the
supervisor would: sockets as % of the cap and CPU % of ready workers; booting ones are missing.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from roulette.scaling.autoscaler import Autoscaler
from roulette.scaling.behavior import Bounds
from roulette.scaling.settings import ScalingPolicy
from roulette.scaling.signals import NodeSignals, WorkerSignals

__all__ = ["Calibration", "Trace", "simulate"]


@dataclass(frozen=True, slots=True)
class Calibration:
    """Figures of one worker, from docs/performance.md (the 2026-12 benchmark runs)."""

    socket_cap: int = 19_000
    relay_msgs_per_cpu_second: float = 203_953.0
    msgs_per_user_second: float = 0.94
    sign_in_cpu_seconds: float = 0.00365
    idle_cpu_per_socket: float = 0.03 / 19_000
    base_p95_ms: float = 22.7
    handshake_cpu_seconds: float = 0.0003
    """A reconnect with a still-valid token: a WebSocket handshake, no SIWE sign-in."""
    boot_seconds: float = 20.0
    session_seconds: float = 900.0


@dataclass(frozen=True, slots=True)
class Trace:
    """Concurrent users over time: ``(seconds, users)`` points, linearly interpolated."""

    name: str
    points: tuple[tuple[float, float], ...]
    noise: float = 0.0
    """Relative noise on the users (0.05 = ±5 %): a seeded draw per minute, interpolated."""
    description: str = ""

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Trace:
        """From the JSON of a trace file.

        Raises:
            KeyError, TypeError, ValueError: malformed.
        """
        points = tuple((float(t), float(u)) for t, u in data["points"])
        if len(points) < 2 or any(b[0] <= a[0] for a, b in itertools.pairwise(points)):
            raise ValueError("a trace needs two or more points with increasing times")
        if any(u < 0 for _, u in points):
            raise ValueError("users cannot be negative")
        return cls(
            str(data["name"]),
            points,
            float(data.get("noise", 0.0)),
            str(data.get("description", "")),
        )

    @property
    def duration(self) -> float:
        """Seconds from the first point to the last."""
        return self.points[-1][0] - self.points[0][0]

    def users(self, t: float) -> float:
        """Users at ``t`` (interpolated, clamped to the ends)."""
        points = self.points
        if t <= points[0][0]:
            return points[0][1]
        for (t0, u0), (t1, u1) in itertools.pairwise(points):
            if t <= t1:
                return u0 + (u1 - u0) * (t - t0) / (t1 - t0)
        return points[-1][1]


@dataclass
class _Worker:
    ready_at: float
    sockets: float = 0.0
    backlog: float = 0.0
    cpu: float = 0.0
    p95_ms: float = 0.0

    def is_ready(self, now: float) -> bool:
        return now >= self.ready_at


@dataclass
class _Model:
    calibration: Calibration
    workers: list[_Worker] = field(default_factory=list)
    waiting: float = 0.0
    reconnecting: float = 0.0
    refused: float = 0.0

    def resize(self, count: int, now: float) -> None:
        while len(self.workers) < count:
            self.workers.append(_Worker(ready_at=now + self.calibration.boot_seconds))
        while len(self.workers) > count:
            # Its users reconnect to the others in the next step, with their tokens.
            self.reconnecting += self.workers.pop().sockets

    def step(self, users: float, churn: float, now: float) -> None:
        """One second: departures, arrivals (sign-ins), then CPU and latency per worker."""
        cal = self.calibration
        connected = sum(w.sockets for w in self.workers)
        leaving = min(connected, max(0.0, connected - users) + churn * connected)
        for w in self.workers:
            if connected > 0:
                w.sockets = max(0.0, w.sockets - leaving * w.sockets / connected)
        remaining = max(0.0, users - sum(w.sockets for w in self.workers))
        self.waiting = remaining  # arrivals, plus earlier refused users trying again
        waiting = self.waiting
        placements = self._place(now)
        # Placed users are reconnects first (cheap handshakes), then new sign-ins.
        handshake_share = min(1.0, self.reconnecting / waiting) if waiting else 0.0
        self.reconnecting = max(0.0, self.reconnecting - (waiting - self.waiting))
        for w, placed in zip(self.workers, placements, strict=True):
            demand = (
                placed * handshake_share * cal.handshake_cpu_seconds
                + placed * (1 - handshake_share) * cal.sign_in_cpu_seconds
                + w.sockets * cal.msgs_per_user_second / cal.relay_msgs_per_cpu_second
                + w.sockets * cal.idle_cpu_per_socket
            )
            w.backlog = max(0.0, w.backlog + demand - 1.0)
            w.cpu = 1.0 if w.backlog > 0 else min(1.0, demand)
            rho = min(demand, 0.98)
            w.p95_ms = cal.base_p95_ms / (1 - rho) + w.backlog * 1000 if w.sockets else 0.0

    def _place(self, now: float) -> list[float]:
        """Spread the waiting users over ready workers with room; the rest are refused."""
        cap = self.calibration.socket_cap
        placed = [0.0] * len(self.workers)
        open_ = [i for i, w in enumerate(self.workers) if w.is_ready(now) and w.sockets < cap]
        while self.waiting > 0.5 and open_:
            share = self.waiting / len(open_)
            still_open = []
            for i in open_:
                w = self.workers[i]
                take = min(share, cap - w.sockets)
                w.sockets += take
                placed[i] += take
                self.waiting -= take
                if w.sockets < cap - 0.5:
                    still_open.append(i)
            open_ = still_open
        self.refused += self.waiting  # user-seconds without a socket
        return placed

    def signals(self, now: float) -> NodeSignals:
        cap = self.calibration.socket_cap
        workers = tuple(
            WorkerSignals(f"w{i}", True, round(w.sockets), cap, cpu=100 * w.cpu)
            if w.is_ready(now)
            else WorkerSignals(f"w{i}", False, socket_cap=cap)
            for i, w in enumerate(self.workers)
        )
        return NodeSignals("sim", now, workers)


def simulate(
    trace: Trace,
    policy: ScalingPolicy,
    bounds: Bounds,
    *,
    calibration: Calibration = Calibration(),
    interval: float = 15.0,
    initial: int | None = None,
    seed: int = 1,
) -> dict[str, Any]:
    """Replay ``trace``; returns the per-step series and a summary (JSON-ready).

    Args:
        trace: the load.
        policy: the autoscaler's policy (the same object ``roulette cluster`` uses).
        bounds: MIN/MAX_INSTANCES.
        calibration: the worker model's figures.
        interval: seconds between evaluations (``SCALING_INTERVAL_SECONDS``).
        initial: workers at the start (default: enough for the first point at the target).
        seed: the noise generator's seed.
    """
    rng = random.Random(seed)
    scaler = Autoscaler(policy, bounds)
    model = _Model(calibration)
    start_users = trace.users(trace.points[0][0])
    count = initial or bounds.clamp(math.ceil(start_users / (0.6 * calibration.socket_cap)) or 1)
    model.resize(count, -calibration.boot_seconds)
    model.waiting = start_users
    model._place(0.0)
    churn = 1.0 / calibration.session_seconds
    series: list[dict[str, float]] = []
    next_eval = interval
    t0 = trace.points[0][0]
    knots = [rng.uniform(-trace.noise, trace.noise) for _ in range(int(trace.duration) // 60 + 2)]
    for second in range(int(trace.duration) + 1):
        now = float(second)
        k, frac = divmod(now / 60, 1)
        wobble = knots[int(k)] * (1 - frac) + knots[int(k) + 1] * frac
        users = trace.users(t0 + now) * (1 + wobble)
        model.step(users, churn, now)
        if now >= next_eval:
            next_eval += interval
            signals = model.signals(now)
            decision = scaler.evaluate(signals.samples(), signals.values(), len(model.workers), now)
            model.resize(decision.desired, now)
        series.append(_row(model, users, now))
    return {"trace": trace.name, "series": series, "summary": _summary(series, scaler, bounds)}


def _row(model: _Model, users: float, now: float) -> dict[str, float]:
    ready = [w for w in model.workers if w.is_ready(now)]
    sockets = [w.sockets for w in ready] or [0.0]
    return {
        "t": now,
        "users": round(users),
        "instances": len(model.workers),
        "ready": len(ready),
        "p95_ms": round(max((w.p95_ms for w in ready), default=0.0), 2),
        "sockets_mean": round(sum(sockets) / len(sockets)),
        "sockets_max": round(max(sockets)),
        "cpu_max": round(100 * max((w.cpu for w in ready), default=0.0), 1),
        "refused": round(model.refused),
    }


def _summary(
    series: Sequence[dict[str, float]], scaler: Autoscaler, bounds: Bounds
) -> dict[str, Any]:
    counts = [row["instances"] for row in series]
    changes = [
        (row["t"], b - a)
        for row, a, b in zip(series[1:], counts, counts[1:], strict=False)
        if b != a
    ]
    reversals = sum(1 for (_, a), (_, b) in itertools.pairwise(changes) if (a > 0) != (b > 0))
    return {
        "evaluations": len(series),
        "scale_events": len(changes),
        "direction_reversals": reversals,
        "changes": [{"t": t, "delta": d} for t, d in changes],
        "max_instances": max(counts),
        "min_instances": min(counts),
        "instance_seconds": sum(counts),
        "refused_user_seconds": series[-1]["refused"],
        "max_p95_ms": max(row["p95_ms"] for row in series),
        "seconds_p95_over_100ms": sum(1 for row in series if row["p95_ms"] > 100),
        "bounds": {"min": bounds.minimum, "max": bounds.maximum},
        "policy": scaler.policy.describe(),
    }
