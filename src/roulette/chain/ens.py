"""ENS names (EIP-137 namehash, EIP-181 reverse records): the pure half of the lookup.

A reverse record is set by the address's owner and may claim any name, so a name is shown only
when the forward lookup of that name resolves back to the same address.
"""

from __future__ import annotations

from roulette.auth.address import keccak256
from roulette.matchmaking.records import Address

__all__ = ["MAX_NAME_LENGTH", "is_displayable", "namehash", "reverse_node"]

MAX_NAME_LENGTH = 255
"""A DNS-style bound on a name we would show (ENS itself has none)."""


def namehash(name: str) -> bytes:
    """EIP-137 ``namehash``: fold keccak256 over the labels from the right, starting at 0x00…

    Args:
        name: a normalised name such as ``"vitalik.eth"`` ("" is the root).

    Returns:
        The 32-byte node.
    """
    node = b"\x00" * 32
    if name:
        for label in reversed(name.split(".")):
            node = keccak256(node + keccak256(label.encode("utf-8")))
    return node


def reverse_node(address: Address) -> bytes:
    """EIP-181: the node of ``<lowercase hex address without 0x>.addr.reverse``."""
    return namehash(f"{address[2:].lower()}.addr.reverse")


def is_displayable(name: str) -> bool:
    """A name we may show: bounded, dotted, lowercase, no whitespace or control characters.

    ENS normalisation (ENSIP-15) maps names to lowercase; anything else would not round-trip
    through the forward lookup either.
    """
    return (
        0 < len(name) <= MAX_NAME_LENGTH
        and "." in name
        and "" not in name.split(".")
        and name == name.lower()
        and name.isprintable()
        and not any(c.isspace() for c in name)
    )
