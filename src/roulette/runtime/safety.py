"""The safety features' pieces, built from :class:`SafetySettings`: for the gateway, TURN
credentials, the relay-only ICE filter and the per-wallet skip limit (each None when off); for
the API and the CLI, the moderation desk on the SQL stores.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import TypedDict

from sqlalchemy.ext.asyncio import AsyncEngine

from roulette.config import Config
from roulette.errors import RateLimited
from roulette.gateway.context import IceFilter
from roulette.gateway.control import GateCheck
from roulette.identity import Address
from roulette.moderation.desk import Kick, ModerationDesk
from roulette.moderation.policy import SuspendRule, cooldown_left
from roulette.relay.ice import relay_only
from roulette.relay.keyed import KeyedLimiter
from roulette.relay.turn import TurnIssuer
from roulette.safety import SafetySettings
from roulette.storage.ports import Lobby
from roulette.storage.sql.audit import SqlAuditLog
from roulette.storage.sql.moderation import SqlModeration
from roulette.storage.sql.reviews import SqlReviews
from roulette.storage.sql.tokens import SqlTokenFamilies

__all__ = ["Admission", "GatewayHooks", "admission", "moderation_desk", "safety_hooks"]


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


def moderation_desk(
    config: Config, engine: AsyncEngine, lobby: Lobby | None, kick: Kick | None = None
) -> ModerationDesk:
    """The desk on ``engine``'s stores (``lobby`` and ``kick`` None: the CLI, which holds no
    live queue and no sockets)."""
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
        families=SqlTokenFamilies(engine),
        lobby=lobby,
        kick=kick,
    )


class Admission:
    """Who may enter a queue now: past the new-wallet cool-down, through the default gate.

    Args:
        reviews: where a wallet's first sign-in is found.
        cooldown: seconds a wallet first seen must wait before queueing (0: off).
        gate: the token-gate check of the chain service (None: no chain features).
        default_gate: the ``GATED_QUEUES`` name applied to the default queue too.
        max_cleared: wallets remembered as past their cool-down (it never comes back).
    """

    def __init__(
        self,
        reviews: SqlReviews,
        *,
        cooldown: float,
        gate: GateCheck | None,
        default_gate: str | None,
        max_cleared: int = 100_000,
    ) -> None:
        self._reviews = reviews
        self._cooldown = cooldown
        self._gate = gate
        self._default_gate = default_gate
        self._cleared: OrderedDict[Address, None] = OrderedDict()
        self._max_cleared = max_cleared

    async def __call__(self, address: Address, queue: str | None, now: float) -> None:
        """Raise unless ``address`` may join ``queue`` (None: the default queue) now.

        Raises:
            RateLimited: ``new_wallet_cooldown``, with the seconds left in the message.
            Forbidden: ``gate_not_met`` (the default queue's gate).
            Unavailable: ``gate_check_unavailable``.
        """
        if self._cooldown > 0 and address not in self._cleared:
            first_seen = await self._reviews.first_seen(address)
            left = cooldown_left(first_seen, now=now, cooldown=self._cooldown)
            if left > 0:
                raise RateLimited(
                    f"new wallets may join in {math.ceil(left)} s", code="new_wallet_cooldown"
                )
            self._cleared[address] = None
            while len(self._cleared) > self._max_cleared:
                self._cleared.popitem(last=False)
        if queue is None and self._default_gate is not None and self._gate is not None:
            await self._gate(address, self._default_gate, now)


def admission(config: Config, reviews: SqlReviews, gate: GateCheck | None) -> Admission | None:
    """The admission check for ``config``, or None when neither control is on."""
    safety = config.safety
    if safety.new_wallet_cooldown_seconds <= 0 and safety.default_queue_gate is None:
        return None
    return Admission(
        reviews,
        cooldown=safety.new_wallet_cooldown_seconds,
        gate=gate,
        default_gate=safety.default_queue_gate,
    )
