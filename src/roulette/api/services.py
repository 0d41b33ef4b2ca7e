"""The objects one node is made of, built once by the composition root and passed down."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fastapi import APIRouter

from roulette.auth.siwe import SiweRules
from roulette.auth.tokens import TokenIssuer
from roulette.config import Config
from roulette.identity import Address
from roulette.moderation.desk import ModerationDesk
from roulette.observability.counters import Counters
from roulette.observability.figures import HubFigures
from roulette.observability.metrics import MetricsSync
from roulette.observability.vitals import Vitals
from roulette.relay.keyed import KeyedLimiter
from roulette.resilience.breaker import Breaker
from roulette.storage.ports import Lobby, Moderation, NonceStore, TokenFamilies, WorkerRegistry

__all__ = ["Services"]


@dataclass(frozen=True, slots=True)
class Services:
    """Everything the HTTP API and the gateway of one node share, built once (frozen: no part
    is swapped after the app and the gateway read it)."""

    config: Config
    issuer: TokenIssuer
    siwe_rules: SiweRules
    nonces: NonceStore
    lobby: Lobby
    moderation: Moderation
    families: TokenFamilies
    hub: HubFigures
    """The socket hub as the API sees it (the runtime holds the full gateway hub)."""
    counters: Counters
    started_at: float
    database_ok: Callable[[], Awaitable[bool]]
    auth_limiter: KeyedLimiter
    reports_limiter: KeyedLimiter
    metrics_sync: MetricsSync
    resume_secret: bytes = field(repr=False)
    desk: ModerationDesk
    """Reports, reviews and bans, each audited (the API and the CLI act through it)."""
    contract_signatures: Callable[[Address, bytes, bytes, int], Awaitable[bool]] | None = None
    kick: Callable[[str, int, str], Awaitable[None]] | None = None
    vitals: Vitals = field(default_factory=Vitals)
    """This process's live figures: health routes, dashboard and monitor read them."""
    workers: WorkerRegistry | None = None
    """The fleet's heartbeat registry (cluster mode), for the scaling metrics."""
    routers: tuple[APIRouter, ...] = ()
    """Optional feature routers (the on-chain API) mounted next to the core ones."""
    breakers: tuple[Breaker, ...] = ()
    """The Redis and SQL circuit breakers (issue 11), for /health and metrics."""
    shedding: Callable[[], bool] = lambda: False
    """True while the node sheds new handshakes and sign-ins (issue 11)."""
    sign_in_shedding: Callable[[bool], bool] = lambda early: False
    """True while the node sheds sign-ins: whenever it sheds, and from a lower loop lag on
    (``SHED_SIGNIN_LAG_MS``, issue 15)."""
