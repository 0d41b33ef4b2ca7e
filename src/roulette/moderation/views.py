"""The JSON shapes of moderation records, shared by the admin API and the CLI."""

from __future__ import annotations

from roulette.moderation.records import ReportRecord, WalletHistory
from roulette.storage.ports import AuditEntry

__all__ = ["audit_json", "history_json", "report_json"]


def report_json(report: ReportRecord) -> dict[str, object]:
    """A report as the admin API shows it."""
    return {
        "id": report.id,
        "reporter": report.reporter,
        "target": report.target,
        "reason": report.reason,
        "sessionId": report.session_id,
        "notes": report.notes,
        "createdAt": report.created_at,
        "status": report.status.value,
        "resolvedAt": report.resolved_at,
        "resolvedBy": report.resolved_by,
        "resolution": report.resolution,
    }


def history_json(history: WalletHistory) -> dict[str, object]:
    """A wallet's history as the admin API shows it."""
    ban = history.ban
    return {
        "address": history.address,
        "firstSeen": history.first_seen,
        "sessions": history.sessions,
        "reportsReceived": history.reports_received,
        "openReportsReceived": history.open_reports_received,
        "reportsMade": history.reports_made,
        "blockedBy": history.blocked_by,
        "ban": None
        if ban is None
        else {
            "reason": ban.reason,
            "by": ban.banned_by,
            "bannedAt": ban.banned_at,
            "expiresAt": ban.expires_at,
        },
        "recentReportsReceived": [report_json(r) for r in history.recent_reports_received],
        "recentReportsMade": [report_json(r) for r in history.recent_reports_made],
    }


def audit_json(entry: AuditEntry) -> dict[str, object]:
    """An audit entry as the admin API shows it."""
    return {
        "id": entry.id,
        "at": entry.at,
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "reason": entry.reason,
        "details": dict(entry.details),
    }
