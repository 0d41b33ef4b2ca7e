"""The ``LB_*`` and ``TRUSTED_PROXIES`` settings: defaults and clear errors."""

from __future__ import annotations

import ipaddress

import pytest

from roulette.config import Config
from roulette.errors import ConfigError


def test_defaults() -> None:
    config = Config.from_env({})
    assert config.trusted_proxies == ()
    assert config.lb.algorithm == "round-robin"
    assert config.lb.stats_port == 8080
    assert config.lb.stats_password is None
    assert not config.lb.sticky


def test_values() -> None:
    config = Config.from_env(
        {
            "TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7",
            "LB_ALGORITHM": "consistent-hash",
            "LB_STICKY_SESSION_ENABLED": "true",
            "LB_STATS_PASSWORD": "long-enough-secret",
            "LB_AGENT_PORT": "9101",
        }
    )
    assert config.trusted_proxies == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("192.0.2.7/32"),
    )
    assert config.lb.algorithm == "consistent-hash"
    assert config.lb.sticky
    assert config.lb.agent_port == 9101


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TRUSTED_PROXIES", "10.0.0.0/33"),
        ("TRUSTED_PROXIES", "not-an-ip"),
        ("LB_ALGORITHM", "random"),
        ("LB_STATS_PASSWORD", "short"),
        ("LB_STATS_PASSWORD", "has a space in it"),
        ("LB_STATS_USER", "ad#min"),
        ("LB_CHECK_INTERVAL_MS", "10"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Config.from_env({name: value})
