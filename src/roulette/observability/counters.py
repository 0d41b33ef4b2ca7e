"""Plain integer counters bumped on hot paths; exported to Prometheus at scrape time.

A ``prometheus_client.Counter.inc()`` takes a lock and costs about a microsecond; at hundreds
of thousands of relayed messages per second that is measurable, so hot paths bump attributes
here and :mod:`roulette.observability.metrics` reads them when scraped.
"""

from __future__ import annotations

__all__ = ["Counters"]


class Counters:
    """Monotonic counts of one process."""

    __slots__ = (
        "auth_failure",
        "auth_success",
        "blocks",
        "connections_closed",
        "connections_opened",
        "handshakes_refused",
        "matches",
        "rate_limited",
        "relay_dropped",
        "reports",
        "sessions_ended",
        "skips",
        "slow_readers",
    )

    def __init__(self) -> None:
        self.auth_failure = 0
        self.auth_success = 0
        self.connections_closed = 0
        self.connections_opened = 0
        self.handshakes_refused = 0
        self.matches = 0
        self.rate_limited = 0
        self.relay_dropped = 0
        self.sessions_ended = 0
        self.slow_readers = 0
        self.skips = 0
        self.reports = 0
        self.blocks = 0

    def as_dict(self) -> dict[str, int]:
        """A snapshot, for JSON and for the Prometheus collector."""
        return {name: getattr(self, name) for name in self.__slots__}
