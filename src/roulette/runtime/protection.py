"""Wire the node's protection (issue 11): Redis and SQL behind circuit breakers, and the
load-shedding rule fed by the event loop's lag and the node's socket count."""

from __future__ import annotations

import time

from sqlalchemy.exc import InterfaceError, OperationalError

from roulette.config import Config
from roulette.errors import Unavailable
from roulette.resilience.breaker import Breaker
from roulette.resilience.guard import Guard, guarded
from roulette.resilience.shedding import LoopLag, ShedPolicy, should_shed
from roulette.runtime.services import Services

__all__ = ["protect"]

SQL_FAILURES = (OperationalError, InterfaceError, OSError, TimeoutError)
"""The database is down or unreachable — not a constraint the caller broke."""


def protect(config: Config, svc: Services, *, redis: bool) -> LoopLag:
    """Put ``svc``'s stores behind breakers and set its shedding rule; returns the lag probe
    (the node runs it in its task group)."""
    lb = config.lb
    sql = Breaker("sql", lb.breaker_threshold, lb.breaker_reset_seconds)
    sql_guard = Guard(sql, SQL_FAILURES, time.monotonic, "database_unavailable")
    svc.moderation = guarded(svc.moderation, sql_guard)
    svc.families = guarded(svc.families, sql_guard)
    svc.breakers = [sql]
    if redis:
        shared = Breaker("redis", lb.breaker_threshold, lb.breaker_reset_seconds)
        redis_guard = Guard(shared, (Unavailable,), time.monotonic, "state_unavailable")
        svc.lobby = guarded(svc.lobby, redis_guard)
        svc.nonces = guarded(svc.nonces, redis_guard)
        svc.breakers.insert(0, shared)
    lag = LoopLag()
    policy = ShedPolicy(
        max_lag_seconds=lb.shed_lag_ms / 1000, socket_fraction=lb.shed_socket_fraction
    )
    capacity = config.limits.max_connections

    def shedding() -> bool:
        return should_shed(policy, lag_seconds=lag.seconds, in_use=len(svc.hub), capacity=capacity)

    svc.shedding = shedding
    return lag
