"""Access and refresh JWTs: pinned algorithm, explicit kinds, our clock (RFC 7519, RFC 8725)."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import jwt
import pytest

from roulette.auth.tokens import TokenClaims, TokenIssuer, TokenKind, _derive_key
from roulette.errors import ConfigError, Unauthenticated
from roulette.identity import Address

ADDRESS = Address("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")
ACCESS_SECRET = "access-secret-0123456789abcdef"
REFRESH_SECRET = "refresh-secret-0123456789abcdef"
NOW = 1_714_564_800.0


@pytest.fixture
def issuer() -> TokenIssuer:
    return TokenIssuer(access_secret=ACCESS_SECRET, refresh_secret=REFRESH_SECRET)


def _issue(issuer: TokenIssuer, kind: TokenKind = TokenKind.ACCESS, **overrides: Any) -> str:
    fields: dict[str, Any] = {
        "address": ADDRESS,
        "chain_id": 1,
        "family_id": "fam-1",
        "jti": "jti-1",
        "now": NOW,
    }
    return issuer.issue(kind, **(fields | overrides))


def _refused(issuer: TokenIssuer, token: str, kind: TokenKind, code: str = "invalid_token") -> None:
    with pytest.raises(Unauthenticated) as caught:
        issuer.verify(token, kind, now=NOW + 1)
    assert caught.value.code == code


def _forge(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    encoded = [json.dumps(header).encode(), json.dumps(payload).encode(), signature]
    return ".".join(part(piece) for piece in encoded)


def _claims(**overrides: Any) -> dict[str, Any]:
    claims = {
        "iss": "roulette",
        "sub": ADDRESS,
        "cid": 1,
        "fam": "fam-1",
        "jti": "jti-1",
        "iat": int(NOW),
        "exp": int(NOW) + 900,
    }
    return {key: value for key, value in (claims | overrides).items() if value is not None}


def _sign_like_us(payload: dict[str, Any], kind: TokenKind = TokenKind.ACCESS) -> str:
    """A token signed with our real access key, to test the checks after the signature."""
    key = _derive_key(ACCESS_SECRET, kind)
    return jwt.encode(payload, key, algorithm="HS256", headers={"typ": kind.media_type})


@pytest.mark.parametrize("kind", list(TokenKind))
def test_an_issued_token_verifies_to_its_claims(issuer: TokenIssuer, kind: TokenKind) -> None:
    token = _issue(issuer, kind, chain_id=137)
    assert issuer.verify(token, kind, now=NOW + 10) == TokenClaims(
        address=ADDRESS,
        chain_id=137,
        family_id="fam-1",
        jti="jti-1",
        kind=kind,
        issued_at=NOW,
        expires_at=NOW + issuer.ttl(kind),
    )


def test_the_default_lifetimes_are_15_minutes_and_7_days(issuer: TokenIssuer) -> None:
    assert issuer.ttl(TokenKind.ACCESS) == 900
    assert issuer.ttl(TokenKind.REFRESH) == 7 * 24 * 3600


def test_a_token_with_uuid_ids_stays_under_400_bytes(issuer: TokenIssuer) -> None:
    for kind in TokenKind:
        token = _issue(issuer, kind, family_id=uuid.uuid4().hex, jti=str(uuid.uuid4()))
        assert len(token.encode()) <= 400


def test_the_header_pins_hs256_and_types_the_token_explicitly(issuer: TokenIssuer) -> None:
    """RFC 8725 §3.11: explicit typing, ``at+jwt`` as in RFC 9068."""
    assert jwt.get_unverified_header(_issue(issuer)) == {"alg": "HS256", "typ": "at+jwt"}
    refresh = _issue(issuer, TokenKind.REFRESH)
    assert jwt.get_unverified_header(refresh) == {"alg": "HS256", "typ": "rt+jwt"}


def test_a_token_is_expired_at_its_exp_by_the_injected_clock(issuer: TokenIssuer) -> None:
    token = _issue(issuer)
    assert issuer.verify(token, TokenKind.ACCESS, now=NOW + 899.9).jti == "jti-1"
    with pytest.raises(Unauthenticated) as caught:
        issuer.verify(token, TokenKind.ACCESS, now=NOW + 900)
    assert caught.value.code == "token_expired"


def test_the_wall_clock_plays_no_part(issuer: TokenIssuer) -> None:
    """A token from 1970 verifies in 1970, and one from 2100 verifies in 2100."""
    for now in (1000.0, 4_102_444_800.0):
        token = _issue(issuer, now=now)
        assert issuer.verify(token, TokenKind.ACCESS, now=now + 1).issued_at == now


def test_an_access_token_is_not_a_refresh_token_nor_the_reverse(issuer: TokenIssuer) -> None:
    _refused(issuer, _issue(issuer, TokenKind.ACCESS), TokenKind.REFRESH)
    _refused(issuer, _issue(issuer, TokenKind.REFRESH), TokenKind.ACCESS)


def test_the_kinds_stay_apart_even_when_both_secrets_are_equal() -> None:
    same = TokenIssuer(access_secret=ACCESS_SECRET, refresh_secret=ACCESS_SECRET)
    _refused(same, _issue(same, TokenKind.ACCESS), TokenKind.REFRESH)
    _refused(same, _issue(same, TokenKind.REFRESH), TokenKind.ACCESS)


def test_a_token_whose_typ_header_lies_about_its_kind_is_refused() -> None:
    """Signed with the access key but typed as a refresh token, or untyped."""
    issuer = TokenIssuer(access_secret=ACCESS_SECRET, refresh_secret=REFRESH_SECRET)
    key = _derive_key(ACCESS_SECRET, TokenKind.ACCESS)
    for typ in ("rt+jwt", "JWT"):
        token = jwt.encode(_claims(), key, algorithm="HS256", headers={"typ": typ})
        _refused(issuer, token, TokenKind.ACCESS)


def test_a_token_from_another_secret_is_refused(issuer: TokenIssuer) -> None:
    other = TokenIssuer(access_secret="another-secret-0123456789", refresh_secret=REFRESH_SECRET)
    _refused(issuer, _issue(other), TokenKind.ACCESS)


def test_a_token_signed_with_the_raw_secret_is_refused(issuer: TokenIssuer) -> None:
    """Our keys are derived per kind, so knowing how pyjwt signs is not enough."""
    token = jwt.encode(
        _claims(), ACCESS_SECRET.ljust(32, "x"), algorithm="HS256", headers={"typ": "at+jwt"}
    )
    _refused(issuer, token, TokenKind.ACCESS)


def test_a_tampered_payload_is_refused(issuer: TokenIssuer) -> None:
    header, _, signature = _issue(issuer).split(".")
    forged = _forge({}, _claims(sub="0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359")).split(".")[1]
    _refused(issuer, f"{header}.{forged}.{signature}", TokenKind.ACCESS)


def test_a_tampered_signature_is_refused(issuer: TokenIssuer) -> None:
    token = _issue(issuer)
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    _refused(issuer, flipped, TokenKind.ACCESS)


def test_alg_none_is_refused(issuer: TokenIssuer) -> None:
    """RFC 8725 §2.1: an unsigned token must never be accepted."""
    for alg in ("none", "None", "NONE"):
        _refused(issuer, _forge({"alg": alg, "typ": "at+jwt"}, _claims()), TokenKind.ACCESS)


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_other_algorithms_are_refused_even_with_our_key(
    issuer: TokenIssuer, algorithm: str
) -> None:
    key = _derive_key(ACCESS_SECRET, TokenKind.ACCESS) * 2
    token = jwt.encode(_claims(), key, algorithm=algorithm, headers={"typ": "at+jwt"})
    _refused(issuer, token, TokenKind.ACCESS)


def test_a_token_from_another_issuer_is_refused(issuer: TokenIssuer) -> None:
    other = TokenIssuer(
        access_secret=ACCESS_SECRET, refresh_secret=REFRESH_SECRET, issuer="someone-else"
    )
    _refused(issuer, _issue(other), TokenKind.ACCESS)
    _refused(issuer, _sign_like_us(_claims(iss="Roulette")), TokenKind.ACCESS)


@pytest.mark.parametrize("claim", ["iss", "sub", "cid", "fam", "jti", "iat", "exp"])
def test_every_claim_is_required(issuer: TokenIssuer, claim: str) -> None:
    _refused(issuer, _sign_like_us(_claims(**{claim: None})), TokenKind.ACCESS)


@pytest.mark.parametrize(
    "overrides",
    [
        {"sub": ADDRESS.lower()},
        {"sub": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"},
        {"sub": "alice"},
        {"cid": "1"},
        {"cid": True},
        {"fam": 7},
        {"jti": 7},
        {"iat": NOW + 0.5},
        {"exp": "never"},
        {"exp": int(NOW) + 900.5},
    ],
)
def test_claims_of_the_wrong_shape_are_refused(
    issuer: TokenIssuer, overrides: dict[str, Any]
) -> None:
    _refused(issuer, _sign_like_us(_claims(**overrides)), TokenKind.ACCESS)


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "a.b", "." * 2, "x" * 5000])
def test_garbage_is_an_invalid_token(issuer: TokenIssuer, token: str) -> None:
    _refused(issuer, token, TokenKind.ACCESS)


def test_a_non_string_token_is_invalid(issuer: TokenIssuer) -> None:
    _refused(issuer, None, TokenKind.ACCESS)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("access", "refresh"), [("too-short", REFRESH_SECRET), (ACCESS_SECRET, "too-short")]
)
def test_a_secret_shorter_than_16_characters_is_a_config_error(access: str, refresh: str) -> None:
    with pytest.raises(ConfigError):
        TokenIssuer(access_secret=access, refresh_secret=refresh)
