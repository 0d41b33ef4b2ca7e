"""Request-scoped dependencies: the node's services and the caller's verified identity."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from roulette.api.services import Services
from roulette.auth.credentials import bearer_or_cookie
from roulette.auth.tokens import TokenClaims, TokenKind
from roulette.balancing.forwarded import client_address
from roulette.errors import Forbidden, RateLimited, Unauthenticated
from roulette.identity import Address
from roulette.resilience.shedding import RETRY_AFTER_SECONDS

__all__ = [
    "CurrentClaims",
    "ServicesDep",
    "check_auth_limits",
    "current_address",
    "current_claims",
    "limit_auth_by_ip",
    "services",
]


async def services(request: Request) -> Services:
    """The node's services (set on ``app.state`` by the composition root).

    A coroutine: FastAPI runs a plain ``def`` dependency on its thread pool, a thread hop on
    every request that cost more than the lookup itself.
    """
    found: Services = request.app.state.services
    return found


ServicesDep = Annotated[Services, Depends(services)]


async def current_claims(request: Request, svc: ServicesDep) -> TokenClaims:
    """The caller's verified access-token claims; identity never comes from a body field.

    Raises:
        Unauthenticated: no token, a bad token, or a revoked family (logout, refresh reuse).
        Forbidden: the wallet is banned (its families are revoked at the ban; this also
            covers a ban written without that).
    """
    token = bearer_or_cookie(request.headers.get("authorization"), request.headers.get("cookie"))
    if token is None:
        raise Unauthenticated("sign in first: no access token", code="unauthenticated")
    now = time.time()
    claims = svc.issuer.verify(token, TokenKind.ACCESS, now=now)
    if not await svc.families.is_active(claims.family_id, now=now):
        raise Unauthenticated("this token was revoked; sign in again", code="token_revoked")
    if await svc.moderation.is_banned(claims.address):
        raise Forbidden("this address is banned", code="banned")
    return claims


CurrentClaims = Annotated[TokenClaims, Depends(current_claims)]


async def limit_auth_by_ip(request: Request, svc: ServicesDep) -> None:
    """The sign-in routes' limits as a dependency (documented in the OpenAPI operations):
    :func:`check_auth_limits` with the early shedding threshold."""
    await check_auth_limits(request, svc, early_shed=True)


async def check_auth_limits(request: Request, svc: Services, *, early_shed: bool) -> None:
    """Sign-in endpoints cost a stored nonce or a signature recovery: limit them per client IP.

    Raises:
        RateLimited: over ``AUTH_RATE_BURST`` at once or ``AUTH_RATE_PER_SECOND`` sustained.
        HTTPException: 503 with ``Retry-After`` while the node sheds sign-ins (load, or a
            loop lag over ``SHED_SIGNIN_LAG_MS`` when ``early_shed``), checked before the body
            is read.
    """
    if svc.sign_in_shedding(early_shed):
        raise HTTPException(
            503,
            "this node is overloaded; retry shortly",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},  # RFC 9110 section 10.2.3
        )
    peer = request.client.host if request.client else "unknown"
    # Behind HAProxy the peer is the balancer: believe its X-Forwarded-For only then.
    client = client_address(
        peer, request.headers.getlist("x-forwarded-for"), svc.config.trusted_proxies
    )
    now = time.monotonic()
    if not svc.auth_limiter.allow(client, now):
        raise RateLimited(
            "too many sign-in requests; slow down",
            code="rate_limited",
            retry_after=svc.auth_limiter.retry_after(client, now),
        )


async def current_address(claims: CurrentClaims) -> Address:
    """The caller's checksummed address."""
    return claims.address
