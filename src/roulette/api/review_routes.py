"""The moderators' review queue under ``/admin``: reports, their histories, decisions, audit."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from roulette.api.deps import ServicesDep
from roulette.api.moderation_routes import Actor, Admin
from roulette.auth.address import to_checksum_address
from roulette.moderation.records import ReportStatus, Resolution
from roulette.moderation.views import audit_json, history_json, report_json

__all__ = ["router"]

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Admin])

MAX_ID = 2**31 - 1
"""Ids are 32-bit integers in SQL: a larger one is a 422, never a database overflow."""

ReportId = Annotated[int, Path(ge=1, le=MAX_ID)]


class ResolveBody(BaseModel):
    """``POST /admin/reports/{id}/resolve`` body."""

    action: Literal["dismiss", "ban"]
    reason: str = Field(min_length=1, max_length=500)
    expiresIn: int | None = Field(default=None, ge=1, le=10 * 365 * 86_400)


@router.get("/reports")
async def list_reports(
    svc: ServicesDep,
    status: Literal["open", "resolved", "all"] = "open",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, object]:
    """The review queue: open reports, oldest first (or resolved ones, or all)."""
    wanted = None if status == "all" else ReportStatus(status)
    reports = await svc.desk.reviews.reports(status=wanted, limit=limit)
    return {"reports": [report_json(r) for r in reports], "total": len(reports)}


@router.get("/reports/{report_id}")
async def show_report(report_id: ReportId, svc: ServicesDep) -> dict[str, object]:
    """A report, with the reporter's and the reported user's histories."""
    report, reporter, target = await svc.desk.show(report_id)
    return {
        "report": report_json(report),
        "reporter": history_json(reporter),
        "target": history_json(target),
    }


@router.post("/reports/{report_id}/resolve")
async def resolve_report(
    report_id: ReportId, body: ResolveBody, svc: ServicesDep, actor: Actor
) -> dict[str, object]:
    """Decide on the reported user: ``dismiss`` (lifts an auto-suspension) or ``ban``.

    Every open report about the same user is resolved with this decision.
    """
    expires_at = None if body.expiresIn is None else time.time() + body.expiresIn
    resolved = await svc.desk.resolve(
        report_id,
        resolution=Resolution(body.action),
        actor=actor,
        reason=body.reason,
        expires_at=expires_at,
    )
    return {"resolved": resolved, "action": body.action, "expiresAt": expires_at}


@router.get("/audit")
async def audit_log(
    svc: ServicesDep,
    target: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> dict[str, object]:
    """The audit log, newest first; ``target`` filters (an address is checksummed first)."""
    if target is not None and target.lower().startswith("0x") and len(target) == 42:
        target = to_checksum_address(target)
    entries = await svc.desk.audit.entries(target=target, limit=limit, before_id=before)
    return {"entries": [audit_json(e) for e in entries], "total": len(entries)}
