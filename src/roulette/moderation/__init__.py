"""Moderation: the review queue, auto-suspension, bans with expiry, and the audit trail.

The rules are pure (:mod:`roulette.moderation.policy`); :class:`ModerationDesk` carries them
out on the stores, writing every action to the audit log.
"""

from __future__ import annotations

from roulette.moderation.policy import SuspendRule, cooldown_left, should_suspend
from roulette.moderation.records import ReportRecord, ReportStatus, Resolution, WalletHistory

__all__ = [
    "ReportRecord",
    "ReportStatus",
    "Resolution",
    "SuspendRule",
    "WalletHistory",
    "cooldown_left",
    "should_suspend",
]
