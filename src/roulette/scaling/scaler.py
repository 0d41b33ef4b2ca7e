"""The thin autoscaling loop inside ``roulette cluster``'s supervisor, and its API handlers.

Every ``SCALING_INTERVAL_SECONDS`` the supervisor's pass calls :meth:`Scaler.tick`: sample,
let the pure :class:`~roulette.scaling.autoscaler.Autoscaler` decide, apply the count (the
supervisor's sticky worker count, or the ``SCALING_HOOK`` for a fleet), and audit each change.
``/scaling/*`` requests arrive as calls to :meth:`Scaler.handle` from the same thread.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from roulette.scaling.actuator import HookActuator
from roulette.scaling.audit import AuditLog
from roulette.scaling.autoscaler import Autoscaler, OutOfBounds
from roulette.scaling.fleet import FleetBoard
from roulette.scaling.hpa import WorkerSample
from roulette.scaling.sampler import NodeSampler, WorkerReport
from roulette.scaling.signals import NodeSignals, fleet_values

__all__ = ["MAX_REASON_CHARS", "ScaleTarget", "Scaler"]

log = logging.getLogger(__name__)

MAX_REASON_CHARS = 200

Response = tuple[int, dict[str, Any]]


class ScaleTarget(Protocol):
    """What the scaler needs of the supervisor."""

    @property
    def desired(self) -> int:
        """The worker count in force."""
        ...

    def set_desired(self, count: int) -> int:
        """Apply a worker count."""
        ...

    def worker_reports(self) -> list[WorkerReport]:
        """What each live worker reported."""
        ...


class Scaler:
    """Samples, decides, applies and audits; answers ``/scaling/*``.

    Args:
        autoscaler: the pure decision object (policy, bounds, enabled).
        sampler: this node's signal sampler.
        audit: where changes are appended.
        interval: seconds between evaluations.
        hook: the fleet actuator, or None to scale this node's workers.
        board: the fleet board in Redis (publish, read, lead), or None.
        clock: monotonic seconds (intervals); decisions use ``wall`` (epoch seconds).
    """

    def __init__(
        self,
        autoscaler: Autoscaler,
        sampler: NodeSampler,
        audit: AuditLog,
        *,
        interval: float,
        hook: HookActuator | None = None,
        board: FleetBoard | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.autoscaler = autoscaler
        self.sampler = sampler
        self.audit = audit
        self.interval = interval
        self.hook = hook
        self.board = board
        self.fleet: list[NodeSignals] | None = None
        self.leading = True  # only a fleet (hook + board) has followers
        self.clock = clock
        self.wall = wall
        self.signals: NodeSignals | None = None
        self._next_at = clock() + interval

    def close(self) -> None:
        """Let a running hook finish briefly; release the board's connections."""
        if self.hook is not None:
            self.hook.close()
        if self.board is not None:
            self.board.close()

    def current(self, target: ScaleTarget) -> int:
        """The count in force: the hook's last requested count, or the workers'."""
        return self.hook.target if self.hook is not None else target.desired

    def tick(self, target: ScaleTarget) -> None:
        """Evaluate if an interval has passed since the last evaluation."""
        if self.hook is not None:
            self.hook.poll()
        if self.clock() < self._next_at:
            return
        self._next_at = self.clock() + self.interval
        self.evaluate(target)

    def evaluate(self, target: ScaleTarget) -> None:
        """Sample, decide and apply once."""
        now = self.wall()
        current = self.current(target)
        signals = self.sampler.sample(target.worker_reports(), now)
        self.signals = signals
        if self.board is not None:
            lease = max(3 * self.interval, 3.0)
            self.fleet = self.board.exchange(signals, max_age=lease)
            if self.hook is not None:
                # One decision per fleet: only the lease holder runs the hook.
                self.leading = self.board.lead(lease)
                if not self.leading:
                    return
        samples, values = self._inputs(signals, current)
        decision = self.autoscaler.evaluate(samples, values, current, now)
        for event in decision.events:
            self.audit.record(event)
        if decision.desired != current:
            self._apply(target, decision.desired, decision.reason)

    def _inputs(
        self, signals: NodeSignals, current: int
    ) -> tuple[list[WorkerSample], dict[str, float]]:
        """Per-worker samples of this node, or per-node samples of the fleet (hook)."""
        if self.hook is None:
            return signals.samples(), signals.values()
        if self.fleet:
            samples = [
                WorkerSample(any(w.ready for w in n.workers), n.values()) for n in self.fleet
            ]
            return samples, fleet_values(self.fleet)
        # Without the board, this node's averages stand for every node (an even balancer).
        values = signals.values()
        return ([WorkerSample(True, values) for _ in range(current)] if values else []), values

    def _apply(self, target: ScaleTarget, count: int, reason: str) -> None:
        if self.hook is not None:
            self.hook.request(count, reason)
        else:
            target.set_desired(count)

    def handle(
        self, action: str, body: Mapping[str, Any], actor: str, target: ScaleTarget
    ) -> Response:
        """One ``/scaling/*`` request: ``status``, ``manual`` (POST) or ``clear`` (DELETE)."""
        if action != "status" and not self.leading:
            leader = self.board.leader() if self.board is not None else None
            message = f"this node does not scale the fleet; send it to the leader ({leader})"
            return 409, {"error": {"code": "not_leader", "message": message}}
        if action == "manual":
            return self._manual(body, actor, target)
        if action == "clear":
            event = self.autoscaler.clear_manual(
                by=actor, current=self.current(target), now=self.wall()
            )
            if event is not None:
                self.audit.record(event)
            return 200, {**self.status(target), "cleared": event is not None}
        return 200, self.status(target)

    def _manual(self, body: Mapping[str, Any], actor: str, target: ScaleTarget) -> Response:
        parsed = _manual_body(body)
        if isinstance(parsed, str):
            return 400, {"error": {"code": "bad_request", "message": parsed}}
        instances, reason, ttl = parsed
        current = self.current(target)
        try:
            event = self.autoscaler.set_manual(
                instances, reason=reason, by=actor, ttl=ttl, current=current, now=self.wall()
            )
        except OutOfBounds as exc:
            return 422, {"error": {"code": "out_of_bounds", "message": str(exc)}}
        self.audit.record(event)
        if instances != current:
            self._apply(target, instances, f"manual: {reason}")
        return 200, self.status(target)

    def status(self, target: ScaleTarget) -> dict[str, Any]:
        """``GET /scaling/status``."""
        last = self.autoscaler.last
        return {
            **self.autoscaler.status(),
            "actuator": "hook" if self.hook is not None else "workers",
            "current": self.current(target),
            "desired": self._desired(target),
            "intervalSeconds": self.interval,
            "signals": None if self.signals is None else self.signals.describe(),
            "fleet": self._fleet_status(),
            "lastEvaluatedAt": None if last is None else last.at,
        }

    def _fleet_status(self) -> dict[str, Any] | None:
        if self.board is None:
            return None
        nodes = self.fleet or []
        return {
            "nodeId": self.board.node_id,
            "leading": self.leading,
            "nodes": [n.node_id for n in nodes],
            "values": {k: round(v, 3) for k, v in fleet_values(nodes).items()},
        }

    def _desired(self, target: ScaleTarget) -> int:
        if self.autoscaler.override is not None:
            return self.autoscaler.override.instances
        last = self.autoscaler.last
        return self.current(target) if last is None else last.desired


def _manual_body(body: Mapping[str, Any]) -> tuple[int, str, float | None] | str:
    """``{instances, reason, ttlSeconds?}`` checked, or the problem as a sentence."""
    instances = body.get("instances")
    if isinstance(instances, bool) or not isinstance(instances, int):
        return "instances must be an integer"
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON_CHARS:
        return f"reason must be a non-empty string of at most {MAX_REASON_CHARS} characters"
    ttl = body.get("ttlSeconds")
    if ttl is not None and (
        isinstance(ttl, bool) or not isinstance(ttl, int | float) or not math.isfinite(ttl)
    ):
        return "ttlSeconds must be a number of seconds"
    return instances, reason.strip(), None if ttl is None else float(ttl)
