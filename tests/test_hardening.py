"""The issue-10 limits are read from the environment, and a bad value names its variable."""

from __future__ import annotations

import pytest

from roulette.config import Config
from roulette.errors import ConfigError
from roulette.hardening import HardeningSettings


def test_defaults_and_overrides() -> None:
    assert Config.from_env({}).hardening == HardeningSettings()
    read = Config.from_env(
        {
            "WS_HANDSHAKE_WALLET_BURST": "3",
            "WS_HANDSHAKE_WALLET_PER_SECOND": "0.1",
            "WS_HANDSHAKE_IP_BURST": "7",
            "WS_HANDSHAKE_IP_PER_SECOND": "2",
            "HTTP_REQUEST_TIMEOUT_SECONDS": "4.5",
            "BAN_POLL_SECONDS": "0.25",
            "HTTP_MAX_INCOMPLETE_REQUESTS": "64",
        }
    ).hardening
    assert read == HardeningSettings(3, 0.1, 7, 2.0, 4.5, 0.25, 64)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WS_HANDSHAKE_WALLET_BURST", "0"),
        ("WS_HANDSHAKE_IP_PER_SECOND", "-1"),
        ("HTTP_REQUEST_TIMEOUT_SECONDS", "soon"),
        ("BAN_POLL_SECONDS", "0"),
        ("HTTP_MAX_INCOMPLETE_REQUESTS", "0"),
    ],
)
def test_a_bad_value_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Config.from_env({name: value})
