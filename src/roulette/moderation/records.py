"""What the review queue shows a moderator: reports and a wallet's history."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from roulette.identity import Address
from roulette.storage.ports import BanRecord

__all__ = ["ReportRecord", "ReportStatus", "Resolution", "WalletHistory"]


class ReportStatus(enum.Enum):
    """Where a report stands in the review queue."""

    OPEN = "open"
    RESOLVED = "resolved"


class Resolution(enum.Enum):
    """A moderator's decision on the reports about one user."""

    DISMISS = "dismiss"
    """No action; an auto-suspension pending this review is lifted."""
    BAN = "ban"
    """Ban the reported user (optionally until an expiry)."""


@dataclass(frozen=True, slots=True)
class ReportRecord:
    """One report, as stored."""

    id: int
    reporter: Address
    target: Address
    reason: str
    session_id: str | None
    notes: str | None
    created_at: float
    status: ReportStatus
    resolved_at: float | None = None
    resolved_by: str | None = None
    resolution: str | None = None


@dataclass(frozen=True, slots=True)
class WalletHistory:
    """A wallet's record, for judging a report by (or about) it."""

    address: Address
    first_seen: float | None
    """First sign-in (None: never signed in here)."""
    sessions: int
    reports_received: int
    open_reports_received: int
    reports_made: int
    blocked_by: int
    ban: BanRecord | None
    recent_reports_received: tuple[ReportRecord, ...]
    recent_reports_made: tuple[ReportRecord, ...]
