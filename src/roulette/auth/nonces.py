"""Sign-in nonces: unguessable one-time values a client puts in its EIP-4361 message."""

from __future__ import annotations

from collections.abc import Callable

from roulette.errors import InvalidState

__all__ = ["NONCE_BYTES", "NONCE_LENGTH", "NONCE_TTL_SECONDS", "new_nonce"]

NONCE_TTL_SECONDS = 300
"""How long an issued nonce may wait to be used (the issue's 5 minutes)."""

NONCE_BYTES = 16
"""128 random bits: EIP-4361 asks for at least 64, and guessing stays hopeless at scale."""

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
NONCE_LENGTH = 22
"""Base62 digits that hold 128 bits (62**22 > 2**128), zero-padded to a fixed length."""


def new_nonce(token_bytes: Callable[[int], bytes]) -> str:
    """A fresh nonce: 22 base62 characters (EIP-4361 wants at least 8 alphanumerics).

    Args:
        token_bytes: a CSPRNG such as :func:`secrets.token_bytes`, injected so the core
            stays deterministic under test.

    Returns:
        The nonce.

    Raises:
        InvalidState: ``token_bytes`` returned the wrong number of bytes.
    """
    raw = token_bytes(NONCE_BYTES)
    if len(raw) != NONCE_BYTES:
        raise InvalidState(f"token_bytes({NONCE_BYTES}) returned {len(raw)} bytes")
    value = int.from_bytes(raw, "big")
    digits = []
    for _ in range(NONCE_LENGTH):
        value, digit = divmod(value, len(_ALPHABET))
        digits.append(_ALPHABET[digit])
    return "".join(reversed(digits))
