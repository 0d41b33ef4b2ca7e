"""Reports, blocks and (admin) bans. Durable in SQL; blocks apply to the queue at once."""

from __future__ import annotations

import hmac
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from roulette.api.deps import ServicesDep, current_address
from roulette.auth.address import to_checksum_address
from roulette.errors import BadRequest, Conflict, Forbidden, NotFound, RateLimited
from roulette.identity import Address

__all__ = ["admin_router", "router"]

router = APIRouter(tags=["moderation"])
admin_router = APIRouter(prefix="/admin", tags=["admin"])

Me = Annotated[Address, Depends(current_address)]


class ReportBody(BaseModel):
    """``POST /reports`` body."""

    targetAddr: str = Field(max_length=64)
    reason: str = Field(min_length=1, max_length=64)
    sessionId: str | None = Field(default=None, max_length=64)
    notes: str | None = Field(default=None, max_length=1000)


class BlockBody(BaseModel):
    """``POST /blocks`` body."""

    targetAddr: str = Field(max_length=64)
    reason: str | None = Field(default=None, max_length=200)


class BanBody(BaseModel):
    """``POST /admin/bans`` body; ``expiresIn`` seconds (absent: until lifted)."""

    address: str = Field(max_length=64)
    reason: str = Field(min_length=1, max_length=500)
    expiresIn: int | None = Field(default=None, ge=1, le=10 * 365 * 86_400)


def _target(raw: str, me: Address) -> Address:
    target = to_checksum_address(raw)
    if target == me:
        raise BadRequest("you cannot do that to yourself", code="self_target")
    return target


@router.post("/reports", status_code=201)
async def create_report(body: ReportBody, me: Me, svc: ServicesDep) -> dict[str, object]:
    """Report another user; reports are stored for review."""
    target = _target(body.targetAddr, me)
    now = time.monotonic()
    if not svc.reports_limiter.allow(me, now):
        raise RateLimited(
            "too many reports; try again later",
            code="rate_limited",
            retry_after=svc.reports_limiter.retry_after(me, now),
        )
    report_id, _ = await svc.desk.report(
        reporter=me, target=target, reason=body.reason, session_id=body.sessionId, notes=body.notes
    )
    svc.counters.reports += 1
    return {"id": report_id}


@router.post("/blocks", status_code=201)
async def create_block(body: BlockBody, me: Me, svc: ServicesDep) -> dict[str, object]:
    """Block another user: the two never meet again (applies to queued users at once)."""
    target = _target(body.targetAddr, me)
    added = await svc.moderation.add_block(
        blocker=me, target=target, reason=body.reason, now=time.time()
    )
    if not added:
        raise Conflict(f"{target} is already blocked", code="already_blocked")
    await svc.lobby.exclude(me, target)
    svc.counters.blocks += 1
    return {"address": target, "blocked": True}


@router.get("/blocks")
async def list_blocks(me: Me, svc: ServicesDep) -> dict[str, object]:
    """The caller's blocklist, newest first."""
    blocks = await svc.moderation.blocks_of(me)
    items = [
        {"address": b.address, "reason": b.reason, "blockedAt": int(b.blocked_at)} for b in blocks
    ]
    return {"blocklist": items, "total": len(items)}


@router.delete("/blocks/{address}")
async def delete_block(address: str, me: Me, svc: ServicesDep) -> dict[str, object]:
    """Unblock a user."""
    target = to_checksum_address(address)
    if not await svc.moderation.remove_block(blocker=me, target=target):
        raise NotFound(f"{target} is not blocked", code="not_blocked")
    if target not in await svc.moderation.exclusions(me):
        await svc.lobby.include(me, target)
    return {"address": target, "blocked": False}


async def require_admin(request: Request, svc: ServicesDep) -> None:
    """Bearer ``ADMIN_TOKEN``; without one configured, the admin API is off."""
    expected = svc.config.admin_token
    if expected is None:
        raise NotFound("the admin API is disabled (set ADMIN_TOKEN)", code="admin_disabled")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), expected.encode()):
        raise Forbidden("admin token required", code="admin_only")


Admin = Depends(require_admin)

MODERATOR_HEADER = "x-moderator"
"""Who acts, for the audit log (the admin token is shared; this names the person using it)."""


def moderator(request: Request) -> str:
    """``admin-api:<X-Moderator>`` (printable, ≤ 40 characters), or ``admin-api``."""
    name = request.headers.get(MODERATOR_HEADER, "").strip()
    if not name:
        return "admin-api"
    if len(name) > 40 or not name.isprintable():
        raise BadRequest("X-Moderator: at most 40 printable characters", code="bad_moderator")
    return f"admin-api:{name}"


Actor = Annotated[str, Depends(moderator)]


@admin_router.post("/bans", status_code=201, dependencies=[Admin])
async def create_ban(body: BanBody, svc: ServicesDep, actor: Actor) -> dict[str, object]:
    """Ban an address: refused at sign-in, at the socket and in the queue from now on; its
    token families are revoked and its sockets closed on every node (the desk does all)."""
    address = to_checksum_address(body.address)
    expires_at = None if body.expiresIn is None else time.time() + body.expiresIn
    await svc.desk.ban(address=address, reason=body.reason, actor=actor, expires_at=expires_at)
    return {"address": address, "banned": True, "expiresAt": expires_at}


@admin_router.get("/bans", dependencies=[Admin])
async def list_bans(svc: ServicesDep) -> dict[str, object]:
    """Every ban, newest first."""
    bans = await svc.moderation.bans()
    items = [
        {
            "address": b.address,
            "reason": b.reason,
            "bannedAt": int(b.banned_at),
            "by": b.banned_by,
            "expiresAt": b.expires_at,
        }
        for b in bans
    ]
    return {"bans": items, "total": len(items)}


@admin_router.delete("/bans/{address}", dependencies=[Admin])
async def delete_ban(address: str, svc: ServicesDep, actor: Actor) -> dict[str, object]:
    """Lift a ban."""
    target = to_checksum_address(address)
    if not await svc.desk.unban(address=target, actor=actor, reason=None):
        raise NotFound(f"{target} is not banned", code="not_banned")
    return {"address": target, "banned": False}
