"""Redaction rules, and the settings objects rendering every secret as ``***``."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from roulette.config import Config
from roulette.errors import ConfigError
from roulette.redaction import Redactor, is_secret_name, masked_repr, redact_url, secret_parts

ENV = {
    "JWT_ACCESS_SECRET": "access-secret-AAAAAAAA",
    "JWT_REFRESH_SECRET": "refresh-secret-BBBBBBBB",
    "ADMIN_TOKEN": "admin-token-CCCCCCCCCC",
    "MANAGEMENT_TOKEN": "management-token-DDDDDDDD",
    "DATABASE_URL": "postgresql+asyncpg://role:pg-password-EEEE@db.internal:5432/roulette",
    "REDIS_URL": "redis://:redis-password-FFFF@cache.internal:6379/0",
    "RPC_URLS": "1=https://eth.example/v2/path-key-GGGGGGGG,8453=https://base.example/?apikey=query-key-HHHHHHHH",
    "TURN_SECRET": "turn-secret-IIIIIIII",
    "TURN_URLS": "turn:turn.example:3478",
}
PLANTED = [
    "access-secret-AAAAAAAA",
    "refresh-secret-BBBBBBBB",
    "admin-token-CCCCCCCCCC",
    "management-token-DDDDDDDD",
    "pg-password-EEEE",
    "redis-password-FFFF",
    "path-key-GGGGGGGG",
    "query-key-HHHHHHHH",
    "turn-secret-IIIIIIII",
]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://eth.example/v2/KEY", "https://eth.example/***"),
        ("https://eth.example/?apikey=KEY", "https://eth.example/***"),
        ("https://eth.example", "https://eth.example"),
        ("redis://:pw@cache:6379/0", "redis://***@cache:6379/***"),
        ("postgresql+asyncpg://u:pw@db/x", "postgresql+asyncpg://***@db/***"),
        ("a=https://x/k1,b=https://y/?k=2", "a=https://x/***,b=https://y/***"),
        ("no url here", "no url here"),
    ],
)
def test_a_url_keeps_only_its_scheme_and_host(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("JWT_ACCESS_SECRET", True),
        ("ADMIN_TOKEN", True),
        ("MANAGEMENT_TOKEN", True),
        ("TURN_SECRET", True),
        ("DATABASE_URL", True),
        ("RPC_URLS", True),
        ("REDIS_PASSWORD", True),
        ("TOKENS", False),  # token contract addresses are public
        ("PORT", False),
        ("LOG_LEVEL", False),
    ],
)
def test_secret_bearing_names_are_recognised(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


def test_the_parts_of_a_url_setting_are_searched_for() -> None:
    parts = secret_parts(ENV["RPC_URLS"])
    assert "path-key-GGGGGGGG" in parts and "query-key-HHHHHHHH" in parts
    assert "pg-password-EEEE" in secret_parts(ENV["DATABASE_URL"])


def test_the_redactor_masks_known_values_tokens_signatures_and_queries() -> None:
    redact = Redactor.for_environment(ENV)
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIweGFiYyJ9.c2lnbmF0dXJlLXBhcnQ"
    signature = "0x" + "ab" * 65
    tx_hash = "0x" + "cd" * 32
    line = (
        f"error=connect failed pg-password-EEEE token={jwt} sig={signature} tx={tx_hash} "
        f'"GET /cluster/status?token=xyz HTTP/1.1" Authorization: Bearer abc.def '
        f"resumeToken=QUJDREVGR0hJSktMTU5PUFFS url=https://eth.example/v2/path-key-GGGGGGGG"
    )
    shown = redact(line)
    for secret in (
        "pg-password-EEEE",
        jwt,
        signature,
        "xyz",
        "abc.def",
        "QUJDREVGR0hJSktMTU5PUFFS",
    ):
        assert secret not in shown
    assert "path-key-GGGGGGGG" not in shown
    assert tx_hash in shown, "transaction hashes stay readable"
    assert "/cluster/status?***" in shown


def test_config_renders_every_secret_as_stars() -> None:
    config = Config.from_env(ENV)
    for text in (repr(config), str(config), repr(config.redis), repr(config.chain)):
        leaked = [value for value in PLANTED if value in text]
        assert not leaked, text
    assert "jwt_access_secret='***'" in repr(config)
    assert "admin_token='***'" in repr(config)
    assert "('TURN_SECRET', '***')" in repr(config), "the copied environment is masked too"
    assert "db.internal" in repr(config), "hosts stay visible for debugging"


def test_a_nested_settings_object_is_masked_by_its_field_names() -> None:
    @dataclass(frozen=True)
    class Balancer:  # a settings object without a masked repr of its own
        stats_user: str = "admin"
        stats_password: str = "stats-password-JJJJJJJJ"

    @dataclass(frozen=True)
    class Outer:
        lb: Balancer = field(default_factory=Balancer)
        webhook_secret: str | None = "webhook-secret-KKKKKKKK"
        tokens: tuple[str, ...] = ("0xToken",)  # addresses, not credentials

    shown = masked_repr(Outer())
    assert "JJJJJJJJ" not in shown and "KKKKKKKK" not in shown
    assert "stats_user='admin'" in shown and "tokens=('0xToken',)" in shown


def test_unset_secrets_show_as_none() -> None:
    assert "admin_token=None" in repr(Config.from_env({}))


def test_a_malformed_secret_is_not_echoed() -> None:
    with pytest.raises(ConfigError) as caught:
        Config.from_env({"ADMIN_TOKEN": "too-short"})
    assert "too-short" not in str(caught.value) and "ADMIN_TOKEN" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        Config.from_env({"PORT": "http"})
    assert "'http'" in str(caught.value), "ordinary values are still shown"
