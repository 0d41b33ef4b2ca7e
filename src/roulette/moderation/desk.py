"""The moderation desk: reports, auto-suspension, reviews and bans, each action audited.

The HTTP API (``/reports``, ``/admin/*``) and the CLI (``roulette reports|ban|unban``) both act
through one desk, so every path applies the same rules and leaves the same audit trail. The
rules themselves are pure (:mod:`roulette.moderation.policy`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from roulette.errors import Conflict, NotFound
from roulette.identity import Address
from roulette.moderation.policy import SuspendRule, should_suspend
from roulette.moderation.records import ReportRecord, ReportStatus, Resolution, WalletHistory
from roulette.storage.ports import AuditLog, Lobby, Moderation, TokenFamilies
from roulette.storage.sql.reviews import SqlReviews

__all__ = ["SUSPENDER", "Kick", "ModerationDesk"]

log = logging.getLogger(__name__)

Kick = Callable[[str, int, str], Awaitable[None]]
"""Close a wallet's live sockets, wherever they are: ``(address, close code, reason)``."""

SUSPENDER = "auto-suspend"
"""The author of automatic suspensions (in ``bans.banned_by`` and the audit log's actor)."""

_POLICY_VIOLATION = 1008  # RFC 6455 §7.4.1


@dataclass(slots=True)
class ModerationDesk:
    """Carries out moderation on the durable stores.

    Args:
        moderation: reports, blocks and bans.
        reviews: the review queue's reads and resolutions.
        audit: where every action is recorded.
        rule: the auto-suspension thresholds.
        families: the token families; a ban revokes every sign-in of the wallet, so refresh
            fails and its access tokens die at once.
        lobby: the live queue (a banned user leaves it at once); None in the CLI.
        kick: closes a banned user's live sockets; None in the CLI.
        clock: the wall clock.
    """

    moderation: Moderation
    reviews: SqlReviews
    audit: AuditLog
    rule: SuspendRule
    families: TokenFamilies
    lobby: Lobby | None = None
    kick: Kick | None = None
    clock: Callable[[], float] = time.time

    async def report(
        self,
        *,
        reporter: Address,
        target: Address,
        reason: str,
        session_id: str | None,
        notes: str | None,
    ) -> tuple[int, bool]:
        """Store a report; suspend ``target`` if enough distinct reporters now agree.

        Returns:
            The report's id, and whether this report suspended the target.
        """
        now = self.clock()
        report_id = await self.moderation.add_report(
            reporter=reporter,
            target=target,
            reason=reason,
            session_id=session_id,
            notes=notes,
            now=now,
        )
        return report_id, await self._maybe_suspend(target, now)

    async def _maybe_suspend(self, target: Address, now: float) -> bool:
        rule = self.rule
        if rule.threshold <= 0 or await self.moderation.is_banned(target, now=now):
            return False
        reporters = await self.reviews.recent_reporters(target, since=now - rule.window)
        if len(reporters) < rule.threshold:
            return False  # no mix of reporters could reach it
        first_seen = await self.reviews.first_seen_of(reporters)
        if not should_suspend(first_seen.values(), now=now, rule=rule):
            return False
        log.info("auto_suspended address=%s reporters=%d", target, len(reporters))
        await self.ban(
            address=target,
            reason=f"suspended pending review: {len(reporters)} reporters",
            actor=SUSPENDER,
            action="auto_suspend",
            details={"reporters": sorted(reporters)},
        )
        return True

    async def ban(
        self,
        *,
        address: Address,
        reason: str,
        actor: str,
        expires_at: float | None = None,
        action: str = "ban",
        details: dict[str, object] | None = None,
    ) -> None:
        """Ban (until ``expires_at``, or until lifted), audit it, and enforce it at once."""
        now = self.clock()
        await self.moderation.ban(
            address=address, reason=reason, by=actor, now=now, expires_at=expires_at
        )
        # Every node's BanWatch closes the wallet's sockets within BAN_POLL_SECONDS of the ban
        # row; revoking its families makes refresh and every HTTP call fail from now on.
        await self.families.revoke_wallet(address, now=now)
        await self.audit.append(
            actor=actor,
            action=action,
            target=address,
            reason=reason,
            now=now,
            details={**(details or {}), "expires_at": expires_at},
        )
        if self.lobby is not None:
            await self.lobby.leave(address)
        if self.kick is not None:
            await self.kick(address, _POLICY_VIOLATION, "banned")

    async def unban(self, *, address: Address, actor: str, reason: str | None) -> bool:
        """Lift a ban; False (and nothing audited) when there was none."""
        if not await self.moderation.unban(address):
            return False
        await self.audit.append(
            actor=actor, action="unban", target=address, reason=reason, now=self.clock()
        )
        return True

    async def resolve(
        self,
        report_id: int,
        *,
        resolution: Resolution,
        actor: str,
        reason: str,
        expires_at: float | None = None,
    ) -> list[int]:
        """Decide on the user a report is about; every open report about them is resolved.

        ``DISMISS`` lifts an auto-suspension pending this review (a moderator's own ban
        stays); ``BAN`` bans until ``expires_at``.

        Returns:
            The ids of the reports resolved.

        Raises:
            NotFound: ``report_not_found``.
            Conflict: ``report_resolved``, it was decided already.
        """
        report = await self._open_report(report_id)
        target = report.target
        if resolution is Resolution.BAN:
            await self.ban(address=target, reason=reason, actor=actor, expires_at=expires_at)
        else:
            ban = await self.reviews.ban_of(target)
            if ban is not None and ban.banned_by == SUSPENDER:
                await self.unban(address=target, actor=actor, reason="suspension lifted: " + reason)
        ids = await self.reviews.resolve_open(
            target, by=actor, resolution=resolution.value, now=self.clock()
        )
        await self.audit.append(
            actor=actor,
            action="resolve_reports",
            target=target,
            reason=reason,
            now=self.clock(),
            details={"reports": ids, "resolution": resolution.value, "expires_at": expires_at},
        )
        return ids

    async def _open_report(self, report_id: int) -> ReportRecord:
        report = await self.reviews.report(report_id)
        if report is None:
            raise NotFound(f"no report {report_id}", code="report_not_found")
        if report.status is not ReportStatus.OPEN:
            raise Conflict(f"report {report_id} is resolved already", code="report_resolved")
        return report

    async def show(self, report_id: int) -> tuple[ReportRecord, WalletHistory, WalletHistory]:
        """A report with the reporter's and the reported user's histories.

        Raises:
            NotFound: ``report_not_found``.
        """
        report = await self.reviews.report(report_id)
        if report is None:
            raise NotFound(f"no report {report_id}", code="report_not_found")
        reporter = await self.reviews.history(report.reporter)
        target = await self.reviews.history(report.target)
        return report, reporter, target
