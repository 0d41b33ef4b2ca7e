"""EIP-55 checksummed Ethereum addresses: the one canonical spelling of a user's identity."""

from __future__ import annotations

import re

from Crypto.Hash import keccak

from roulette.errors import BadRequest
from roulette.identity import Address

__all__ = ["address_from_public_key", "encode_address", "keccak256", "to_checksum_address"]

# "0x" + 40 hex digits; re.ASCII keeps the character classes to ASCII hex.
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}", re.ASCII)
# Byte masks for _checksum: 0x20 where a hash nibble is >= 8, and where a hex digit is a letter.
_HIGH_NIBBLE = bytes.maketrans(b"0123456789abcdef", b"\x00" * 8 + b"\x20" * 8)
_HEX_LETTER = bytes.maketrans(b"0123456789abcdef", b"\x00" * 10 + b"\x20" * 6)


def keccak256(data: bytes) -> bytes:
    """The Keccak-256 digest Ethereum uses (not NIST SHA3-256: the padding differs).

    Args:
        data: the bytes to hash.

    Returns:
        The 32-byte digest.
    """
    return bytes(keccak.new(digest_bits=256, data=data).digest())


def to_checksum_address(raw: str) -> Address:
    """Canonicalise an address to its EIP-55 mixed-case form.

    An all-lowercase or all-uppercase address carries no checksum and is simply
    canonicalised. A mixed-case address claims a checksum, so (as EIP-55 asks of
    wallets) it must match exactly: a typo is refused rather than silently "fixed".

    Args:
        raw: ``0x`` followed by 40 hex digits.

    Returns:
        The checksummed address.

    Raises:
        BadRequest: ``invalid_address`` when ``raw`` is not an address or its
            mixed-case checksum is wrong.
    """
    if not isinstance(raw, str) or _ADDRESS.fullmatch(raw) is None:
        raise BadRequest("an address is 0x followed by 40 hex digits", code="invalid_address")
    digits = raw[2:]
    checksummed = _checksum(digits.lower())
    if digits not in (digits.lower(), digits.upper()) and checksummed != raw:
        raise BadRequest("the address's EIP-55 checksum is wrong", code="invalid_address")
    return checksummed


def address_from_public_key(public_key: bytes) -> Address:
    """The address of an uncompressed secp256k1 public key.

    Args:
        public_key: 65 bytes (``0x04`` prefix + X + Y) or the 64 bytes X + Y.

    Returns:
        The checksummed address: the last 20 bytes of keccak-256(X || Y).
    """
    xy = public_key[1:] if len(public_key) == 65 else public_key
    return encode_address(keccak256(xy)[-20:])


def encode_address(raw: bytes) -> Address:
    """The EIP-55 text of a 20-byte address.

    Args:
        raw: the address bytes.

    Returns:
        The checksummed address.
    """
    return _checksum(raw.hex())


def _checksum(lower_hex: str) -> Address:
    # EIP-55: uppercase the i-th hex letter when the i-th nibble of
    # keccak256(lowercase hex as ASCII) is >= 8. Done on whole byte strings rather than
    # per character (about twice as fast): in ASCII, a letter minus 0x20 is its capital, and
    # the mask is 0x20 exactly where a letter must be capitalised, so no subtraction borrows.
    letters = lower_hex.encode("ascii")
    nibbles = keccak256(letters).hex().encode("ascii")[: len(letters)]
    mask = int.from_bytes(nibbles.translate(_HIGH_NIBBLE), "big") & int.from_bytes(
        letters.translate(_HEX_LETTER), "big"
    )
    text = (int.from_bytes(letters, "big") - mask).to_bytes(len(letters), "big")
    return Address("0x" + text.decode("ascii"))
