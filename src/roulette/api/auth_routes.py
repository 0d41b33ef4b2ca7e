"""Sign-In with Ethereum (EIP-4361) over HTTP: nonce, verify, refresh, logout, me."""

from __future__ import annotations

import re
import secrets
import time
from typing import Annotated

import msgspec
from fastapi import APIRouter, Cookie, Depends, Request, Response
from pydantic import BaseModel, Field

from roulette.api.deps import CurrentClaims, ServicesDep, limit_auth_by_ip
from roulette.api.lean import json_body, lean
from roulette.api.services import Services
from roulette.auth.credentials import bearer_or_cookie
from roulette.auth.nonces import new_nonce
from roulette.auth.signature import personal_message_hash
from roulette.auth.siwe import SiweMessage, parse_message, verify_sign_in
from roulette.auth.tokens import TokenClaims, TokenKind
from roulette.errors import BadRequest, Forbidden, RouletteError, Unauthenticated, closing_code
from roulette.identity import Address

__all__ = ["router"]

router = APIRouter(prefix="/auth", tags=["auth"])
limited = [Depends(limit_auth_by_ip)]

REFRESH_COOKIE_PATH = "/auth"
"""The refresh token is only ever sent to /auth/* (RFC 6265 §5.1.4), never to the API."""


MESSAGE_MAX_CHARS = 65_536
SIGNATURE_MAX_CHARS = 16_384
"""EIP-6492 signatures carry a deployment: up to 8 KiB, hex-encoded."""


class VerifyBody(BaseModel):
    """``POST /auth/siwe/verify`` body (EIP-6492 signatures carry a deployment: up to 8 KiB)."""

    message: str = Field(max_length=MESSAGE_MAX_CHARS)
    signature: str = Field(max_length=SIGNATURE_MAX_CHARS)


class _VerifyWire(msgspec.Struct):
    """:class:`VerifyBody` as the lean route decodes it (the same fields and limits)."""

    message: Annotated[str, msgspec.Meta(max_length=MESSAGE_MAX_CHARS)]
    signature: Annotated[str, msgspec.Meta(max_length=SIGNATURE_MAX_CHARS)]


_VERIFY_DECODER = msgspec.json.Decoder(_VerifyWire)


async def _bind_nonce(_request: Request, svc: Services, _response: Response) -> dict[str, object]:
    return {"svc": svc}


async def _bind_verify(request: Request, svc: Services, response: Response) -> dict[str, object]:
    wire = await json_body(request, _VERIFY_DECODER)
    body = VerifyBody.model_construct(message=wire.message, signature=wire.signature)
    return {"body": body, "response": response, "svc": svc}


async def _bind_refresh(request: Request, svc: Services, response: Response) -> dict[str, object]:
    return {"response": response, "svc": svc, "refresh_token": request.cookies.get("refreshToken")}


@lean(router, "GET", "/siwe/nonce", _bind_nonce, dependencies=limited)
async def siwe_nonce(svc: ServicesDep) -> dict[str, object]:
    """A fresh nonce for one EIP-4361 message; valid for five minutes, usable once."""
    nonce = new_nonce(secrets.token_bytes)
    ttl = svc.config.nonce_ttl_seconds
    await svc.nonces.issue(nonce, now=time.time(), ttl=ttl)
    return {"nonce": nonce, "expiresIn": ttl}


# A verify carries a signature its user has already made: shedding it early would ask them
# for a second one, and the nonces admitted before it already bound how many verifies follow.
@lean(router, "POST", "/siwe/verify", _bind_verify, early_shed=False, dependencies=limited)
async def siwe_verify(body: VerifyBody, response: Response, svc: ServicesDep) -> dict[str, object]:
    """Check a signed EIP-4361 message; on success set the access and refresh cookies."""
    limit = svc.config.limits.siwe_max_bytes
    if len(body.message.encode()) > limit:
        raise BadRequest(f"the message is over {limit} bytes", code="message_too_large")
    now = time.time()
    try:
        message = await _verified(body, svc, now)
        if not await svc.nonces.consume(message.nonce, now=now):
            raise Unauthenticated("unknown, used or expired nonce", code="invalid_nonce")
    except RouletteError:
        svc.counters.auth_failure += 1
        raise
    family_id = secrets.token_urlsafe(16)
    refresh_jti = secrets.token_urlsafe(16)
    # One statement: the family starts only if no ban of the wallet is in force.
    started = await svc.families.start_unless_banned(
        family_id=family_id,
        address=message.address,
        jti=refresh_jti,
        now=now,
        expires_at=now + svc.config.refresh_ttl_seconds,
    )
    if not started:
        svc.counters.auth_failure += 1
        raise Forbidden("this address is banned", code="banned")
    _set_cookies(
        response,
        svc=svc,
        address=message.address,
        chain_id=message.chain_id,
        family_id=family_id,
        refresh_jti=refresh_jti,
        now=now,
    )
    svc.counters.auth_success += 1
    return {
        "address": message.address,
        "chainId": message.chain_id,
        "expiresIn": svc.config.access_ttl_seconds,
    }


async def _verified(body: VerifyBody, svc: Services, now: float) -> SiweMessage:
    """An EOA signature (EIP-191), else a contract wallet's (EIP-1271 / EIP-6492) on chain."""
    try:
        return verify_sign_in(body.message, body.signature, svc.siwe_rules, now=now)
    except Unauthenticated as exc:
        if exc.code not in _CONTRACT_WALLET_CANDIDATES or svc.contract_signatures is None:
            raise
        failure = exc
    # Every check but the signature passed (verify_sign_in checks the cheap rules first).
    message = parse_message(body.message, max_bytes=svc.config.limits.siwe_max_bytes)
    try:
        signature = bytes.fromhex(body.signature.removeprefix("0x"))
    except ValueError:
        raise failure from None
    digest = personal_message_hash(body.message.encode())
    if not await svc.contract_signatures(message.address, digest, signature, message.chain_id):
        raise failure
    return message


_CONTRACT_WALLET_CANDIDATES = frozenset({"signature_mismatch", "invalid_signature"})
"""Recovery failures that a smart-contract wallet's signature would also produce."""


@lean(router, "POST", "/refresh", _bind_refresh, dependencies=limited)
async def refresh(
    response: Response,
    svc: ServicesDep,
    refresh_token: Annotated[str | None, Cookie(alias="refreshToken")] = None,
) -> dict[str, object]:
    """Rotate the refresh token; presenting a rotated one revokes its whole family."""
    if refresh_token is None:
        raise Unauthenticated("no refresh token", code="unauthenticated")
    now = time.time()
    claims = svc.issuer.verify(refresh_token, TokenKind.REFRESH, now=now)
    new_jti = secrets.token_urlsafe(16)
    rotation = {"family_id": claims.family_id, "old_jti": claims.jti, "new_jti": new_jti}
    # The common case is one statement; only a refusal pays for telling a ban from a reuse.
    if not await svc.families.rotate_unless_banned(**rotation, now=now) and not (
        await _rotated_after_refusal(svc, claims, rotation, now)
    ):
        raise Unauthenticated(
            "refresh token reused or revoked; sign in again", code="token_revoked"
        )
    _set_cookies(
        response,
        svc=svc,
        address=claims.address,
        chain_id=claims.chain_id,
        family_id=claims.family_id,
        refresh_jti=new_jti,
        now=now,
    )
    return {"address": claims.address, "expiresIn": svc.config.access_ttl_seconds}


async def _rotated_after_refusal(
    svc: Services, claims: TokenClaims, rotation: dict[str, str], now: float
) -> bool:
    """Why a one-statement rotation was refused: a ban (the family is revoked, 403), or a
    reused token, which :meth:`rotate` answers by revoking the family (False)."""
    if await svc.moderation.is_banned(claims.address):
        await svc.families.revoke(claims.family_id, now=now)  # a ban written by older code
        raise Forbidden("this address is banned", code="banned")
    return await svc.families.rotate(**rotation, now=now)


@router.post("/logout")
async def logout(
    request: Request,
    response: Response,
    svc: ServicesDep,
    refresh_token: Annotated[str | None, Cookie(alias="refreshToken")] = None,
) -> dict[str, object]:
    """Revoke the caller's token family (access and refresh), close the wallet's live socket
    (on whichever node holds it) and clear the cookies."""
    now = time.time()
    claims = _any_claims(request, refresh_token, svc, now)
    if claims is not None:
        await svc.families.revoke(claims.family_id, now=now)
        if svc.kick is not None:
            await svc.kick(claims.address, closing_code(Unauthenticated("")), "logged out")
    response.delete_cookie("accessToken", path="/")
    response.delete_cookie("refreshToken", path=REFRESH_COOKIE_PATH)
    return {"loggedOut": True}


@router.get("/me")
async def me(claims: CurrentClaims) -> dict[str, object]:
    """Who the caller is, from the verified access token."""
    return {
        "address": claims.address,
        "chainId": claims.chain_id,
        "expiresAt": int(claims.expires_at),
    }


def _any_claims(
    request: Request, refresh_token: str | None, svc: Services, now: float
) -> TokenClaims | None:
    access = bearer_or_cookie(request.headers.get("authorization"), request.headers.get("cookie"))
    for token, kind in ((access, TokenKind.ACCESS), (refresh_token, TokenKind.REFRESH)):
        if token is None:
            continue
        try:
            return svc.issuer.verify(token, kind, now=now)
        except Unauthenticated:
            continue
    return None


def _set_cookies(
    response: Response,
    *,
    svc: Services,
    address: Address,
    chain_id: int,
    family_id: str,
    refresh_jti: str,
    now: float,
) -> None:
    issue = svc.issuer.issue
    common = {"address": address, "chain_id": chain_id, "family_id": family_id, "now": now}
    access = issue(TokenKind.ACCESS, jti=secrets.token_urlsafe(12), **common)  # type: ignore[arg-type]
    refresh_token = issue(TokenKind.REFRESH, jti=refresh_jti, **common)  # type: ignore[arg-type]
    ttl, secure = svc.config.access_ttl_seconds, svc.config.cookie_secure
    cookies = response.raw_headers
    cookies.append(
        _set_cookie("accessToken", access, max_age=ttl, path="/", samesite="lax", secure=secure)
    )
    cookies.append(
        _set_cookie(
            "refreshToken",
            refresh_token,
            max_age=svc.config.refresh_ttl_seconds,
            path=REFRESH_COOKIE_PATH,
            samesite="strict",
            secure=secure,
        )
    )


_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_.-]+")
"""A JWT's characters (base64url and dots): a cookie value that needs no quoting."""


def _set_cookie(
    name: str, token: str, *, max_age: int, path: str, samesite: str, secure: bool
) -> tuple[bytes, bytes]:
    """The ``Set-Cookie`` header of an HttpOnly token cookie (RFC 6265 §4.1), byte for byte
    what Starlette's ``set_cookie`` writes (http.cookies' attribute order), built directly:
    http.cookies took ~25 µs a cookie, two sign-in cookies more than a JWT each."""
    if not _TOKEN_CHARS.fullmatch(token):  # never for a JWT; http.cookies quotes the rest
        quoted = Response()
        quoted.set_cookie(
            name,
            token,
            max_age=max_age,
            path=path,
            secure=secure,
            httponly=True,
            samesite=samesite,  # type: ignore[arg-type]
        )
        return quoted.raw_headers[-1]
    value = f"{name}={token}; HttpOnly; Max-Age={max_age}; Path={path}; SameSite={samesite}"
    return b"set-cookie", (value + "; Secure" if secure else value).encode("latin-1")
