"""Sign-in nonces."""

from __future__ import annotations

import random
import re
import secrets

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roulette.auth.nonces import NONCE_LENGTH, NONCE_TTL_SECONDS, new_nonce
from roulette.errors import InvalidState


def test_a_nonce_is_22_alphanumerics_from_128_random_bits() -> None:
    nonce = new_nonce(secrets.token_bytes)
    assert re.fullmatch(r"[A-Za-z0-9]{22}", nonce)
    assert NONCE_LENGTH == 22
    assert 62**NONCE_LENGTH > 2**128


@settings(deadline=None)
@given(st.binary(min_size=16, max_size=16))
def test_distinct_random_bytes_give_distinct_nonces_of_fixed_length(raw: bytes) -> None:
    nonce = new_nonce(lambda n: raw)
    assert len(nonce) == NONCE_LENGTH
    assert _base62_value(nonce) == int.from_bytes(raw, "big")


def _base62_value(nonce: str) -> int:
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    value = 0
    for char in nonce:
        value = value * 62 + alphabet.index(char)
    return value


def test_the_smallest_and_largest_random_values_keep_the_length() -> None:
    assert new_nonce(bytes) == "0" * NONCE_LENGTH
    assert len(new_nonce(lambda n: b"\xff" * n)) == NONCE_LENGTH


def test_the_randomness_is_injected_so_nonces_are_reproducible() -> None:
    def seeded(seed: int) -> str:
        rng = random.Random(seed)
        return new_nonce(rng.randbytes)

    assert seeded(1) == seeded(1) != seeded(2)


def test_a_source_returning_the_wrong_number_of_bytes_is_our_bug() -> None:
    with pytest.raises(InvalidState):
        new_nonce(lambda n: b"short")


def test_a_nonce_lives_five_minutes() -> None:
    assert NONCE_TTL_SECONDS == 300
