"""Settings from the environment: defaults, the guide's names, and errors naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from roulette.config import Config
from roulette.errors import ConfigError


def test_embedded_defaults() -> None:
    config = Config.from_env({})
    assert (config.port, config.ws_port, config.siwe_domain) == (3001, 3002, "localhost:3001")
    assert config.allowed_origins == ("http://localhost:3001", "https://localhost:3001")
    assert config.sql_url == f"sqlite+aiosqlite:///{Path('data') / 'roulette.db'}"
    assert config.chain_ids == (1,)
    assert not config.redis.enabled and not config.test_wallet_mode


def test_the_guides_variable_names_work() -> None:
    config = Config.from_env(
        {
            "CLUSTER_WORKERS": "4",
            "REDIS_CLUSTER_ENABLED": "true",
            "REDIS_CLUSTER_NODES": "node1:7000,node2:7001,[::1]:7002",
            "LB_ALGORITHM": "least-connections",
            "MANAGEMENT_PORT": "9001",
        }
    )
    assert config.cluster_workers == 4
    assert config.redis.cluster_enabled and config.redis.enabled
    assert config.redis.cluster_nodes == (("node1", 7000), ("node2", 7001), ("::1", 7002))
    assert config.lb_algorithm == "least-connections"


def test_the_lobby_batching_limits() -> None:
    assert Config.from_env({}).redis.lobby_batch_ops == 128
    redis = Config.from_env(
        {
            "REDIS_LOBBY_BATCH_OPS": "32",
            "REDIS_LOBBY_BATCH_PENDING": "500",
            "REDIS_LOBBY_BATCH_IN_FLIGHT": "1",
        }
    ).redis
    assert (redis.lobby_batch_ops, redis.lobby_batch_pending, redis.lobby_batch_in_flight) == (
        32,
        500,
        1,
    )


def test_ws_port_follows_port_and_origins_follow_the_domain() -> None:
    config = Config.from_env({"PORT": "8000", "SIWE_DOMAIN": "chat.example:443"})
    assert config.ws_port == 8001
    assert config.allowed_origins == ("http://chat.example:443", "https://chat.example:443")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "70000"),
        ("PORT", "http"),
        ("CHAIN_IDS", "1,x"),
        ("CHAIN_IDS", ""),
        ("ALLOWED_ORIGINS", "localhost:3001"),
        ("ALLOWED_ORIGINS", "https://a.example/path"),
        ("REDIS_CLUSTER_NODES", "node1"),
        ("DATABASE_URL", "mysql://x"),
        ("LB_ALGORITHM", "random"),
        ("TEST_WALLET_MODE", "maybe"),
        ("SESSION_MAX_SECONDS", "0"),
        ("INTEREST_WAIT_SECONDS", "-1"),
        ("LOG_LEVEL", "verbose"),
        ("REDIS_LOBBY_BATCH_OPS", "0"),
        ("REDIS_LOBBY_BATCH_IN_FLIGHT", "many"),
    ],
)
def test_a_bad_value_names_the_variable_and_the_value(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as error:
        Config.from_env({name: value})
    assert f"{name}={value!r}" in str(error.value)


def test_the_guides_auto_scaling_names() -> None:
    scaling = Config.from_env(
        {
            "AUTO_SCALING_ENABLED": "true",
            "MIN_INSTANCES": "2",
            "MAX_INSTANCES": "8",
            "SCALING_RULES_FILE": "/etc/roulette/scaling.yaml",
            "SCALING_INTERVAL_SECONDS": "5",
            "SCALING_HOOK": "/usr/local/bin/scale-fleet",
        }
    ).scaling
    assert scaling.enabled is True
    assert (scaling.min_instances, scaling.max_instances) == (2, 8)
    assert scaling.rules_file == Path("/etc/roulette/scaling.yaml")
    assert scaling.interval_seconds == 5.0
    assert scaling.hook == "/usr/local/bin/scale-fleet"
    defaults = Config.from_env({}).scaling
    assert (defaults.enabled, defaults.min_instances, defaults.max_instances) == (False, 1, 10)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MIN_INSTANCES": "5", "MAX_INSTANCES": "3"}, "MIN_INSTANCES=5 is above MAX_INSTANCES=3"),
        ({"MIN_INSTANCES": "0"}, "MIN_INSTANCES='0' is invalid"),
        ({"SCALING_INTERVAL_SECONDS": "0"}, "SCALING_INTERVAL_SECONDS='0' is invalid"),
        ({"AUTO_SCALING_ENABLED": "maybe"}, "AUTO_SCALING_ENABLED='maybe' is invalid"),
    ],
)
def test_bad_auto_scaling_settings(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Config.from_env(env)
    assert message in caught.value.message


def test_log_levels_are_case_insensitive() -> None:
    assert Config.from_env({"LOG_LEVEL": "WARNING"}).log_level == "warning"


def test_with_ports_completes_a_siwe_domain_and_origins_naming_port_zero() -> None:
    config = Config.from_env({"PORT": "0", "SIWE_DOMAIN": "127.0.0.1:0"})
    bound = config.with_ports(40123, 40124)
    assert (bound.port, bound.ws_port) == (40123, 40124)
    assert bound.siwe_domain == "127.0.0.1:40123"
    assert bound.allowed_origins == ("http://127.0.0.1:40123", "https://127.0.0.1:40123")
    explicit = Config.from_env({"SIWE_DOMAIN": "chat.example:3001"}).with_ports(1, 2)
    assert explicit.siwe_domain == "chat.example:3001"  # a domain naming a real port stays
