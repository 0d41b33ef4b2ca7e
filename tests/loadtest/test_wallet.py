"""Virtual users' wallets sign in exactly as a browser wallet would."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from eth_account import Account

from auth.siwe_wallet import build_message
from roulette.auth import SiweRules, verify_sign_in
from roulette.loadtest.wallet import Wallet, siwe_message

ISSUED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _message(wallet: Wallet) -> str:
    return siwe_message(
        wallet.address,
        domain="127.0.0.1:3001",
        uri="http://127.0.0.1:3001",
        chain_id=1,
        nonce="abcdefghijklmnop1234",
        issued_at=ISSUED,
    )


def test_the_address_is_the_one_eth_account_derives_from_the_same_key() -> None:
    wallet = Wallet.generate(random.Random(7))
    assert wallet.address == Account.from_key(wallet.key).address


def test_a_signed_message_passes_our_verifier() -> None:
    wallet = Wallet.generate(random.Random(1))
    text = _message(wallet)
    rules = SiweRules(domain="127.0.0.1:3001", chain_ids=frozenset({1}))
    verified = verify_sign_in(text, wallet.sign_personal(text), rules, now=ISSUED.timestamp())
    assert verified.address == wallet.address


def test_the_signature_is_the_one_eth_account_makes() -> None:
    """Same key, same message: RFC 6979 signatures are deterministic, so they must be equal."""
    from eth_account.messages import encode_defunct

    wallet = Wallet.generate(random.Random(3))
    text = _message(wallet)
    expected = Account.from_key(wallet.key).sign_message(encode_defunct(text=text)).signature
    assert wallet.sign_personal(text) == "0x" + bytes(expected).hex()


def test_the_message_has_the_layout_of_the_test_wallet_helper() -> None:
    wallet = Wallet.generate(random.Random(5))
    expected = build_message(
        wallet.address,
        domain="127.0.0.1:3001",
        uri="http://127.0.0.1:3001",
        chain_id=1,
        nonce="abcdefghijklmnop1234",
        issued_at=ISSUED,
    )
    assert _message(wallet) == expected


def test_the_same_seed_gives_the_same_wallet_and_another_seed_another() -> None:
    assert Wallet.generate(random.Random(9)) == Wallet.generate(random.Random(9))
    assert Wallet.generate(random.Random(9)) != Wallet.generate(random.Random(10))


def test_a_key_outside_the_curve_order_is_drawn_again() -> None:
    class Draws(random.Random):
        def __init__(self) -> None:
            super().__init__(0)
            self.values = [b"\xff" * 32, b"\x00" * 32, (1).to_bytes(32, "big")]

        def randbytes(self, n: int) -> bytes:
            return self.values.pop(0)

    assert Wallet.generate(Draws()).key == (1).to_bytes(32, "big")
