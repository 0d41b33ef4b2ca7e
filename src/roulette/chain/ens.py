"""ENS names (EIP-137 namehash, EIP-181 reverse records): the pure half of the lookup.

A reverse record is set by the address's owner and may claim any name, so a name is shown only
when the forward lookup of that name resolves back to the same address. And a name is shown to
strangers only when it is already in ENSIP-15 normal form: a look-alike (``vitаlik.eth`` with a
Cyrillic ``а``, an invisible joiner, mixed scripts) fails normalisation or normalises to a
different string, and is not shown at all, rather than shown as something it is not.
"""

from __future__ import annotations

from ens_normalize import DisallowedSequence, ens_normalize

from roulette.auth.address import keccak256
from roulette.identity import Address

__all__ = ["MAX_NAME_LENGTH", "is_displayable", "is_normalized", "namehash", "reverse_node"]

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


def is_normalized(name: str) -> bool:
    """True when ``name`` is its own ENSIP-15 normalisation (the ``ens-normalize`` library).

    ENSIP-15 refuses confusables across scripts, invisible characters, disallowed characters
    and empty labels; a name that only normalises to something else (``Alice.eth``) is not in
    normal form either, since what a user would see is not what resolves.
    """
    try:
        return bool(ens_normalize(name) == name)
    except DisallowedSequence:  # CurableSequence is a subclass
        return False


def is_displayable(name: str) -> bool:
    """A name we may show: bounded, dotted, printable, and in ENSIP-15 normal form."""
    return (
        0 < len(name) <= MAX_NAME_LENGTH
        and "." in name
        and "" not in name.split(".")
        and name.isprintable()
        and not any(c.isspace() for c in name)
        and is_normalized(name)
    )
