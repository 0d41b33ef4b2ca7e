"""Shared fixtures for the auth tests: real wallets and our rules."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from roulette.auth import SiweRules

from .siwe_wallet import DEFAULT_DOMAIN


@pytest.fixture
def wallet() -> LocalAccount:
    """A real secp256k1 key, fixed so failures reproduce."""
    account: LocalAccount = Account.from_key("0x" + "4c" * 32)
    return account


@pytest.fixture
def other_wallet() -> LocalAccount:
    account: LocalAccount = Account.from_key("0x" + "5d" * 32)
    return account


@pytest.fixture
def rules() -> SiweRules:
    return SiweRules(domain=DEFAULT_DOMAIN, chain_ids=frozenset({1, 137}))
