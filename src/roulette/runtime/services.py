"""Build a node's :class:`~roulette.api.services.Services` in one step (it is frozen): every
part first — stores behind their breakers, the kick, the readiness checks, the chain hooks —
then the object once."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from roulette.api.services import Services
from roulette.auth.siwe import SiweRules
from roulette.auth.tokens import TokenIssuer
from roulette.config import Config
from roulette.gateway.hub import Hub
from roulette.identity import Address
from roulette.observability.counters import Counters
from roulette.observability.metrics import MetricsSync
from roulette.observability.probes import Check
from roulette.observability.vitals import Vitals
from roulette.relay.keyed import KeyedLimiter
from roulette.runtime.onchain import OnChain
from roulette.runtime.protection import Protected
from roulette.runtime.safety import moderation_desk
from roulette.runtime.secrets import jwt_secrets
from roulette.runtime.state import SharedState

__all__ = ["build_services"]


def build_services(
    config: Config,
    engine: AsyncEngine,
    state: SharedState,
    hub: Hub,
    *,
    protected: Protected,
    onchain: OnChain | None,
) -> Services:
    """Every shared object, built first, then put together once (Services is frozen)."""
    access_secret, refresh_secret = jwt_secrets(config)
    counters = Counters()
    limits = config.limits
    kick = _kicker(hub, state)
    database_ok = _database_check(engine)
    return Services(
        config=config,
        issuer=TokenIssuer(
            access_secret=access_secret,
            refresh_secret=refresh_secret,
            access_ttl=config.access_ttl_seconds,
            refresh_ttl=config.refresh_ttl_seconds,
        ),
        siwe_rules=SiweRules(domain=config.siwe_domain, chain_ids=frozenset(config.chain_ids)),
        nonces=protected.nonces,
        lobby=protected.lobby,
        moderation=protected.moderation,
        families=protected.families,
        hub=hub,
        counters=counters,
        started_at=time.time(),
        database_ok=database_ok,
        metrics_sync=MetricsSync(counters, hub, socket_limit=limits.max_connections),
        # Resume tokens are keyed apart from JWTs, but every worker derives the same key.
        resume_secret=hashlib.sha256(b"roulette-resume:" + access_secret.encode()).digest(),
        auth_limiter=KeyedLimiter(burst=limits.auth_burst, per_second=limits.auth_per_second),
        reports_limiter=KeyedLimiter(
            burst=limits.reports_burst, per_second=limits.reports_per_second
        ),
        desk=moderation_desk(config, engine, state.lobby, kick),
        contract_signatures=(
            onchain.service.verify_contract_signature if onchain is not None else None
        ),
        kick=kick,
        vitals=Vitals(checks=_checks(config, database_ok, state, onchain)),
        workers=state.workers,
        routers=(onchain.router,) if onchain is not None else (),
        breakers=protected.breakers,
        shedding=protected.shedding,
        sign_in_shedding=protected.sign_in_shedding,
    )


def _checks(
    config: Config,
    database_ok: Callable[[], Awaitable[bool]],
    state: SharedState,
    onchain: OnChain | None,
) -> dict[str, Check]:
    """The dependencies ``/health/ready`` and the monitor probe: SQL, Redis, a chain RPC."""
    checks: dict[str, Check] = {"database": database_ok}
    if state.ping is not None:
        checks["redis"] = state.ping
    if onchain is not None and config.chain.chain_ids:
        rpc, chain = onchain.service.rpc, config.chain.chain_ids[0]

        async def block_number() -> object:
            return await rpc.call(chain, "eth_blockNumber", [])

        checks["chain_rpc"] = block_number
    return checks


def _kicker(hub: Hub, state: SharedState) -> Callable[[str, int, str], Awaitable[None]]:
    async def kick(address: str, code: int, reason: str) -> None:
        workers = [w.worker_id for w in await state.workers.alive()] if state.workers else []
        hub.kick(Address(address), code, reason, workers)

    return kick


def _database_check(engine: AsyncEngine) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        async with asyncio.timeout(2.0), engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True

    return check
