"""ChainSettings.from_env: formats, defaults, and errors that name the variable and value."""

from __future__ import annotations

import json

import pytest

from roulette.chain import ChainSettings, GatedQueue, TokenStandard
from roulette.chain.settings import ENS_REGISTRY
from roulette.errors import BadRequest, ConfigError
from roulette.identity import Address

TOKEN = Address("0x5FbDB2315678afecb367f032d93F642f64180aa3")
NFT = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"


def test_defaults_without_any_variable() -> None:
    settings = ChainSettings.from_env({})

    assert settings.rpc_urls == {}
    assert settings.tip_confirmations == 2
    assert settings.tip_window_seconds == 300.0
    assert settings.ens_chain_id == 1
    assert settings.ens_registry == ENS_REGISTRY
    assert settings.chain_ids == ()


def test_rpc_urls_per_chain_with_fallbacks() -> None:
    env = {"RPC_URLS": "8453=https://base.example, 1=https://a.example,1=http://b.example:8545"}

    settings = ChainSettings.from_env(env)

    assert settings.rpc_urls == {
        1: ("https://a.example", "http://b.example:8545"),
        8453: ("https://base.example",),
    }
    assert settings.chain_ids == (1, 8453)


def test_tokens_are_checksummed_and_deduplicated() -> None:
    env = {"RPC_URLS": "1=https://a.example", "TOKENS": f"1={TOKEN.lower()};{NFT};{TOKEN}"}

    assert ChainSettings.from_env(env).tokens == {1: (TOKEN, NFT)}


def test_gated_queues_are_read_from_json() -> None:
    queues = [
        {"name": "whales", "chainId": 1, "standard": "ERC20", "token": TOKEN, "minimum": "10"},
        {"name": "nft", "chainId": 1, "standard": "erc721", "token": NFT},
        {"name": "pass", "chainId": 1, "standard": "erc1155", "token": NFT, "tokenId": 3},
    ]
    env = {"RPC_URLS": "1=https://a.example", "GATED_QUEUES": json.dumps(queues)}

    settings = ChainSettings.from_env(env)

    assert settings.queue("whales") == GatedQueue("whales", 1, TokenStandard.ERC20, TOKEN, None, 10)
    assert settings.queue("nft").minimum == 1
    assert settings.queue("pass").token_id == 3
    with pytest.raises(BadRequest) as caught:
        settings.queue("other")
    assert caught.value.code == "unknown_queue"


def test_numbers_are_read() -> None:
    env = {
        "TIP_CONFIRMATIONS": "12",
        "TIP_WINDOW_SECONDS": "60",
        "BALANCE_CACHE_SECONDS": "5",
        "GATE_CACHE_SECONDS": "0",
        "ENS_CACHE_SECONDS": "60",
        "ENS_CHAIN_ID": "11155111",
        "RPC_TIMEOUT_SECONDS": "2.5",
        "RPC_RETRIES": "0",
        "RPC_BREAKER_THRESHOLD": "3",
        "RPC_BREAKER_RESET_SECONDS": "10",
    }

    settings = ChainSettings.from_env(env)

    assert (settings.tip_confirmations, settings.tip_window_seconds) == (12, 60.0)
    assert (settings.gate_cache_seconds, settings.ens_chain_id) == (0.0, 11155111)
    assert (settings.rpc_retries, settings.breaker_threshold) == (0, 3)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RPC_URLS", "1"),
        ("RPC_URLS", "x=https://a.example"),
        ("RPC_URLS", "1=ftp://a.example"),
        ("RPC_URLS", "0=https://a.example"),
        ("TOKENS", "1=0x1234"),
        ("TOKENS", "1=0x5fbDB2315678afecb367f032d93F642f64180aa3"),
        ("GATED_QUEUES", "{}"),
        ("GATED_QUEUES", "not json"),
        ("GATED_QUEUES", '[{"name": "a", "chainId": 1, "standard": "erc999", "token": "0x0"}]'),
        (
            "GATED_QUEUES",
            f'[{{"name": "a", "chainId": 1, "standard": "erc1155", "token": "{TOKEN}"}}]',
        ),
        (
            "GATED_QUEUES",
            json.dumps(
                [{"name": "a", "chainId": 1, "standard": "erc20", "token": TOKEN, "tokenId": 1}]
            ),
        ),
        (
            "GATED_QUEUES",
            json.dumps(
                [{"name": "a", "chainId": 1, "standard": "erc20", "token": TOKEN, "minimum": 0}]
            ),
        ),
        (
            "GATED_QUEUES",
            f'[{{"name": "a", "chainId": 1, "standard": "erc20", "token": "{TOKEN}"}},'
            f'{{"name": "a", "chainId": 1, "standard": "erc20", "token": "{TOKEN}"}}]',
        ),
        ("TIP_CONFIRMATIONS", "0"),
        ("TIP_WINDOW_SECONDS", "-1"),
        ("ENS_CHAIN_ID", "mainnet"),
        ("ENS_REGISTRY", "0xnope"),
        ("RPC_TIMEOUT_SECONDS", "0"),
    ],
)
def test_a_malformed_variable_names_itself_and_its_value(name: str, value: str) -> None:
    env = {"RPC_URLS": "1=https://a.example", name: value}

    with pytest.raises(ConfigError) as caught:
        ChainSettings.from_env(env)

    assert f"{name}={value!r}" in str(caught.value)


def test_tokens_on_a_chain_without_rpc_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"TOKENS=.*chain 10 has no RPC_URLS"):
        ChainSettings.from_env({"TOKENS": f"10={TOKEN}"})


def test_a_queue_on_a_chain_without_rpc_is_a_config_error() -> None:
    queues = [{"name": "q", "chainId": 10, "standard": "erc20", "token": TOKEN}]

    with pytest.raises(ConfigError, match=r"GATED_QUEUES=.*queue 'q' is on chain 10"):
        ChainSettings.from_env({"GATED_QUEUES": json.dumps(queues)})
