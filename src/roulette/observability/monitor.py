"""The health monitor: every ``MONITOR_INTERVAL_SECONDS``, probe, sample, evaluate, alert, act.

A thin loop around the pure parts: :func:`~roulette.observability.thresholds.evaluate_all`
turns a sample into levels, the :class:`~roulette.observability.alerting.AlertBook` turns
levels into notices, :func:`~roulette.observability.recovery.decide` into actions. Under
``roulette cluster`` every worker samples and sheds for itself, but only the worker of slot 1
sends notices, so one incident pages once per node.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from roulette.monitor_settings import MonitorSettings
from roulette.observability.alerting import group
from roulette.observability.channels import Dispatcher
from roulette.observability.history import Event
from roulette.observability.metrics import (
    ALERT_LEVEL,
    ALERT_NOTICES,
    EVENT_LOOP_LAG,
    RECOVERY_ACTIONS,
)
from roulette.observability.probes import Check, probe_all
from roulette.observability.recovery import Action, ActionKind, decide
from roulette.observability.system import HOST
from roulette.observability.thresholds import evaluate_all
from roulette.observability.vitals import Vitals
from roulette.observability.window import percentile

__all__ = ["LAG_PERIOD", "Monitor", "Probes", "sends_alerts"]

log = logging.getLogger(__name__)

LAG_PERIOD = 0.25
"""Seconds between event-loop lag samples."""
MIN_REQUESTS = 20
"""Requests in the last minute below which the error rate is taken as 0 (too few to judge)."""


def sends_alerts(worker_id: str | None) -> bool:
    """True for ``roulette serve`` and for the cluster worker of slot 1 (ids ``node-slot.gen``)."""
    if worker_id is None:
        return True
    slot = worker_id.rsplit("-", 1)[-1].split(".", 1)[0]
    return slot == "1"


@dataclass(slots=True)
class Probes:
    """What the monitor reads besides the vitals."""

    checks: Mapping[str, Check]
    sockets: Callable[[], int]
    relayed: Callable[[], int]
    max_sockets: int
    relay_p95_ms: Callable[[float], float | None] = field(default=lambda now: None)
    """The relay latency p95 of the last minute's timed messages (ms; None without any)."""


class Monitor:
    """The loop; :meth:`run_pass` is one evaluation (tests call it directly)."""

    def __init__(
        self,
        settings: MonitorSettings,
        vitals: Vitals,
        probes: Probes,
        dispatcher: Dispatcher | None,
        *,
        source: str,
    ) -> None:
        self.settings = settings
        self.vitals = vitals
        self.probes = probes
        self.dispatcher = dispatcher
        self.source = source
        self.scale_up: list[Callable[[str], None]] = []
        """Called with the alert's name when the monitor asks for more instances (the
        autoscaler subscribes here)."""
        self._stop = asyncio.Event()
        self._lag_max = 0.0
        self._relayed: tuple[float, int] | None = None
        vitals.alerts.cooldown = settings.cooldown_seconds
        vitals.alerts.summaries = {r.name: r.summary for r in settings.rules}

    def stop(self) -> None:
        """End :meth:`run` after the current pass."""
        self._stop.set()

    async def run(self) -> None:
        """Sample the loop lag and evaluate every interval, until stopped."""
        async with asyncio.TaskGroup() as tasks:
            senders = self.dispatcher.start(tasks) if self.dispatcher is not None else []
            lag = tasks.create_task(self._watch_lag())
            # The first interval only primes the figures: start-up itself (imports, migrations)
            # costs CPU and loop lag that say nothing about the service's health.
            self.sample(time.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.settings.interval_seconds)
            while not self._stop.is_set():
                try:
                    await self.run_pass(time.time())
                except Exception:  # the monitor must outlive any one bad pass
                    log.exception("monitor_pass_failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.settings.interval_seconds)
            for task in [*senders, lag]:
                task.cancel()

    async def _watch_lag(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(LAG_PERIOD)
            lag = max(0.0, loop.time() - started - LAG_PERIOD)
            EVENT_LOOP_LAG.observe(lag)
            self._lag_max = max(self._lag_max, lag)

    async def run_pass(self, now: float) -> None:
        """Probe, sample, evaluate, notify and act once."""
        v = self.vitals
        v.probes = await probe_all(self.probes.checks, self.settings.probe_timeout_seconds)
        figures = self.sample(now)
        v.levels = evaluate_all(self.settings.rules, v.levels, figures)
        values = {r.name: figures.get(r.metric) for r in self.settings.rules}
        notices = v.alerts.observe(v.levels, values, now)
        for name, level in v.levels.items():
            ALERT_LEVEL.labels(name).set(int(level))
        for n in notices:
            ALERT_NOTICES.labels(n.alert, n.kind.value).inc()
            detail = f"{n.level.label} value={n.value}"
            v.history.note(Event(now, "alert", f"{n.alert} {n.kind.value}", detail))
        batch = group(notices)
        if batch is not None and self.dispatcher is not None:
            self.dispatcher.offer(batch)
        if self.settings.recovery_enabled:
            for action in decide(v.levels, notices, shedding=v.gate.is_shedding("monitor")):
                self._act(action, now)
        v.history.add(now, figures)

    def sample(self, now: float) -> dict[str, float | None]:
        """This pass's figures (what the rules read and the dashboard draws)."""
        v, p = self.vitals, self.probes
        minute = v.http.total(60.0, now)
        enough = minute.count >= MIN_REQUESTS
        host = HOST.sample()
        lag_ms, self._lag_max = self._lag_max * 1000.0, 0.0
        v.loop_lag_ms = lag_ms
        sockets = p.sockets()
        figures: dict[str, float | None] = {
            "http_rps": minute.count / 60.0,
            "http_p95_ms": percentile(minute.buckets, 0.95) or 0.0,
            "http_error_percent": 100.0 * minute.errors / minute.count if enough else 0.0,
            "cpu_percent": host.cpu_percent,
            "memory_percent": host.memory_percent,
            "load1": host.load[0],
            "loop_lag_ms": lag_ms,
            "connections": float(sockets),
            "sockets_percent": 100.0 * sockets / p.max_sockets,
            "relayed_per_second": self._relay_rate(now),
            "relay_p95_ms": p.relay_p95_ms(now),
        }
        for name, result in v.probes.items():
            figures[f"{name}_down"] = 0.0 if result.ok else 1.0
            figures[f"{name}_ms"] = result.latency_ms
        return figures

    def _relay_rate(self, now: float) -> float | None:
        relayed, last = self.probes.relayed(), self._relayed
        self._relayed = (now, relayed)
        if last is None or now <= last[0]:
            return None
        return (relayed - last[1]) / (now - last[0])

    def _act(self, action: Action, now: float) -> None:
        RECOVERY_ACTIONS.labels(action.kind.value).inc()
        log.warning("recovery_action action=%s reason=%s", action.kind.value, action.reason)
        self.vitals.history.note(Event(now, "recovery", action.kind.value, action.reason))
        if action.kind is ActionKind.SCALE_UP:
            for subscriber in self.scale_up:
                subscriber(action.reason)
        else:
            self.vitals.gate.shed("monitor", action.kind is ActionKind.SHED_START)
