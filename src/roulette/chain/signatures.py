"""Contract-wallet signatures (EIP-1271) and their counterfactual wrapper (EIP-6492): pure parts."""

from __future__ import annotations

from eth_abi.abi import encode

from roulette.chain._deployless import DEPLOYLESS_VALIDATOR
from roulette.chain.abi import EIP1271_MAGIC_VALUE, EIP6492_SUFFIX, call_data
from roulette.identity import Address

__all__ = [
    "MAX_SIGNATURE_BYTES",
    "deployless_call",
    "is_6492_wrapped",
    "is_valid_1271_answer",
    "is_valid_6492_answer",
    "is_valid_signature_call",
]

MAX_SIGNATURE_BYTES = 8192
"""A 6492 wrapper carries a factory call; anything longer than this is refused unread."""


def is_6492_wrapped(signature: bytes) -> bool:
    """EIP-6492: a wrapped signature ends with the 32-byte magic suffix 0x6492…6492."""
    return len(signature) > len(EIP6492_SUFFIX) and signature.endswith(EIP6492_SUFFIX)


def is_valid_signature_call(message_hash: bytes, signature: bytes) -> bytes:
    """EIP-1271: the call data of ``isValidSignature(bytes32 hash, bytes signature)``."""
    return call_data("isValidSignature(bytes32,bytes)", message_hash, signature)


def is_valid_1271_answer(answer: bytes | None) -> bool:
    """EIP-1271: valid only when the call returned the magic value (a revert is invalid)."""
    return answer is not None and len(answer) >= 4 and answer[:4] == EIP1271_MAGIC_VALUE


def deployless_call(signer: Address, message_hash: bytes, signature: bytes) -> bytes:
    """EIP-6492 off-chain validation: the validator's creation code and its arguments.

    Sent as an ``eth_call`` without ``to``, the constructor deploys the wallet through the
    wrapper's factory call if it has no code yet, asks it (EIP-1271), falls back to ecrecover
    for an EOA, and returns one byte. Nothing persists: an ``eth_call`` changes no state.
    """
    return DEPLOYLESS_VALIDATOR + encode(
        ["address", "bytes32", "bytes"], [signer, message_hash, signature]
    )


def is_valid_6492_answer(answer: bytes | None) -> bool:
    """The deployless validator returns exactly ``0x01`` for a valid signature."""
    return answer == b"\x01"
