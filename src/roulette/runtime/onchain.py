"""The on-chain features, built when ``RPC_URLS`` names at least one chain.

Balances, verified tips (and their re-check loop), token-gated queues and ENS display names
(see docs/chain.md). Without an RPC endpoint none of it is built, and gated queues are unknown.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine

from roulette.config import Config
from roulette.gateway.hub import Hub
from roulette.identity import Address, SessionId
from roulette.matchmaking.records import Session
from roulette.storage.ports import Lobby, SessionHistory

if TYPE_CHECKING:  # the chain stack (RPC client, ABI codecs) loads only when configured
    from fastapi import APIRouter

    from roulette.api.chain_routes import EndedSession as TipWindowSession
    from roulette.chain.recheck import TipRechecker
    from roulette.chain.service import ChainService

__all__ = ["OnChain", "build_onchain"]


@dataclass(slots=True)
class OnChain:
    """The chain service and what hangs off it."""

    service: ChainService
    router: APIRouter
    recheck: TipRechecker

    async def aclose(self) -> None:
        """Close the RPC client."""
        await self.service.aclose()


def build_onchain(
    config: Config, engine: AsyncEngine, lobby: Lobby, history: SessionHistory, hub: Hub
) -> OnChain | None:
    """The on-chain features, or None when no chain has an RPC endpoint."""
    if not config.chain.rpc_urls:
        return None
    from roulette.api.chain_routes import chain_router  # noqa: PLC0415 - see TYPE_CHECKING
    from roulette.api.deps import current_address  # noqa: PLC0415
    from roulette.chain.recheck import TipRechecker  # noqa: PLC0415
    from roulette.chain.service import ChainService  # noqa: PLC0415
    from roulette.storage.sql.tips import SqlTips  # noqa: PLC0415

    service = ChainService.create(config.chain)
    tips = SqlTips(engine)
    notify = _notifier(hub)
    router = chain_router(
        service,
        tips,
        current_address=current_address,
        session_lookup=_session_lookup(lobby, history),
        notify=notify,
    )
    return OnChain(service, router, TipRechecker(service, tips, notify))


def _notifier(hub: Hub) -> Callable[[Address, bytes], Awaitable[None]]:
    async def notify(address: Address, payload: bytes) -> None:
        conn = hub.get(address)
        if conn is not None:
            conn.send_frame(payload)

    return notify


def _session_lookup(
    lobby: Lobby, history: SessionHistory
) -> Callable[[str], Awaitable[Session | TipWindowSession | None]]:
    from roulette.api.chain_routes import EndedSession as TipWindowSession  # noqa: PLC0415

    async def lookup(session_id: str) -> Session | TipWindowSession | None:
        live = await lobby.session(SessionId(session_id))
        if live is not None:
            return live
        ended = await history.ended(SessionId(session_id))
        return None if ended is None else TipWindowSession(ended.session, ended.ended_at)

    return lookup
