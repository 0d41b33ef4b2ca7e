"""Safety settings from the environment: TURN, relay-only, moderation and abuse thresholds."""

from __future__ import annotations

import json

import pytest

from roulette.config import Config
from roulette.errors import ConfigError
from roulette.safety import SafetySettings

SECRET = "s" * 32
TOKEN = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


def test_defaults_are_safe_and_turn_is_off() -> None:
    safety = Config.from_env({}).safety
    assert safety == SafetySettings()
    assert not safety.turn_enabled and not safety.ice_relay_only
    assert safety.skips_per_minute == 10 and safety.new_wallet_cooldown_seconds == 0
    assert safety.report_suspend_threshold == 3 and safety.csrf_origin_check


def test_turn_and_relay_only_are_read() -> None:
    safety = Config.from_env(
        {
            "TURN_SECRET": SECRET,
            "TURN_URLS": "turn:turn.example:3478?transport=udp, turns:turn.example:5349",
            "TURN_TTL_SECONDS": "600",
            "ICE_RELAY_ONLY": "true",
        }
    ).safety
    assert safety.turn_enabled and safety.ice_relay_only
    assert safety.turn_urls == ("turn:turn.example:3478?transport=udp", "turns:turn.example:5349")
    assert safety.turn_ttl_seconds == 600


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"TURN_TTL_SECONDS": "3601"}, "TURN_TTL_SECONDS='3601'"),
        ({"TURN_TTL_SECONDS": "0"}, "TURN_TTL_SECONDS='0'"),
        ({"TURN_SECRET": "short"}, "TURN_SECRET"),
        ({"TURN_URLS": "stun:x.example"}, "TURN_URLS='stun:x.example'"),
        ({"TURN_URLS": "turn:x.example"}, "TURN_SECRET and TURN_URLS"),
        ({"TURN_SECRET": SECRET}, "TURN_SECRET and TURN_URLS"),
        ({"ICE_RELAY_ONLY": "true"}, "ICE_RELAY_ONLY='true'"),
        ({"SKIPS_PER_MINUTE": "-1"}, "SKIPS_PER_MINUTE"),
        ({"NEW_WALLET_COOLDOWN_SECONDS": "soon"}, "NEW_WALLET_COOLDOWN_SECONDS"),
        ({"REPORT_WINDOW_SECONDS": "0"}, "REPORT_WINDOW_SECONDS"),
        ({"DEFAULT_QUEUE_GATE": "whales"}, "DEFAULT_QUEUE_GATE='whales'"),
        ({"CSRF_ORIGIN_CHECK": "maybe"}, "CSRF_ORIGIN_CHECK"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as error:
        Config.from_env(env)
    assert named in error.value.message


def test_the_default_queue_gate_must_name_a_gated_queue() -> None:
    queues = [{"name": "whales", "chainId": 1, "standard": "erc20", "token": TOKEN}]
    env = {
        "RPC_URLS": "1=http://127.0.0.1:8545",
        "GATED_QUEUES": json.dumps(queues),
        "DEFAULT_QUEUE_GATE": "whales",
    }
    assert Config.from_env(env).safety.default_queue_gate == "whales"
