"""Wire the node's protection (issue 11): Redis and SQL behind circuit breakers, and the
load-shedding rule fed by the event loop's lag and the node's socket count."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import InterfaceError, OperationalError

from roulette.config import Config
from roulette.errors import Unavailable
from roulette.gateway.hub import Hub
from roulette.resilience.breaker import Breaker
from roulette.resilience.guard import Guard, guarded
from roulette.resilience.shedding import LoopLag, ShedPolicy, should_shed, should_shed_sign_in
from roulette.storage.ports import Lobby, Moderation, NonceStore, TokenFamilies
from roulette.storage.sql.database import DATABASE_UNAVAILABLE

__all__ = ["Protected", "protect"]

# The SQL stores translate an outage into Unavailable (storage.sql.database); the raw driver
# errors are listed too for any call that escapes that translation.
SQL_FAILURES = (Unavailable, OperationalError, InterfaceError, OSError, TimeoutError)
"""The database is down or unreachable — not a constraint the caller broke."""


@dataclass(frozen=True, slots=True)
class Protected:
    """The stores behind their breakers, the breakers, the shedding rules (all new work,
    and sign-ins alone) and their lag probe (the node runs the probe in its task group)."""

    lobby: Lobby
    nonces: NonceStore
    moderation: Moderation
    families: TokenFamilies
    breakers: tuple[Breaker, ...]
    shedding: Callable[[], bool]
    sign_in_shedding: Callable[[bool], bool]
    """Whether to refuse a sign-in request now; ``False`` spares it the early threshold."""
    lag: LoopLag


def protect(
    config: Config,
    hub: Hub,
    *,
    lobby: Lobby,
    nonces: NonceStore,
    moderation: Moderation,
    families: TokenFamilies,
    redis: bool,
) -> Protected:
    """Put the stores behind breakers (Redis's only when ``redis``) and build the shedding
    rule from ``hub``'s socket count."""
    lb = config.lb
    sql = Breaker("sql", lb.breaker_threshold)
    sql_guard = Guard(sql, SQL_FAILURES, DATABASE_UNAVAILABLE)
    breakers: tuple[Breaker, ...] = (sql,)
    if redis:
        shared = Breaker("redis", lb.breaker_threshold)
        redis_guard = Guard(shared, (Unavailable,), "state_unavailable")
        lobby = guarded(lobby, redis_guard)
        nonces = guarded(nonces, redis_guard)
        breakers = (shared, sql)
    lag = LoopLag()
    policy = ShedPolicy(
        max_lag_seconds=lb.shed_lag_ms / 1000,
        socket_fraction=lb.shed_socket_fraction,
        max_sign_in_lag_seconds=lb.shed_sign_in_lag_ms / 1000,
        sign_in_min_sockets=lb.shed_sign_in_min_sockets,
    )
    capacity = config.limits.max_connections

    def shedding() -> bool:
        return should_shed(policy, lag_seconds=lag.seconds, in_use=len(hub), capacity=capacity)

    def sign_in_shedding(early: bool = True) -> bool:
        return should_shed_sign_in(
            policy,
            lag_seconds=lag.seconds,
            current_lag_seconds=lag.current(time.monotonic()),
            in_use=len(hub),
            capacity=capacity,
            early=early,
        )

    return Protected(
        lobby=lobby,
        nonces=nonces,
        moderation=guarded(moderation, sql_guard),
        families=guarded(families, sql_guard),
        breakers=breakers,
        shedding=shedding,
        sign_in_shedding=sign_in_shedding,
        lag=lag,
    )
