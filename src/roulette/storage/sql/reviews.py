"""The moderation review queue in SQL: open reports, their resolution, wallets' histories."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from roulette.identity import Address
from roulette.moderation.records import ReportRecord, ReportStatus, WalletHistory
from roulette.storage.ports import BanRecord
from roulette.storage.sql.database import begin, connect
from roulette.storage.sql.schema import bans, blocks, reports, session_history, token_families

__all__ = ["MAX_REPORTERS", "MAX_REVIEW_PAGE", "SqlReviews"]

MAX_REVIEW_PAGE = 200
"""The most reports one read returns."""

MAX_REPORTERS = 5000
"""Distinct reporters read for one auto-suspension decision: bounded work per report (and
below SQLite's 32,766 bound parameters), far above any sensible threshold."""

_RECENT = 10
"""Reports shown in a wallet's history, each way."""

_r = reports.c


def _report(row: Any) -> ReportRecord:
    return ReportRecord(
        id=row.id,
        reporter=Address(row.reporter),
        target=Address(row.target),
        reason=row.reason,
        session_id=row.session_id,
        notes=row.notes,
        created_at=row.created_at,
        status=ReportStatus(row.status),
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
        resolution=row.resolution,
    )


class SqlReviews:
    """Reads and resolutions of the review queue.

    Args:
        engine: an engine on a migrated database; the caller owns and disposes it.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def reports(
        self, *, status: ReportStatus | None = ReportStatus.OPEN, limit: int = 50
    ) -> list[ReportRecord]:
        """Reports in ``status`` (None: all), oldest first: the queue's order of work."""
        statement = select(reports).order_by(_r.id).limit(min(limit, MAX_REVIEW_PAGE))
        if status is not None:
            statement = statement.where(_r.status == status.value)
        async with connect(self._engine) as connection:
            return [_report(row) for row in (await connection.execute(statement)).all()]

    async def report(self, report_id: int) -> ReportRecord | None:
        """One report by id."""
        statement = select(reports).where(_r.id == report_id)
        async with connect(self._engine) as connection:
            row = (await connection.execute(statement)).first()
        return None if row is None else _report(row)

    async def recent_reporters(self, target: Address, *, since: float) -> list[Address]:
        """The distinct wallets that reported ``target`` at or after ``since`` (at most 5000)."""
        statement = (
            select(_r.reporter)
            .where(_r.target == target, _r.created_at >= since)
            .distinct()
            .limit(MAX_REPORTERS)
        )
        async with connect(self._engine) as connection:
            found = (await connection.execute(statement)).scalars().all()
        return [Address(a) for a in found]

    async def resolve_open(
        self, target: Address, *, by: str, resolution: str, now: float
    ) -> list[int]:
        """Resolve every open report about ``target``; returns their ids."""
        statement = (
            update(reports)
            .where(_r.target == target, _r.status == ReportStatus.OPEN.value)
            .values(
                status=ReportStatus.RESOLVED.value,
                resolved_at=now,
                resolved_by=by,
                resolution=resolution,
            )
            .returning(_r.id)
        )
        async with begin(self._engine) as connection:
            ids = (await connection.execute(statement)).scalars().all()
        return sorted(int(i) for i in ids)

    async def first_seen(self, address: Address) -> float | None:
        """When ``address`` first signed in here (its oldest token family), or None."""
        statement = select(func.min(token_families.c.created_at)).where(
            token_families.c.address == address
        )
        async with connect(self._engine) as connection:
            seen = await connection.scalar(statement)
        return None if seen is None else float(seen)

    async def ban_of(self, address: Address) -> BanRecord | None:
        """The ban record of ``address`` (expired or not), if any."""
        statement = select(bans).where(bans.c.address == address)
        async with connect(self._engine) as connection:
            row = (await connection.execute(statement)).first()
        return None if row is None else _ban(row)

    async def first_seen_of(self, addresses: list[Address]) -> dict[Address, float | None]:
        """:meth:`first_seen` of many wallets in one query (None: never signed in)."""
        family = token_families.c
        statement = (
            select(family.address, func.min(family.created_at))
            .where(family.address.in_(addresses))
            .group_by(family.address)
        )
        async with connect(self._engine) as connection:
            found = {Address(a): float(t) for a, t in (await connection.execute(statement)).all()}
        return {address: found.get(address) for address in addresses}

    async def history(self, address: Address) -> WalletHistory:
        """Everything a moderator weighs about ``address``."""
        counts = select(
            select(func.count()).where(_r.target == address).scalar_subquery(),
            select(func.count())
            .where(_r.target == address, _r.status == ReportStatus.OPEN.value)
            .scalar_subquery(),
            select(func.count()).where(_r.reporter == address).scalar_subquery(),
            select(func.count()).where(blocks.c.target == address).scalar_subquery(),
            select(func.count())
            .where(
                or_(session_history.c.initiator == address, session_history.c.responder == address)
            )
            .scalar_subquery(),
        )
        newest = select(reports).order_by(_r.id.desc()).limit(_RECENT)
        async with connect(self._engine) as connection:
            received, open_received, made, blocked_by, sessions = (
                await connection.execute(counts)
            ).one()
            about = (await connection.execute(newest.where(_r.target == address))).all()
            by = (await connection.execute(newest.where(_r.reporter == address))).all()
        return WalletHistory(
            address=address,
            first_seen=await self.first_seen(address),
            sessions=sessions,
            reports_received=received,
            open_reports_received=open_received,
            reports_made=made,
            blocked_by=blocked_by,
            ban=await self.ban_of(address),
            recent_reports_received=tuple(_report(row) for row in about),
            recent_reports_made=tuple(_report(row) for row in by),
        )


def _ban(row: Any) -> BanRecord:
    return BanRecord(
        address=Address(row.address),
        reason=row.reason,
        banned_at=row.banned_at,
        banned_by=row.banned_by,
        expires_at=row.expires_at,
    )
