"""The public API of ``roulette.auth`` is pinned: the HTTP layer is written against it."""

from __future__ import annotations

import roulette.auth


def test_the_package_exports_exactly_its_public_api() -> None:
    assert sorted(roulette.auth.__all__) == [
        "NONCE_TTL_SECONDS",
        "SiweMessage",
        "SiweRules",
        "TokenClaims",
        "TokenIssuer",
        "TokenKind",
        "check_message",
        "new_nonce",
        "parse_message",
        "personal_message_hash",
        "recover_address",
        "to_checksum_address",
        "verify_sign_in",
    ]


def test_every_exported_name_exists() -> None:
    for name in roulette.auth.__all__:
        assert getattr(roulette.auth, name) is not None
