"""Shared fixtures for the auth tests: real wallets, a fixed clock, and our rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from roulette.auth import SiweRules

DOMAIN = "localhost:3001"
NOW_DT = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
NOW = NOW_DT.timestamp()


@pytest.fixture
def wallet() -> LocalAccount:
    """A real secp256k1 key, fixed so failures reproduce."""
    return Account.from_key("0x" + "4c" * 32)


@pytest.fixture
def other_wallet() -> LocalAccount:
    return Account.from_key("0x" + "5d" * 32)


@pytest.fixture
def rules() -> SiweRules:
    return SiweRules(domain=DOMAIN, chain_ids=frozenset({1, 137}))
