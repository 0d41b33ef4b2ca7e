"""A ban, as every writer of one (admin API, CLI, a moderator) makes it: durable, and the
wallet's tokens dead at once. See :mod:`roulette.runtime.bans` for how live sockets learn it."""

from __future__ import annotations

from roulette.matchmaking.records import Address
from roulette.storage.ports import Moderation, TokenFamilies

__all__ = ["ban_wallet"]


async def ban_wallet(
    moderation: Moderation,
    families: TokenFamilies,
    address: Address,
    *,
    reason: str,
    by: str,
    now: float,
) -> int:
    """Ban ``address`` and revoke all its token families; returns how many were revoked.

    The caller's live sockets are closed by every node's
    :class:`~roulette.runtime.bans.BanWatch` (and, for the admin API, by an immediate kick).
    """
    await moderation.ban(address=address, reason=reason, by=by, now=now)
    return await families.revoke_wallet(address, now=now)
