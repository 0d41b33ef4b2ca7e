"""The safety features' pieces, built from :class:`SafetySettings`: for the gateway, TURN
credentials, the relay-only ICE filter and the per-wallet skip limit (each None when off); for
the API and the CLI, the moderation desk on the SQL stores.
"""

from __future__ import annotations

from typing import TypedDict

from sqlalchemy.ext.asyncio import AsyncEngine

from roulette.config import Config
from roulette.gateway.context import IceFilter
from roulette.moderation.desk import ModerationDesk
from roulette.moderation.policy import SuspendRule
from roulette.relay.ice import relay_only
from roulette.relay.keyed import KeyedLimiter
from roulette.relay.turn import TurnIssuer
from roulette.safety import SafetySettings
from roulette.storage.ports import Lobby
from roulette.storage.sql.audit import SqlAuditLog
from roulette.storage.sql.moderation import SqlModeration
from roulette.storage.sql.reviews import SqlReviews

__all__ = ["GatewayHooks", "moderation_desk", "safety_hooks"]


class GatewayHooks(TypedDict):
    """The :class:`~roulette.gateway.context.GatewayContext` fields set here."""

    turn: TurnIssuer | None
    ice_filter: IceFilter | None
    skips: KeyedLimiter | None


def safety_hooks(settings: SafetySettings) -> GatewayHooks:
    """The gateway's safety hooks for ``settings``."""
    turn = None
    if settings.turn_secret is not None and settings.turn_urls:
        turn = TurnIssuer(settings.turn_secret, settings.turn_urls, settings.turn_ttl_seconds)
    skips = None
    if settings.skips_per_minute > 0:
        per_minute = settings.skips_per_minute
        skips = KeyedLimiter(burst=per_minute, per_second=per_minute / 60.0)
    return GatewayHooks(
        turn=turn, ice_filter=relay_only if settings.ice_relay_only else None, skips=skips
    )


def moderation_desk(config: Config, engine: AsyncEngine, lobby: Lobby | None) -> ModerationDesk:
    """The desk on ``engine``'s stores (``lobby`` None: the CLI, which holds no live queue)."""
    safety = config.safety
    rule = SuspendRule(
        threshold=safety.report_suspend_threshold,
        window=safety.report_window_seconds,
        min_age=safety.reporter_min_age_seconds,
    )
    return ModerationDesk(
        moderation=SqlModeration(engine),
        reviews=SqlReviews(engine),
        audit=SqlAuditLog(engine),
        rule=rule,
        lobby=lobby,
    )
