"""EIP-191 personal-message hashing and signer recovery."""

from __future__ import annotations

import pytest
from coincurve import PublicKey
from eth_account import Account
from eth_account.messages import defunct_hash_message
from eth_account.signers.local import LocalAccount
from hypothesis import given, settings
from hypothesis import strategies as st

from roulette.auth.address import address_from_public_key
from roulette.auth.signature import SECP256K1_N, personal_message_hash, recover_address
from roulette.errors import Unauthenticated

from .siwe_wallet import sign

MESSAGE = "localhost:3001 wants you to sign in with your Ethereum account:\n…"


def _parts(signature: str) -> tuple[int, int, int]:
    raw = bytes.fromhex(signature[2:])
    return int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big"), raw[64]


def _join(r: int, s: int, v: int) -> str:
    return "0x" + (r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes((v,))).hex()


def _refused(message: str, signature: str) -> Unauthenticated:
    with pytest.raises(Unauthenticated) as caught:
        recover_address(message, signature)
    assert caught.value.code == "invalid_signature"
    return caught.value


@settings(deadline=None)
@given(st.text())
def test_the_personal_message_hash_matches_eth_account(text: str) -> None:
    try:
        encoded = text.encode("utf-8")
    except UnicodeEncodeError:
        return
    assert personal_message_hash(encoded) == bytes(defunct_hash_message(text=text))


def test_the_personal_message_hash_prefixes_the_decimal_byte_length() -> None:
    """EIP-191 counts bytes, not characters: "é" is two."""
    assert personal_message_hash("é".encode()) == bytes(defunct_hash_message(primitive=b"\xc3\xa9"))


def test_a_real_wallets_signature_recovers_its_checksummed_address(wallet: LocalAccount) -> None:
    assert recover_address(MESSAGE, sign(wallet, MESSAGE)) == str(wallet.address)


@settings(max_examples=25, deadline=None)
@given(st.text(max_size=300))
def test_recovery_agrees_with_eth_account_for_any_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return
    account = Account.from_key("0x" + "4c" * 32)
    signature = sign(account, text)
    assert recover_address(text, signature) == account.address


def test_v_may_be_0_or_1_instead_of_27_or_28(wallet: LocalAccount) -> None:
    r, s, v = _parts(sign(wallet, MESSAGE))
    assert v in (27, 28)
    assert recover_address(MESSAGE, _join(r, s, v - 27)) == str(wallet.address)


def test_both_recovery_ids_are_accepted_and_only_the_right_one_is_the_signer(
    wallet: LocalAccount,
) -> None:
    r, s, v = _parts(sign(wallet, MESSAGE))
    flipped = 55 - v  # 27 <-> 28
    assert recover_address(MESSAGE, _join(r, s, flipped)) != str(wallet.address)


@pytest.mark.parametrize("v", [2, 3, 26, 29, 35, 37, 255])
def test_any_other_v_is_refused(wallet: LocalAccount, v: int) -> None:
    r, s, _ = _parts(sign(wallet, MESSAGE))
    _refused(MESSAGE, _join(r, s, v))


def test_a_high_s_signature_is_refused_though_it_is_mathematically_valid(
    wallet: LocalAccount,
) -> None:
    """EIP-2: (r, n − s) with the other recovery id is the malleable twin of (r, s)."""
    r, s, v = _parts(sign(wallet, MESSAGE))
    twin = _join(r, SECP256K1_N - s, 55 - v)
    twin_raw = bytes.fromhex(twin[2:])
    recovered = PublicKey.from_signature_and_message(
        twin_raw[:64] + bytes((twin_raw[64] - 27,)),
        personal_message_hash(MESSAGE.encode()),
        hasher=None,
    )
    assert address_from_public_key(recovered.format(compressed=False)) == str(wallet.address)
    _refused(MESSAGE, twin)


@pytest.mark.parametrize(
    ("r", "s"),
    [(0, 1), (1, 0), (SECP256K1_N, 1), (2**256 - 1, 1), (1, SECP256K1_N // 2 + 1)],
)
def test_r_and_s_out_of_range_are_refused(r: int, s: int) -> None:
    _refused(MESSAGE, _join(r, s, 27))


def test_a_signature_from_which_no_key_recovers_is_refused() -> None:
    """r = 5 is not the x coordinate of any curve point, so libsecp256k1 recovers nothing."""
    _refused(MESSAGE, _join(5, 1, 27))


@pytest.mark.parametrize(
    "signature",
    [
        "",
        "0x",
        "0x" + "ab" * 64,  # 64 bytes: no v
        "0x" + "ab" * 66,
        "ab" * 65,  # no 0x
        "0X" + "ab" * 65,
        "0x" + "zz" * 65,
        "0x" + "ab" * 64 + "1\u0660",  # an Arabic-Indic zero is a digit, but not hex
        "0x" + "ab" * 64 + "1b\n",
    ],
)
def test_malformed_signatures_are_refused(signature: str) -> None:
    _refused(MESSAGE, signature)


def test_a_non_string_signature_is_refused() -> None:
    _refused(MESSAGE, b"\x00" * 65)  # type: ignore[arg-type]


def test_a_message_that_is_not_unicode_text_is_refused(wallet: LocalAccount) -> None:
    _refused("\ud800", sign(wallet, MESSAGE))


def test_a_signature_over_another_message_recovers_someone_else(wallet: LocalAccount) -> None:
    assert recover_address(MESSAGE + "!", sign(wallet, MESSAGE)) != str(wallet.address)
