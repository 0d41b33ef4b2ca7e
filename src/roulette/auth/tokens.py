"""Access and refresh tokens: compact HS256 JWTs (RFC 7519) following RFC 8725's practices."""

from __future__ import annotations

import enum
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

import jwt
from jwt.types import Options

from roulette.auth.address import to_checksum_address
from roulette.errors import BadRequest, ConfigError, Unauthenticated
from roulette.identity import Address

__all__ = ["TokenClaims", "TokenIssuer", "TokenKind"]

# RFC 8725 §3.1: the algorithm is pinned by the verifier, never taken from the token.
_ALGORITHM = "HS256"
_MIN_SECRET_CHARS = 16
# A token we issue is about 350 bytes; anything far longer is not ours (and costs no work).
_MAX_TOKEN_CHARS = 1024
_REQUIRED = ["iss", "sub", "iat", "exp", "jti", "fam", "cid"]
_DECODE_OPTIONS: Options = {
    # We check exp against the injected ``now``; pyjwt would read the wall clock.
    "verify_exp": False,
    "verify_iat": False,
    "verify_nbf": False,
    "require": _REQUIRED,
    # RFC 8725 §3.5: the keys we derive are 256 bits; refuse to run with anything shorter.
    "enforce_minimum_key_length": True,
}


class TokenKind(enum.Enum):
    """What a token is for; each kind has its own key and its own ``typ`` header."""

    ACCESS = "access"
    REFRESH = "refresh"

    @property
    def media_type(self) -> str:
        """The JWT ``typ`` header (RFC 8725 §3.11 explicit typing; RFC 9068 ``at+jwt``)."""
        return "at+jwt" if self is TokenKind.ACCESS else "rt+jwt"


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """The verified contents of a token.

    Attributes:
        address: the signed-in user's checksummed address (``sub``).
        chain_id: the chain the user signed in on (``cid``).
        family_id: the refresh family this token belongs to (``fam``); logout and
            refresh-token reuse revoke a whole family.
        jti: this token's unique id (RFC 7519 §4.1.7).
        kind: access or refresh.
        issued_at: ``iat``, Unix seconds.
        expires_at: ``exp``, Unix seconds.
    """

    address: Address
    chain_id: int
    family_id: str
    jti: str
    kind: TokenKind
    issued_at: float
    expires_at: float


class TokenIssuer:
    """Issues and verifies both kinds of token.

    Each kind is signed with its own key, derived from its secret and its kind, so
    access and refresh tokens are not interchangeable even if the two secrets are
    equal (RFC 8725 §3.12, mutual substitution); the ``typ`` header is checked too.

    Args:
        access_secret: the secret for access tokens (at least 16 characters).
        refresh_secret: the secret for refresh tokens (at least 16 characters).
        access_ttl: access-token lifetime, seconds.
        refresh_ttl: refresh-token lifetime, seconds.
        issuer: the ``iss`` claim written and required (RFC 8725 §3.8).

    Raises:
        ConfigError: a secret is too short.
    """

    def __init__(
        self,
        *,
        access_secret: str,
        refresh_secret: str,
        access_ttl: float = 900,
        refresh_ttl: float = 7 * 24 * 3600,
        issuer: str = "roulette",
    ) -> None:
        self._keys = {
            TokenKind.ACCESS: _derive_key(access_secret, TokenKind.ACCESS),
            TokenKind.REFRESH: _derive_key(refresh_secret, TokenKind.REFRESH),
        }
        self._ttls = {TokenKind.ACCESS: access_ttl, TokenKind.REFRESH: refresh_ttl}
        self._issuer = issuer

    def ttl(self, kind: TokenKind) -> float:
        """The lifetime of tokens of ``kind``, in seconds."""
        return self._ttls[kind]

    def issue(
        self,
        kind: TokenKind,
        *,
        address: Address,
        chain_id: int,
        family_id: str,
        jti: str,
        now: float,
    ) -> str:
        """Sign a new token.

        Args:
            kind: access or refresh.
            address: the user's checksummed address.
            chain_id: the chain the user signed in on.
            family_id: the refresh family (shared by an access token and its refresh token).
            jti: a unique id for this token.
            now: the current time, Unix seconds.

        Returns:
            The compact JWT.
        """
        issued_at = int(now)
        claims = {
            "iss": self._issuer,
            "sub": address,
            "cid": chain_id,
            "fam": family_id,
            "jti": jti,
            "iat": issued_at,
            "exp": int(now + self._ttls[kind]),
        }
        headers = {"typ": kind.media_type}
        return jwt.encode(claims, self._keys[kind], algorithm=_ALGORITHM, headers=headers)

    def verify(self, token: str, kind: TokenKind, *, now: float) -> TokenClaims:
        """Check a token's signature, kind, issuer, claims and expiry.

        Args:
            token: the compact JWT.
            kind: the kind the caller expects; any other is refused.
            now: the current time, Unix seconds.

        Returns:
            The verified claims.

        Raises:
            Unauthenticated: ``token_expired`` when ``now`` is at or after ``exp``
                (RFC 7519 §4.1.4), ``invalid_token`` for anything else wrong.
        """
        if not isinstance(token, str) or len(token) > _MAX_TOKEN_CHARS:
            raise _invalid("the token is malformed")
        try:
            decoded = jwt.decode_complete(
                token,
                self._keys[kind],
                algorithms=[_ALGORITHM],
                options=_DECODE_OPTIONS,
                issuer=self._issuer,
            )
        except jwt.PyJWTError as exc:
            raise _invalid("the token is not valid") from exc
        if decoded["header"].get("typ") != kind.media_type:
            raise _invalid(f"not an {kind.value} token")
        claims = _claims(decoded["payload"], kind)
        if now >= claims.expires_at:
            raise Unauthenticated("the token has expired", code="token_expired")
        return claims


def _derive_key(secret: str, kind: TokenKind) -> bytes:
    # One HMAC-SHA256 step gives each kind its own 256-bit key (RFC 7518 §3.2 asks for
    # a key as long as the hash output); the label keeps the kinds apart.
    if len(secret) < _MIN_SECRET_CHARS:
        raise ConfigError(f"a JWT secret must be at least {_MIN_SECRET_CHARS} characters")
    label = f"roulette/jwt/{kind.value}/v1".encode("ascii")
    return hmac.new(secret.encode("utf-8"), label, hashlib.sha256).digest()


def _claims(payload: dict[str, Any], kind: TokenKind) -> TokenClaims:
    address, chain_id = payload["sub"], payload["cid"]
    family_id, jti = payload["fam"], payload["jti"]
    issued_at, expires_at = payload["iat"], payload["exp"]
    if not (
        _is_checksummed(address)
        and _is_int(chain_id)
        and isinstance(family_id, str)
        and isinstance(jti, str)
        and _is_int(issued_at)
        and _is_int(expires_at)
    ):
        raise _invalid("the token's claims are malformed")
    return TokenClaims(
        address=Address(address),
        chain_id=chain_id,
        family_id=family_id,
        jti=jti,
        kind=kind,
        issued_at=float(issued_at),
        expires_at=float(expires_at),
    )


def _is_checksummed(value: object) -> bool:
    try:
        return isinstance(value, str) and to_checksum_address(value) == value
    except BadRequest:
        return False


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _invalid(problem: str) -> Unauthenticated:
    return Unauthenticated(problem, code="invalid_token")
