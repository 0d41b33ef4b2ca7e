"""The live figures of one process, shared by the monitor, the health routes and the dashboard.

Recording is cheap and synchronous (the HTTP middleware and SQL hooks call it); the monitor
reads it once per pass. Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from roulette.observability.alerting import AlertBook
from roulette.observability.history import Event, History
from roulette.observability.metrics import SCALING_EVENTS
from roulette.observability.probes import Check, ProbeResult
from roulette.observability.readiness import LoadGate
from roulette.observability.thresholds import Level
from roulette.observability.window import LatencyWindow

__all__ = ["Vitals"]

SLOW_QUERY_MS = 100.0
"""A statement slower than this is listed in ``/health/performance``'s slow queries."""
STATEMENT_CHARS = 120
"""Slow statements are shown by their first characters (SQL text only, never parameters)."""


@dataclass(slots=True)
class Vitals:
    """Windows, history, probe results and alert state of this process."""

    http: LatencyWindow = field(default_factory=LatencyWindow)
    sql: LatencyWindow = field(default_factory=LatencyWindow)
    errors: LatencyWindow = field(default_factory=LatencyWindow)
    history: History = field(default_factory=History)
    gate: LoadGate = field(default_factory=LoadGate)
    alerts: AlertBook = field(default_factory=lambda: AlertBook(cooldown=300.0))
    levels: dict[str, Level] = field(default_factory=dict)
    checks: dict[str, Check] = field(default_factory=dict)
    """The dependency probes (name → check), set by the composition root."""
    probes: dict[str, ProbeResult] = field(default_factory=dict)
    loop_lag_ms: float = 0.0

    def http_request(self, route: str, status: int, ms: float, now: float) -> None:
        """One HTTP request served (5xx counts as an error)."""
        self.http.observe(route, ms, now, error=status >= 500)

    def sql_statement(self, statement: str, ms: float, now: float) -> None:
        """One SQL statement executed; slow ones are remembered by their text."""
        kind = statement.lstrip().split(None, 1)[0].lower() if statement.strip() else "other"
        self.sql.observe(kind, ms, now)
        if ms >= SLOW_QUERY_MS:
            self.sql.count(" ".join(statement.split())[:STATEMENT_CHARS], now)

    def scaling_event(self, direction: str, reason: str, now: float) -> None:
        """A scaling decision carried out (the autoscaler calls this): counted and charted.

        Args:
            direction: ``up`` or ``down``.
            reason: the rule that decided it (a short fixed name, it labels a metric).
            now: when (seconds).
        """
        SCALING_EVENTS.labels(direction, reason).inc()
        self.history.note(Event(now, "scaling", direction, reason))

    def error(self, kind: str, code: str, now: float) -> None:
        """One error answered (``kind`` peer / service / unexpected, ``code`` snake_case)."""
        self.errors.count(f"{kind}:{code}", now)
