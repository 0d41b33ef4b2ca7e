"""EIP-55 checksummed addresses."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_utils.address import to_checksum_address as reference_checksum
from hypothesis import given, settings
from hypothesis import strategies as st

from roulette.auth.address import (
    address_from_public_key,
    encode_address,
    keccak256,
    to_checksum_address,
)
from roulette.errors import BadRequest

# The test vectors of EIP-55 ("Test Cases"): each is already in checksummed form.
EIP55_VECTORS = [
    "0x52908400098527886E0F7030069857D2E4169EE7",
    "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
    "0xde709f2102306220921060314715629080e2fb77",
    "0x27b1fdb04752bbc536007a920d24acb045561c26",
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
]


def test_keccak256_is_ethereums_keccak_not_nist_sha3() -> None:
    assert keccak256(b"").hex() == (
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    )


@pytest.mark.parametrize("vector", EIP55_VECTORS)
def test_the_eip55_vectors_are_their_own_checksum(vector: str) -> None:
    assert to_checksum_address(vector) == vector


@pytest.mark.parametrize("vector", EIP55_VECTORS)
def test_lowercase_and_uppercase_spellings_are_canonicalised(vector: str) -> None:
    assert to_checksum_address("0x" + vector[2:].lower()) == vector
    assert to_checksum_address("0x" + vector[2:].upper()) == vector


def test_a_mixed_case_address_with_a_wrong_checksum_is_refused() -> None:
    wrong = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"  # last letter's case flipped
    with pytest.raises(BadRequest) as caught:
        to_checksum_address(wrong)
    assert caught.value.code == "invalid_address"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "0x",
        "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",  # no 0x
        "0X5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",  # capital X
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe",  # 39 digits
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAedd",  # 41 digits
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeg",  # not hex
        "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beae\u0661",  # Arabic-Indic digit one
        " 0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
        "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed\n",
    ],
)
def test_anything_but_0x_and_40_hex_digits_is_refused(raw: str) -> None:
    with pytest.raises(BadRequest) as caught:
        to_checksum_address(raw)
    assert caught.value.code == "invalid_address"


def test_a_non_string_is_refused_as_an_invalid_address() -> None:
    with pytest.raises(BadRequest):
        to_checksum_address(42)  # type: ignore[arg-type]


@settings(deadline=None)
@given(st.binary(min_size=20, max_size=20))
def test_checksums_agree_with_eth_account(raw: bytes) -> None:

    assert to_checksum_address("0x" + raw.hex()) == str(reference_checksum("0x" + raw.hex()))


def test_the_address_of_a_public_key_is_the_wallets_address() -> None:
    account = Account.from_key("0x" + "4c" * 32)
    public_key = account._key_obj.public_key.to_bytes()  # 64 bytes X || Y
    assert address_from_public_key(public_key) == account.address
    assert address_from_public_key(b"\x04" + public_key) == account.address


@pytest.mark.parametrize("vector", EIP55_VECTORS)
def test_twenty_raw_bytes_encode_to_their_eip55_text(vector: str) -> None:
    assert encode_address(bytes.fromhex(vector[2:])) == vector
