"""EIP-191 personal-message hashing and secp256k1 signer recovery (coincurve)."""

from __future__ import annotations

from coincurve import PublicKey

from roulette.auth.address import encode_address, keccak256
from roulette.errors import Unauthenticated
from roulette.identity import Address

__all__ = ["personal_message_hash", "recover_address", "recover_address_bytes"]

# Order of the secp256k1 group (SEC 2 §2.4.1).
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
# EIP-2: an s above n/2 is the malleable twin of a valid signature; wallets never make one.
_MAX_S = SECP256K1_N // 2
_HEX = frozenset("0123456789abcdefABCDEF")
_SIGNATURE_HEX_CHARS = 130  # r (32 bytes) || s (32 bytes) || v (1 byte)


def personal_message_hash(message: bytes) -> bytes:
    """The digest a wallet signs for ``personal_sign`` (EIP-191 version ``0x45``).

    Args:
        message: the message bytes, as shown to the user.

    Returns:
        keccak256(``"\\x19Ethereum Signed Message:\\n"`` + decimal length + message).
    """
    prefix = b"\x19Ethereum Signed Message:\n" + str(len(message)).encode("ascii")
    return keccak256(prefix + message)


def recover_address(message: str, signature: str) -> Address:
    """The address whose key made ``signature`` over ``message`` (EIP-191 personal_sign).

    Args:
        message: the signed text; it is hashed as its UTF-8 bytes.
        signature: ``0x`` + 130 hex digits, r || s || v with v in {27, 28} or {0, 1}.

    Returns:
        The signer's checksummed address.

    Raises:
        Unauthenticated: ``invalid_signature`` when the signature is malformed, is
            not canonical (EIP-2 high s, r or s out of range, bad v), or no key recovers.
    """
    return encode_address(recover_address_bytes(message, signature))


def recover_address_bytes(message: str, signature: str) -> bytes:
    """Like :func:`recover_address`, but the raw 20 bytes (no EIP-55 hashing to compare).

    Raises:
        Unauthenticated: ``invalid_signature``, as for :func:`recover_address`.
    """
    sig = _decode(signature)
    r = int.from_bytes(sig[:32], "big")
    s = int.from_bytes(sig[32:64], "big")
    if not 0 < r < SECP256K1_N or not 0 < s <= _MAX_S:
        raise Unauthenticated("signature r or s out of range", code="invalid_signature")
    v = sig[64]
    # Ethereum's v is 27 + recovery id (yellow paper, appendix F); some wallets send 0/1.
    recovery_id = v - 27 if v >= 27 else v
    if recovery_id not in (0, 1):
        raise Unauthenticated("signature v must be 27, 28, 0 or 1", code="invalid_signature")
    try:
        digest = personal_message_hash(message.encode("utf-8"))
        public_key = PublicKey.from_signature_and_message(
            sig[:64] + bytes((recovery_id,)), digest, hasher=None
        )
    except ValueError as exc:  # coincurve failures, and UnicodeEncodeError (lone surrogates)
        raise Unauthenticated(
            "no key recovers from this signature", code="invalid_signature"
        ) from exc
    # An address is the last 20 bytes of keccak256(X || Y) (yellow paper, appendix F).
    return keccak256(public_key.format(compressed=False)[1:])[-20:]


def _decode(signature: str) -> bytes:
    if (
        not isinstance(signature, str)
        or len(signature) != 2 + _SIGNATURE_HEX_CHARS
        or not signature.startswith("0x")
        or not _HEX.issuperset(signature[2:])
    ):
        raise Unauthenticated(
            "a signature is 0x followed by 130 hex digits", code="invalid_signature"
        )
    return bytes.fromhex(signature[2:])
