"""The safety features' pieces for the gateway, built from :class:`SafetySettings`: TURN
credentials, the relay-only ICE filter and the per-wallet skip limit (each None when off).
"""

from __future__ import annotations

from typing import TypedDict

from roulette.gateway.context import IceFilter
from roulette.relay.ice import relay_only
from roulette.relay.keyed import KeyedLimiter
from roulette.relay.turn import TurnIssuer
from roulette.safety import SafetySettings

__all__ = ["GatewayHooks", "safety_hooks"]


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
