"""HTTP routes of the on-chain features: ``GET /balances``, ``POST /tips``, ``GET /tips``.

A router factory: the composition root mounts ``chain_router(...)`` and supplies who is
calling, where sessions are found and how a user is told of a tip. Failures are raised as
``roulette.errors`` exceptions, which the application's handler renders as
``{"error": {"code", "message"}}``.
"""

# No ``from __future__ import annotations``: FastAPI reads the endpoints' annotations, and
# those name a dependency that only exists inside ``chain_router``.
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from roulette.chain.recheck import notify_tip
from roulette.chain.records import Balances, TipRecord, TipStatus, TokenBalance
from roulette.chain.service import ChainService
from roulette.chain.tipping import already_recorded, parse_tx_hash
from roulette.errors import BadRequest, NotFound
from roulette.identity import Address
from roulette.matchmaking.records import Session
from roulette.observability.metrics import TIPS
from roulette.storage.sql.tips import SqlTips

__all__ = ["EndedSession", "SessionLookup", "TipRequest", "chain_router"]


@dataclass(frozen=True, slots=True)
class EndedSession:
    """A session that has ended, as ``session_lookup`` returns it for a late tip."""

    session: Session
    ended_at: float


SessionLookup = Callable[[str], Awaitable[Session | EndedSession | None]]
"""A live :class:`Session`, a recently ended one (at least ``TIP_WINDOW_SECONDS`` back), or None."""


class TipRequest(BaseModel):
    """The body of ``POST /tips`` (fields in the wire's camelCase)."""

    model_config = ConfigDict(extra="forbid")

    sessionId: str = Field(min_length=1, max_length=64)
    chainId: int = Field(gt=0, lt=2**53)
    txHash: str = Field(min_length=1, max_length=66)


class TokenBalanceOut(BaseModel):
    """One holding; amounts are decimal strings (a uint256 does not fit a JSON number)."""

    token: str | None
    symbol: str
    decimals: int
    raw: str
    formatted: str


class BalancesOut(BaseModel):
    """``GET /balances``."""

    chainId: int
    address: str
    native: TokenBalanceOut
    tokens: list[TokenBalanceOut]


class TipOut(BaseModel):
    """One tip."""

    txHash: str
    chainId: int
    sessionId: str
    sender: str = Field(serialization_alias="from")
    recipient: str = Field(serialization_alias="to")
    token: str | None
    amount: str
    status: str
    createdAt: float
    confirmedAt: float | None


class TipsOut(BaseModel):
    """``GET /tips``: newest first."""

    sent: list[TipOut]
    received: list[TipOut]


def chain_router(
    service: ChainService,
    tips: SqlTips,
    *,
    current_address: Callable[..., Awaitable[Address]],
    session_lookup: SessionLookup,
    notify: Callable[[Address, bytes], Awaitable[None]],
    clock: Callable[[], float] = time.time,
) -> APIRouter:
    """Build the router of the on-chain routes.

    Args:
        service: the chain service.
        tips: the tips ledger.
        current_address: the FastAPI dependency giving the signed-in caller (401 otherwise).
        session_lookup: finds a session by id: live, or ended within the tip window.
        notify: sends a WebSocket message (JSON bytes) to every socket of a user.
        clock: the wall clock.

    Returns:
        The router; mount it at the API's root.
    """
    router = APIRouter(tags=["web3"])
    caller = Annotated[Address, Depends(current_address)]

    @router.get("/balances", response_model=BalancesOut)
    async def get_balances(
        address: caller, chain_id: Annotated[int, Query(alias="chainId", gt=0, lt=2**53)]
    ) -> dict[str, Any]:
        """The caller's native and configured EIP-20 balances on one chain."""
        return _balances_json(await service.balances(address, chain_id))

    @router.post(
        "/tips",
        status_code=201,
        response_model=TipOut,
        response_model_by_alias=True,
        responses={202: {"model": TipOut, "description": "verified, awaiting confirmations"}},
    )
    async def post_tip(body: TipRequest, response: Response, address: caller) -> TipOut:
        """Record a tip the caller sent to the peer of a session, once verified on chain."""
        found = await session_lookup(body.sessionId)
        tip = await _record_tip(service, tips, found, address, body, now=clock())
        TIPS.labels(tip.status.value).inc()
        if tip.status is TipStatus.CONFIRMED:
            await notify_tip(notify, tip)
        else:
            response.status_code = 202
        return _tip_out(tip)

    @router.get("/tips", response_model=TipsOut, response_model_by_alias=True)
    async def get_tips(address: caller) -> TipsOut:
        """The tips the caller sent and received, newest first."""
        sent, received = await tips.of(address)
        return TipsOut(sent=[_tip_out(t) for t in sent], received=[_tip_out(t) for t in received])

    return router


async def _record_tip(
    service: ChainService,
    tips: SqlTips,
    found: Session | EndedSession | None,
    address: Address,
    body: TipRequest,
    *,
    now: float,
) -> TipRecord:
    """Verify the claimed tip on chain and record it; a hash is recorded once."""
    session, ended_at = _session_of(found, address)
    if body.chainId != session.chain_id:
        raise BadRequest("tip on the session's chain", code="tip_wrong_chain")
    tx_hash = parse_tx_hash(body.txHash)
    if await tips.has(tx_hash):
        raise already_recorded()
    tip = await service.verify_tip(
        caller=address,
        peer=session.peer_of(address),
        session_id=session.id,
        session_started_at=session.started_at,
        session_ended_at=ended_at,
        chain_id=body.chainId,
        tx_hash=tx_hash,
        now=now,
    )
    if not await tips.add(tip):
        raise already_recorded()
    return tip


def _session_of(
    found: Session | EndedSession | None, address: Address
) -> tuple[Session, float | None]:
    session: Session | None = found.session if isinstance(found, EndedSession) else found
    ended_at = found.ended_at if isinstance(found, EndedSession) else None
    if session is None or not session.has(address):
        raise NotFound("you have no such session", code="session_not_found")
    return session, ended_at


def _token_json(holding: TokenBalance) -> dict[str, Any]:
    return {
        "token": holding.token,
        "symbol": holding.symbol,
        "decimals": holding.decimals,
        "raw": str(holding.raw),
        "formatted": holding.formatted,
    }


def _balances_json(balances: Balances) -> dict[str, Any]:
    return {
        "chainId": balances.chain_id,
        "address": balances.address,
        "native": _token_json(balances.native),
        "tokens": [_token_json(t) for t in balances.tokens],
    }


def _tip_out(tip: TipRecord) -> TipOut:
    return TipOut(
        txHash=tip.tx_hash,
        chainId=tip.chain_id,
        sessionId=tip.session_id,
        sender=tip.sender,
        recipient=tip.recipient,
        token=tip.token,
        amount=tip.amount,
        status=tip.status.value,
        createdAt=tip.created_at,
        confirmedAt=tip.confirmed_at,
    )
